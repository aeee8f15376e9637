// A RaftkvClient's connections to its node, over undici rather than node:http: undici's Pool does
// a kept-alive request for well under half the CPU node:http's Agent takes (a parser in WASM, no
// ClientRequest/IncomingMessage streams per request), and it takes the node's Keep-Alive hint, so
// an idle connection is let go before the node closes it. Two ways, as ClientOptions.keepAlive says:
//   keepAlive true  — one undici Pool for the client's life, at most maxSockets connections,
//                     released by close() (a later call makes a new pool);
//   keepAlive false — a one-off undici Client per request, sending `Connection: close`: the
//                     connection is made for the request and closed after its answer, so a node
//                     killed and restarted under the client is seen as refused at once, and no
//                     stale pooled connection's reset is taken for the node's answer. (A Pool with
//                     `reset: true` would also close each connection, but keeps every Client it
//                     ever needed at once; a one-off Client costs a few microseconds beside a
//                     TCP connect.)
// Both connect through one connector, made once per RaftkvClient: the TLS options (ClientTls) and
// a bound on connecting, the client's timeoutMs — a connection attempt serves whichever request
// is queued, so it cannot take each call's own timeout (a call given a shorter one still gives up
// at its own). The TLS session cache lives in the connector too, so fresh connections resume
// sessions.

import { createRequire } from 'node:module';
import type * as Undici from 'undici';
import { type ClientTls, httpsOptionsOf } from './tls.js';

const require = createRequire(import.meta.url);

/**
 * One of undici's exports, loaded from its own module: undici's index also loads fetch, WebSocket,
 * the cache API..., some 70 ms at start that every CLI command would pay for three classes. Should
 * a later 6.x move the module, the index serves instead (test/client/connections.test.ts checks
 * that the modules are the index's).
 */
function load<T>(module: string, pick: (undici: typeof Undici) => T): T {
  try {
    return require(module) as T;
  } catch {
    return pick(require('undici') as typeof Undici);
  }
}

export const undiciModules = {
  Pool: 'undici/lib/dispatcher/pool.js',
  Client: 'undici/lib/dispatcher/client.js',
  buildConnector: 'undici/lib/core/connect.js',
} as const;

const Pool = load(undiciModules.Pool, (u) => u.Pool);
const OneOff = load(undiciModules.Client, (u) => u.Client);
const buildConnector = load(undiciModules.buildConnector, (u) => u.buildConnector);

export type DispatchHandler = Undici.Dispatcher.DispatchHandlers;
export type DispatchOptions = Undici.Dispatcher.DispatchOptions;

export interface ConnectionOptions {
  readonly keepAlive: boolean;
  /** With keepAlive: at most this many connections (undefined: no limit). */
  readonly maxSockets: number | undefined;
  /** https: what the client trusts and presents. */
  readonly tls: ClientTls | undefined;
  /** Bound on making one connection (TCP, and the TLS handshake of https). */
  readonly connectTimeoutMs: number;
}

const noop = (): void => {};

/**
 * `connect`, its TLS sockets destroyed by their first error. A TLS socket that reads an alert after
 * the handshake (a node refusing the client certificate: "certificate required", "unknown ca")
 * emits the error but stays open; undici then reads the node's close as "other side closed" and
 * reports that instead of the alert. Destroyed with the alert (as node:http destroys a socket on
 * its error), the socket hands undici the alert.
 */
function endOnTlsError(connect: Undici.buildConnector.connector): Undici.buildConnector.connector {
  return (options, callback) =>
    connect(options, (...args) => {
      const socket = args[1];
      socket?.once('error', (error) => {
        if (!socket.destroyed) socket.destroy(error);
      });
      callback(...args);
    });
}

// The calls bound their own time (exchange.ts): undici's header and body timers stay off.
const timers = { headersTimeout: 0, bodyTimeout: 0 } as const;

export class Connections {
  /** `http://host:port` (or https). */
  readonly origin: string;
  /** https with a client certificate: a reset right after the handshake may be its refusal. */
  readonly presentsCert: boolean;
  private readonly connect: Undici.buildConnector.connector;
  private readonly keepAlive: boolean;
  private readonly maxSockets: number | undefined;
  private pool: Undici.Pool | undefined;
  /** A pooled connection was just made: the request written next is its first. */
  private fresh = false;

  constructor(base: URL, options: ConnectionOptions) {
    this.origin = base.origin;
    const secure = base.protocol === 'https:';
    this.presentsCert = secure && options.tls?.cert !== undefined;
    const connect = buildConnector({
      ...(secure && options.tls !== undefined && httpsOptionsOf(options.tls)),
      timeout: options.connectTimeoutMs,
    });
    this.connect = secure ? endOnTlsError(connect) : connect;
    this.keepAlive = options.keepAlive;
    this.maxSockets = options.maxSockets;
  }

  /**
   * Starts `request`; `handler` hears of it (undici's dispatch handler). Returns the one-off
   * connection's Client (keepAlive false), whose destroy() ends the request at any stage.
   */
  dispatch(request: DispatchOptions, handler: DispatchHandler): Undici.Client | undefined {
    if (!this.keepAlive) {
      const oneOff = new OneOff(this.origin, { connect: this.connect, ...timers });
      oneOff.dispatch({ ...request, reset: true }, handler);
      return oneOff;
    }
    this.pool ??= this.newPool();
    this.pool.dispatch(request, handler);
    return undefined;
  }

  /**
   * Whether the request being written now (a handler's onConnect) is the first on its connection,
   * i.e. went through a handshake of its own. Every one-off connection is. A pool says so by its
   * 'connect' event, which undici emits right before, in the same synchronous run, it writes the
   * first request queued for the new connection; so the mark is taken by that request's onConnect
   * (and dropped at the next microtask should none take it). Kept for https with a client
   * certificate only (presentsCert), where it serves tlsNote.
   */
  firstOnConnection(): boolean {
    if (!this.keepAlive) return true;
    const fresh = this.fresh;
    this.fresh = false;
    return fresh;
  }

  private newPool(): Undici.Pool {
    const pool = new Pool(this.origin, {
      connect: this.connect,
      connections: this.maxSockets ?? null,
      ...timers,
    });
    if (this.presentsCert) {
      pool.on('connect', () => {
        this.fresh = true;
        queueMicrotask(() => {
          this.fresh = false;
        });
      });
    }
    return pool;
  }

  /** Closes the pool's connections, ending what is under way on them; a later call makes a new pool. */
  close(): void {
    const pool = this.pool;
    this.pool = undefined;
    pool?.destroy(noop);
  }
}
