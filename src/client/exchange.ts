// One HTTP exchange over node:http(s): the request out, the whole answer in, under a deadline and
// an optional AbortSignal. It notes whether a connection was made, so a failure can say whether
// the request may have reached the node (src/client/errors.ts). node:http rather than fetch: the
// caller decides per client whether connections are reused (an http.Agent it owns) or fresh for
// every request — a fresh one never mistakes the reset of a stale pooled socket for an answer, and
// sees a dead node as refused at once — and a fetch cannot say whether it ever connected.

import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { RaftkvConnectionError } from './errors.js';
import { type ClientTls, httpsOptionsOf } from './tls.js';

export interface Outgoing {
  readonly method: string;
  /** Path and query, sent exactly as given (no normalisation). */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body?: string | Uint8Array;
}

export interface Incoming {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

export interface ExchangeOptions {
  /** The whole exchange, connecting included. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** An agent to reuse connections with, or false for a fresh connection. */
  readonly agent: http.Agent | false;
  /** https: what the client trusts and presents (a fresh connection's; an agent carries the same). */
  readonly tls?: ClientTls;
}

/** A request under way: the node:http request, its URL, and whether a connection was made. */
export interface OpenRequest {
  readonly req: http.ClientRequest;
  readonly url: string;
  /** Whether a connection to the node was made (false: the request certainly never arrived). */
  connected(): boolean;
  /**
   * Set when this request's own TLS handshake presented a client certificate: a reset right after
   * it is how a node refuses a certificate it does not trust (TLS 1.3 sends no alert first).
   */
  tlsNote(): string | undefined;
}

/**
 * Starts `out` to `base` (not yet ended: the caller sends the body and listens). `tls`: the
 * client's, for an https `base` — set on a fresh connection (agent false); an agent has the same.
 */
export function openRequest(
  base: URL,
  out: Outgoing,
  agent: http.Agent | false,
  tls?: ClientTls,
): OpenRequest {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(out.headers))
    headers[name] = typeof value === 'string' ? value : [...value];
  if (out.body !== undefined) headers['content-length'] = String(Buffer.byteLength(out.body));
  const secure = base.protocol === 'https:';
  const req = (secure ? https : http).request({
    ...(secure && agent === false && tls !== undefined && httpsOptionsOf(tls)),
    protocol: base.protocol,
    // URL keeps an IPv6 address in brackets; the socket wants it bare.
    hostname: base.hostname.startsWith('[') ? base.hostname.slice(1, -1) : base.hostname,
    port: base.port,
    method: out.method,
    path: out.path,
    headers,
    agent,
  });
  let connected = false;
  let handshook = false;
  req.on('socket', (socket) => {
    if (!socket.connecting) connected = true;
    else socket.once('connect', () => (connected = true));
    if (secure) socket.once('secureConnect', () => (handshook = true));
  });
  const certPresented = secure && tls?.cert !== undefined;
  return {
    req,
    url: `${base.origin}${out.path}`,
    connected: () => connected,
    tlsNote: () =>
      handshook && certPresented
        ? 'the node closed the connection right after the handshake: it may not trust the client certificate'
        : undefined,
  };
}

/**
 * Sends `out` to `base` (`http://host:port` or https). Resolves with any HTTP answer; rejects with
 * a RaftkvConnectionError when none came, or with the signal's reason when it aborted the call.
 */
export function exchange(base: URL, out: Outgoing, options: ExchangeOptions): Promise<Incoming> {
  const { signal, timeoutMs } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<Incoming>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, answer?: Incoming): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      if (answer !== undefined) resolve(answer);
      else reject(error);
    };
    const { req, url, connected, tlsNote } = openRequest(base, out, options.agent, options.tls);
    const fail = (e: Error | null): void =>
      finish(RaftkvConnectionError.of(out.method, url, connected(), e, timeoutMs, tlsNote()));
    const timer = setTimeout(() => {
      fail(null);
      req.destroy();
    }, timeoutMs);
    const onAbort = (): void => {
      finish(signal?.reason);
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });

    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      // The connection closed before the answer was whole (when no 'error' says so first).
      res.on('close', () => {
        if (!res.complete) fail(Object.assign(new Error('answer cut off'), { code: 'ECONNRESET' }));
      });
      res.on('end', () =>
        finish(null, {
          status: res.statusCode ?? 0,
          headers: res.headers,
          text: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.end(out.body);
  });
}

/** An answer whose head has come and whose body is still to be read (an event stream). */
export interface StreamingAnswer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  /** The body, as it arrives. */
  readonly body: http.IncomingMessage;
  /** Ends the exchange: the connection is closed, the body ends. */
  close(): void;
}

/** An answer whose body is read as it comes (an event stream): see RaftkvClient.openStream. */
export interface StreamAnswer extends StreamingAnswer {
  /** Reads the rest of the body whole (for an error answer). */
  text(): Promise<string>;
}

/**
 * Sends `out` and resolves once the answer's head has come (within `timeoutMs`), leaving its body
 * to the caller — for an answer that does not end by itself. Rejects like exchange().
 */
export function openStreaming(base: URL, out: Outgoing, options: ExchangeOptions): Promise<StreamingAnswer> {
  const { signal, timeoutMs } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<StreamingAnswer>((resolve, reject) => {
    let settled = false;
    const { req, url, connected, tlsNote } = openRequest(base, out, options.agent, options.tls);
    const settle = (): boolean => {
      if (settled) return false;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      return true;
    };
    const fail = (e: Error | null): void => {
      if (settle()) reject(RaftkvConnectionError.of(out.method, url, connected(), e, timeoutMs, tlsNote()));
    };
    const timer = setTimeout(() => {
      fail(null);
      req.destroy();
    }, timeoutMs);
    const onAbort = (): void => {
      if (settle()) reject(signal?.reason);
      req.destroy();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    req.on('error', fail);
    req.on('response', (res) => {
      if (!settle()) {
        req.destroy();
        return;
      }
      // From here on, an error ends the body (its reader sees it); `fail` is a no-op.
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: res,
        close: () => req.destroy(),
      });
    });
    req.end(out.body);
  });
}
