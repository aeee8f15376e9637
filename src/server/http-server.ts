// The client HTTP API (docs/api.md) on node:http — as fast as fastify here, and cheaper per write,
// without a dependency (docs/http-stack.md):
// routing, body limits, validation, error mapping and forwarding writes to the leader.

import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TlsOptions } from 'node:tls';
import { parseHostPort } from '../api/addresses.js';
import {
  BadRequestError,
  BusyError,
  ExpectationFailedError,
  FaultsDisabledError,
  ForwardFailedError,
  HeadersTooLargeError,
  NoSpaceError,
  NotFoundError,
  NotLeaderError,
  RaftkvError,
  RequestTimeoutError,
  ShuttingDownError,
  TimeoutError,
  TooLargeError,
  TooManyConnectionsError,
  UnauthenticatedError,
} from '../api/errors.js';
import { type FaultControl, type FaultsPatch, noFaults } from '../api/faults.js';
import { type HttpMetrics, type RejectionReason, unmatchedRoute } from '../api/metrics.js';
import type { KvService, WatchHandle, WatchSpec } from '../api/service.js';
import type { NodeAction } from '../api/supervisor.js';
import type { AccessControl } from './access.js';
import { sendBackup } from './backup-response.js';
import { errorBody, statusFor } from './status-map.js';
import { UiAssets } from './ui-assets.js';
import {
  findRoute,
  isFaultRoute,
  type LeaseRequest,
  maxBodyBytes,
  parseRequest,
  type RequestHead,
  type Route,
  takesBody,
  truncate,
} from './validate.js';
import { SseWatchStream } from './watch-stream.js';

export interface HttpServerOptions {
  /** Every request finishes within this many milliseconds (504 otherwise). */
  readonly requestTimeoutMs: number;
  /**
   * Client KV requests handled at once (reading the body, waiting on consensus, being forwarded);
   * one more is answered 503 busy at once. This, not the clients, bounds the memory requests hold.
   */
  readonly maxInflight: number;
  /** The node's monotonic clock, in ms: deadlines are on it (a wall-clock step must not move them). */
  readonly now: () => number;
  /** Every answer and refusal is counted here; GET /metrics serves its exposition. */
  readonly metrics: HttpMetrics;
  /**
   * A backup stream whose client reads nothing for this long is cut off, so a stuck client cannot
   * hold the node's copy of the state for ever. Default 60 s.
   */
  readonly backupStallMs?: number;
  /**
   * Users and roles (--auth-file): every route but the open ones needs a token whose user may use
   * it (access.ts). Without it every route is open to anyone who reaches the port.
   */
  readonly access?: AccessControl;
  /** What the dashboard's routes ask of the cluster (GET /ui/state, /ui/nodes/{id}/faults and /process, /ui/exercises); without: 404. */
  readonly dashboard?: DashboardPort;
  /**
   * Connections one client address may hold open at once (peers' included); the next one gets
   * 429 too_many_connections and is closed. 0: no limit. Default 1024.
   */
  readonly maxConnectionsPerClient?: number;
  /**
   * A connection whose client has not read an answer this long after it was written is closed,
   * so a client that never reads cannot hold the connection and the answer's memory for ever.
   * Default 30 s.
   */
  readonly slowReaderMs?: number;
  /** Serve HTTPS instead of HTTP (docs/security.md). */
  readonly tls?: HttpsSettings;
  /**
   * With peer TLS: writes are forwarded to the leader through peer-authenticated tunnels, and
   * tunnels from the other members are served here (src/transport/forward-tunnel.ts).
   */
  readonly forwardTunnel?: ForwardTunnel;
  /**
   * The leader's client address while this node hands the writes it does not lead for to the
   * leader over the peer connection (the service does that), null when it does not: such an
   * answer names the leader in X-Raftkv-Leader, as an answer relayed over HTTP does.
   */
  readonly peerForwardTarget?: () => string | null;
  /**
   * Fault injection (docs/faults.md): /admin/faults, and while the node is paused every request
   * but the faults routes, /debug, /metrics and the probes waits for the resume. Without it, the
   * faults routes answer 403 faults_disabled.
   */
  readonly faults?: FaultControl;
  /** Peer connections arrive as `Upgrade: raftkv-peer` requests on the same port. */
  readonly onPeerUpgrade?: (req: IncomingMessage, socket: import('node:net').Socket, head: Buffer) => void;
}

/** Forwarding through peer-authenticated tunnels, as the server sees it. */
export interface ForwardTunnel {
  /** Pooled tunnels to the leaders forwarded to. */
  readonly agent: http.Agent;
  /** Takes an `Upgrade: raftkv-forward` connection; verified tunnels go to serveWith's function. */
  accept(socket: Duplex, head: Buffer): void;
  serveWith(serve: (inner: Duplex) => void): void;
  /** Closes every inbound tunnel, handshakes under way included. */
  closeInbound(): void;
}

/** The Upgrade token of a forwarding tunnel (src/transport/forward-tunnel.ts). */
const forwardUpgrade = 'raftkv-forward';

/** What the slow-reader sweep knows of a connection. */
interface SlowReadWatch {
  /** Bytes the socket had passed to the kernel at the last sweep. */
  flushed: number;
  /** When a sweep first found bytes waiting and none gone since; null while it moves. */
  stuckSince: number | null;
}

/** The node's HTTPS: what its port serves, and how it reaches the other members' ports. */
export interface HttpsSettings {
  /** Certificate, key; with `requestCert` and `rejectUnauthorized`, the CA client certificates need. */
  readonly server: TlsOptions;
  /** For the node's own requests to other members (forwarded writes): CA, client certificate. */
  readonly client: ConnectionOptions;
}

/** POST /admin/snapshot waits this long for the snapshot (it goes on in the background after). */
const snapshotTimeoutMs = 120_000;

const defaultBackupStallMs = 60_000;
const defaultMaxConnectionsPerClient = 1024;
const defaultSlowReaderMs = 30_000;
/** More header fields than this (node:http would silently drop those past its own 2000) get 431. */
export const maxHeaderFields = 100;

/**
 * How the server treats each route (every route is named, so a new one is classed on purpose):
 * - `admitted`: a client KV request — counted against maxInflight and refused past it (/health
 *   and /debug stay open to operators), and held while the node is paused;
 * - `held`: not counted, but held while the node is paused, as a stopped process would hold it;
 * - `whilePaused`: answered while the node is paused (docs/faults.md) — what an operator or a
 *   harness needs to see it and resume it.
 */
type RouteClass = 'admitted' | 'held' | 'whilePaused';

const routeClasses: Readonly<Record<Route, RouteClass>> = {
  put: 'admitted',
  txn: 'admitted',
  list: 'admitted',
  get: 'admitted',
  delete: 'admitted',
  alarms: 'admitted',
  alarm: 'admitted',
  leaseGrant: 'admitted',
  leaseKeepalive: 'admitted',
  leaseInfo: 'admitted',
  leaseRevoke: 'admitted',
  snapshot: 'held',
  backup: 'held',
  watch: 'held',
  members: 'held',
  memberAdd: 'held',
  memberPromote: 'held',
  memberRemove: 'held',
  leaderMove: 'held',
  faults: 'whilePaused',
  faultsSet: 'whilePaused',
  faultsHeal: 'whilePaused',
  debug: 'whilePaused',
  metrics: 'whilePaused',
  health: 'whilePaused',
  livez: 'whilePaused',
  readyz: 'whilePaused',
  // The dashboard, so that a paused node's page still shows the cluster and can resume it (its
  // fault buttons reach the node's own /admin/faults too).
  ui: 'whilePaused',
  uiAsset: 'whilePaused',
  uiState: 'whilePaused',
  uiFaults: 'whilePaused',
  // Killing or restarting a paused node is a way out of the pause.
  uiProcess: 'whilePaused',
  // An exercise's narration goes on whatever the node serving the page does.
  uiExercises: 'whilePaused',
  uiExercise: 'whilePaused',
};

/** Marks a request already forwarded once, so two nodes with stale views never bounce it. */
const forwardedHeader = 'x-raftkv-forwarded';
/** On an answer relayed from the leader: the leader's client address (docs/api.md). */
const leaderHeader = 'x-raftkv-leader';

export class KvHttpServer {
  readonly server: http.Server;
  /** Serves the requests that arrive through forwarding tunnels (never listens); null without. */
  private readonly tunnelServer: http.Server | null;
  /** Connections to the leader for forwarded writes (replaced when the TLS settings change). */
  private agent: http.Agent;
  /** Agents replaced by setTls, whose busy connections may still finish: destroyed at close. */
  private readonly retiredAgents: http.Agent[] = [];
  private accepting = true;
  /** Responses waiting on a forwarded write: answered at close(), before connections are closed. */
  private readonly forwarding = new Set<ServerResponse>();
  /** Writes relayed to the leader as HTTP requests, since start (GET /debug). */
  private forwardedViaHttp = 0;
  /** KV requests being handled now; see HttpServerOptions.maxInflight. */
  private inflight = 0;
  /** HTTP requests received since start, every route (GET /debug: the dashboard's requests/s). */
  private requests = 0;
  /** KV requests refused for being past maxInflight, since start (GET /debug). */
  private refusedBusy = 0;
  /** Called when `inflight` drops to 0 (drained() waiting). */
  private idleWaiters: (() => void)[] = [];
  /** Open connections by client address; see HttpServerOptions.maxConnectionsPerClient. */
  private readonly connectionsByClient = new Map<string, number>();
  /** Every admitted connection, with what sweepSlowReaders last saw of it. */
  private readonly openSockets = new Map<Duplex & { bytesWritten: number }, SlowReadWatch>();
  /** Connections streaming a backup: bounded by backupStallMs instead. */
  private readonly streamingBackup = new WeakSet<Duplex>();
  /**
   * Connections carrying an open watch: left out of the slow-reader sweep, since the node bounds a
   * watcher's unread bytes itself (it ends one that falls behind; watch-hub.ts). Once the watch
   * has ended, the sweep applies again.
   */
  private readonly streamingWatch = new WeakSet<Duplex>();
  /** The dashboard's files, read when first asked for. */
  private readonly uiAssets = new UiAssets();
  /** The open watches, ended at close(): an event stream never ends by itself. */
  private readonly watches = new Map<SseWatchStream, WatchHandle>();
  private readonly slowReaderSweep: NodeJS.Timeout;

  constructor(
    private readonly service: KvService,
    private readonly options: HttpServerOptions,
  ) {
    this.agent = forwardingAgent(options.tls);
    const slowReaderMs = options.slowReaderMs ?? defaultSlowReaderMs;
    this.slowReaderSweep = setInterval(
      () => this.sweepSlowReaders(),
      Math.min(1000, Math.max(10, slowReaderMs / 4)),
    );
    this.slowReaderSweep.unref();
    const serverOptions = { keepAlive: true, connectionsCheckingInterval: 1000 };
    const handler = (req: IncomingMessage, res: ServerResponse): void => {
      // A connection refused on arrival (admitConnection) is closing: its requests get nothing more.
      if (socketState(req.socket).answered) return;
      const arrived = options.now();
      this.requests++;
      this.track(req.socket, res);
      if (req.rawHeaders.length > 2 * maxHeaderFields) {
        options.metrics.malformed(431);
        this.failBeforeBody(
          req,
          res,
          new HeadersTooLargeError(`the request has more than ${maxHeaderFields} header fields`),
        );
        return;
      }
      const target = req.url ?? '/';
      const path = pathOf(target);
      const route = findRoute(req.method ?? 'GET', path);
      const kv = route !== null && routeClasses[route] === 'admitted';
      if (kv && this.inflight >= options.maxInflight) {
        this.refusedBusy++;
        options.metrics.rejected('max_inflight');
        this.countWhenAnswered(res, route, arrived);
        this.failBeforeBody(
          req,
          res,
          new BusyError(`the node is handling ${this.inflight} requests, its limit; retry shortly`),
        );
        return;
      }
      if (kv) this.inflight++;
      this.handle(req, res, route, path, path.length === target.length ? '' : target.slice(path.length + 1))
        .catch((err: unknown) => {
          this.countRejection(err);
          this.fail(res, err);
        })
        .finally(() => {
          options.metrics.answered(route ?? unmatchedRoute, res.statusCode, (options.now() - arrived) / 1000);
          if (!kv) return;
          this.inflight--;
          if (this.inflight === 0) for (const w of this.idleWaiters.splice(0)) w();
        });
    };
    this.server =
      options.tls === undefined
        ? http.createServer(serverOptions, handler)
        : https.createServer({ ...serverOptions, ...options.tls.server }, handler);
    // With TLS, a refusal must be written inside the session for the client to read it.
    this.configure(this.server, options.tls === undefined ? 'connection' : 'secureConnection');
    const tunnel = options.forwardTunnel;
    if (tunnel === undefined) {
      this.tunnelServer = null;
    } else {
      const inner = http.createServer(serverOptions, handler);
      this.configure(inner, 'connection');
      inner.on('upgrade', (req: IncomingMessage, socket: Duplex) => this.refuseUpgrade(req, socket));
      tunnel.serveWith((socket) => inner.emit('connection', socket));
      this.tunnelServer = inner;
    }
    const onUpgrade = options.onPeerUpgrade;
    this.server.on('upgrade', (req: IncomingMessage, socket: import('node:net').Socket, head: Buffer) => {
      const protocol = (req.headers.upgrade ?? '').toLowerCase();
      if (protocol === 'raftkv-peer' && onUpgrade !== undefined) {
        onUpgrade(req, socket, head);
        return;
      }
      if (protocol === forwardUpgrade && tunnel !== undefined) {
        tunnel.accept(socket, head);
        return;
      }
      this.refuseUpgrade(req, socket);
    });
  }

  /** An h2c or WebSocket upgrade (curl --http2 on http://): say so, rather than drop it. */
  private refuseUpgrade(req: IncomingMessage, socket: Duplex): void {
    this.options.metrics.malformed(400);
    const protocol = (req.headers.upgrade ?? '').toLowerCase();
    this.refuseConnection(socket, new BadRequestError(`unsupported Upgrade: ${truncate(protocol)}`));
  }

  /** What the port's server and the tunnels' server share: bounds, timeouts, error answers. */
  private configure(server: http.Server, admitted: 'connection' | 'secureConnection'): void {
    // A client that sends part of a request and then closes its sending side (a FIN) can still
    // read: keep the socket open so it gets its 400 (readBody), instead of node:http dropping the
    // request unanswered and leaving the socket to the request timeout.
    (server as http.Server & { httpAllowHalfOpen: boolean }).httpAllowHalfOpen = true;
    // One more than the limit, so that a request past it can be told from one at it.
    server.maxHeadersCount = maxHeaderFields + 1;
    server.on(admitted, (socket: import('node:net').Socket) => this.admitConnection(socket));
    server.keepAliveTimeout = 30_000;
    // A request must arrive whole within the request timeout (408 and the connection closed
    // otherwise), so a client trickling its body cannot hold an admission slot for minutes.
    // Node checks these every connectionsCheckingInterval, hence the short interval.
    server.requestTimeout = this.options.requestTimeoutMs;
    server.headersTimeout = Math.min(60_000, this.options.requestTimeoutMs);
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      // node:http reports the same parse error again for every further chunk; the first report
      // is being (or has been) answered.
      const state = socketState(socket);
      if (state.answered || state.deferred !== null) return;
      if (err.code === 'ECONNRESET' || !socket.writable) {
        socket.destroy();
        return;
      }
      const error = clientErrorOf(err);
      this.options.metrics.malformed(statusFor(error));
      // A request that did not arrive in time is the one still being read: answer it now.
      if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') answerRawAndClose(socket, error);
      else this.refuseConnection(socket, error);
    });
    // Without these listeners node:http answers an unknown Expect with a bare 417 and drops a
    // CONNECT's socket unanswered.
    server.on('checkExpectation', (req: IncomingMessage, res: ServerResponse) => {
      this.track(req.socket, res);
      this.countWhenAnswered(res, findRoute(req.method ?? 'GET', pathOf(req.url ?? '/')), this.options.now());
      this.failBeforeBody(
        req,
        res,
        new ExpectationFailedError(`unsupported Expect: ${truncate(header(req, 'expect') ?? '')}`),
      );
    });
    server.on('connect', (req: IncomingMessage, socket: Duplex) => {
      this.options.metrics.malformed(404);
      this.refuseConnection(socket, new NotFoundError(`no route for CONNECT ${truncate(req.url ?? '')}`));
    });
  }

  /**
   * New certificates (SIGHUP): connections made from now on use them; open ones keep their
   * session, so requests in flight are unharmed.
   */
  setTls(settings: HttpsSettings): void {
    if (this.options.tls === undefined) throw new Error('setTls: the server was started without TLS');
    (this.server as https.Server).setSecureContext(settings.server);
    const old = this.agent;
    this.retiredAgents.push(old);
    this.agent = forwardingAgent(settings);
    // Idle pooled connections hold the old certificates; busy ones finish their request first and
    // then idle out (the other end closes them after its keep-alive timeout).
    for (const sockets of Object.values(old.freeSockets))
      for (const socket of sockets ?? []) socket.destroy();
  }

  /**
   * Counts the connection under its client's address; past the limit, answers 429 at once (the
   * client reads it as the answer to the request it is sending) and closes it.
   */
  private admitConnection(socket: import('node:net').Socket): void {
    const limit = this.options.maxConnectionsPerClient ?? defaultMaxConnectionsPerClient;
    const client = socket.remoteAddress ?? 'unknown';
    const open = this.connectionsByClient.get(client) ?? 0;
    if (limit > 0 && open >= limit) {
      this.options.metrics.rejected('connections_per_client');
      answerRawAndClose(
        socket,
        new TooManyConnectionsError(`${client} already holds ${open} connections, the limit per client`),
      );
      return;
    }
    this.connectionsByClient.set(client, open + 1);
    this.openSockets.set(socket, { flushed: 0, stuckSince: null });
    socket.once('close', () => {
      this.openSockets.delete(socket);
      const left = (this.connectionsByClient.get(client) ?? 1) - 1;
      if (left === 0) this.connectionsByClient.delete(client);
      else this.connectionsByClient.set(client, left);
    });
  }

  /**
   * Closes the connections whose client has read nothing of an answer for the slow-reader
   * timeout: bytes wait in the socket's buffer and none has left since. Checked by a sweep over
   * the open connections a few times per timeout, so an answer costs nothing for it; a backup
   * stream has its own, longer stall bound (backup-response.ts) and is left to it.
   */
  private sweepSlowReaders(): void {
    const now = this.options.now();
    const limitMs = this.options.slowReaderMs ?? defaultSlowReaderMs;
    for (const [socket, watch] of this.openSockets) {
      const waiting = socket.writableLength;
      const flushed = socket.bytesWritten - waiting;
      const exempt = this.streamingBackup.has(socket) || this.streamingWatch.has(socket);
      if (waiting === 0 || flushed !== watch.flushed || exempt) {
        watch.flushed = flushed;
        watch.stuckSince = null;
      } else if (watch.stuckSince === null) {
        watch.stuckSince = now;
      } else if (now - watch.stuckSince >= limitMs) {
        this.openSockets.delete(socket);
        this.options.metrics.rejected('slow_reader');
        socket.destroy();
      }
    }
  }

  /** For an answer given outside handle(): counted once the response is done with. */
  private countWhenAnswered(res: ServerResponse, route: Route | null, arrived: number): void {
    res.once('close', () =>
      this.options.metrics.answered(
        route ?? unmatchedRoute,
        res.statusCode,
        (this.options.now() - arrived) / 1000,
      ),
    );
  }

  /** A refusal to protect the node (not a client's mistake) is counted by its reason. */
  private countRejection(err: unknown): void {
    const reason = rejectionOf(err);
    if (reason !== null) this.options.metrics.rejected(reason);
  }

  /** Counts the answers a socket is owed: a raw answer must wait for them (pipelining). */
  private track(socket: Duplex, res: ServerResponse): void {
    const state = socketState(socket);
    state.owed++;
    res.once('close', () => {
      state.owed--;
      const error = state.deferred;
      if (state.owed === 0 && error !== null) {
        state.deferred = null;
        answerRawAndClose(socket, error);
      }
    });
  }

  /**
   * Whether an answer may go before the request's body has been read: on a connection that stays
   * open node:http discards the rest afterwards; one that closes after the answer would reset the
   * client's upload before the client reads the answer.
   */
  private answersEarly(res: ServerResponse): boolean {
    return res.shouldKeepAlive && this.accepting;
  }

  /**
   * Answers `error` on a socket node:http has let go of — after the answers it still owes for
   * requests pipelined before the bad one, which would otherwise be replaced by this one.
   */
  private refuseConnection(socket: Duplex, error: RaftkvError): void {
    const state = socketState(socket);
    if (state.owed === 0) {
      answerRawAndClose(socket, error);
      return;
    }
    socket.on('error', () => {});
    state.deferred = error;
  }

  /** Answers `error` without looking at the body — after reading it if the connection closes. */
  private failBeforeBody(req: IncomingMessage, res: ServerResponse, error: RaftkvError): void {
    if (this.answersEarly(res)) {
      this.fail(res, error);
      return;
    }
    void readBody(req, Number.POSITIVE_INFINITY, 'discard', false)
      .catch(() => {})
      .then(() => this.fail(res, error));
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  /** Closes every connection, tunnels from other members included (every request answered by now). */
  closeAllConnections(): void {
    this.server.closeAllConnections();
    this.tunnelServer?.closeAllConnections();
    this.options.forwardTunnel?.closeInbound();
  }

  /** Stops accepting requests; in-flight ones finish or fail on their own deadlines. */
  async close(): Promise<void> {
    this.accepting = false;
    // The node closes every client connection soon after this; a write waiting on the leader's
    // answer gets its own answer now instead of a reset connection.
    for (const res of this.forwarding) {
      this.fail(
        res,
        new ShuttingDownError('the node is shutting down; the forwarded write may still commit'),
      );
    }
    this.forwarding.clear();
    // Open watches end now, so their clients resume on another node without waiting.
    for (const [stream, handle] of this.watches) {
      handle.close();
      stream.end({ kind: 'closed' });
    }
    this.watches.clear();
    clearInterval(this.slowReaderSweep);
    this.agent.destroy();
    for (const agent of this.retiredAgents.splice(0)) agent.destroy();
    this.options.forwardTunnel?.agent.destroy();
    this.tunnelServer?.closeIdleConnections();
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
    });
  }

  /**
   * Every request is read whole before it is answered — a body sent to a route that takes none
   * is read and discarded — so the answer never races the client's upload into a reset. Then
   * its route's parser checks everything it carries (validate.ts), and only then does anything
   * reach the node.
   */
  private async handle(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route | null,
    path: string,
    query: string,
  ): Promise<void> {
    if (!this.accepting) {
      res.setHeader('connection', 'close');
    }
    const head: RequestHead = {
      method: req.method ?? 'GET',
      path,
      query: new URLSearchParams(query),
      // headersDistinct builds an array per header: only the write routes need it.
      header: (name) => req.headersDistinct[name],
    };
    const deadline = this.options.now() + this.options.requestTimeoutMs;
    const early = this.answersEarly(res);
    if (route === null) {
      await readBody(req, maxBodyBytes, 'discard', early);
      throw new NotFoundError(`no route for ${head.method} ${truncate(path)}`);
    }
    const body = await readBody(req, maxBodyBytes, takesBody(route) ? 'keep' : 'discard', early);
    // Who is asking is settled before anything else about the request, and the keys it names are
    // checked before the node looks any of them up.
    const access = this.options.access;
    const user = access === undefined ? null : access.admit(route, header(req, 'authorization'));
    // The faults routes are served only by a node started with --enable-faults: past this check,
    // `faults` is there for them.
    const faults = this.options.faults;
    if (isFaultRoute(route) && faults?.enabled !== true) {
      throw new FaultsDisabledError(
        'fault injection is off on this node: start it with --enable-faults (docs/faults.md)',
      );
    }
    const r = parseRequest(route, head, body);
    if (user !== null) access?.checkKeys(user, r);
    // A paused node (fault injection) takes the request in and answers it once resumed, as a
    // stopped process's socket would; the request's deadline still bounds the wait, and a node
    // stopping answers it shutting_down. A node that is not paused skips the wait (no await on
    // every request).
    if (faults?.current().paused === true && routeClasses[route] !== 'whilePaused') {
      await faults.untilRunning(deadline);
    }
    switch (r.route) {
      case 'put':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.put(r.put, deadline)),
        );
        return;
      case 'txn':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.txn(r.txn, deadline)),
        );
        return;
      case 'delete':
        await this.orForward(req, body, res, async () => {
          const out = await this.service.del(r.del, deadline);
          this.send(res, 200, { key: out.key, deleted: out.deleted, index: out.index });
        });
        return;
      case 'get': {
        const out = await this.service.get(r.key, r.read, deadline);
        this.send(res, out.value === null ? 404 : 200, out);
        return;
      }
      case 'list': {
        const out = await this.service.list(r.query, r.read, deadline);
        this.send(res, 200, { items: out.items, more: out.more, index: out.index });
        return;
      }
      case 'debug':
        this.send(res, 200, this.debugBody(r.logTail));
        return;
      case 'faults':
        this.send(res, 200, faults!.current());
        return;
      case 'faultsSet':
        this.send(res, 200, faults!.set(r.faults));
        return;
      case 'faultsHeal':
        this.send(res, 200, faults!.heal());
        return;
      case 'ui':
        await this.sendAsset(req, res, 'index.html');
        return;
      case 'uiAsset':
        await this.sendAsset(req, res, r.name);
        return;
      case 'uiState':
        this.send(
          res,
          200,
          await this.dashboard().state(header(req, 'authorization'), (logTail) => this.debugBody(logTail)),
        );
        return;
      case 'uiFaults': {
        const a = await this.dashboard().faults(r.id, r.faults, header(req, 'authorization'));
        this.send(res, a.status, a.body);
        return;
      }
      case 'uiProcess': {
        const a = await this.dashboard().process(r.id, r.action);
        this.send(res, a.status, a.body);
        return;
      }
      case 'uiExercises': {
        const a = await this.dashboard().startExercise(r.exercise, header(req, 'authorization'));
        this.send(res, a.status, a.body);
        return;
      }
      case 'uiExercise': {
        const a = await this.dashboard().exercise(r.run);
        this.send(res, a.status, a.body);
        return;
      }
      case 'snapshot': {
        // Snapshotting can take seconds for a large store: its own deadline, not a KV request's.
        const out = await this.service.snapshot(this.options.now() + snapshotTimeoutMs);
        this.send(res, 200, { nodeId: this.service.nodeId, ...out });
        return;
      }
      case 'backup': {
        // Served here, leader or not: the read point is confirmed through the leader if need be.
        const stream = await this.service.backup(deadline);
        this.streamingBackup.add(req.socket);
        try {
          await sendBackup(res, stream, this.options.backupStallMs ?? defaultBackupStallMs);
        } finally {
          this.streamingBackup.delete(req.socket);
        }
        return;
      }
      case 'watch':
        this.openWatch(req, res, r.watch);
        return;
      case 'alarms':
        this.send(res, 200, this.service.space());
        return;
      case 'alarm':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.alarm(r.alarm, deadline)),
        );
        return;
      case 'members':
        this.send(res, 200, await this.service.members(r.consistency, deadline));
        return;
      case 'memberAdd':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.addMember(r.member, deadline)),
        );
        return;
      case 'memberPromote':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.promoteMember(r.id, deadline)),
        );
        return;
      case 'memberRemove':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.removeMember(r.id, deadline)),
        );
        return;
      case 'leaderMove':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await this.service.moveLeader(r.to, deadline)),
        );
        return;
      case 'leaseGrant':
      case 'leaseKeepalive':
      case 'leaseRevoke':
      case 'leaseInfo':
        await this.handleLease(req, body, res, r, deadline);
        return;
      case 'health': {
        const h = this.service.health();
        this.send(res, h.ok ? 200 : 503, { ok: h.ok, reason: h.reason, nodeId: this.service.nodeId });
        return;
      }
      case 'livez':
        // The process serves HTTP: nothing else, so a probe never restarts a node for a cluster
        // problem (no leader, a full disk) that a restart cannot fix.
        this.send(res, 200, { ok: true, nodeId: this.service.nodeId });
        return;
      case 'metrics': {
        const { contentType, body } = await this.options.metrics.exposition();
        this.sendText(res, 200, contentType, body);
        return;
      }
      case 'readyz': {
        // Ready to serve: a leader known and everything committed applied. A no-space alarm does
        // not make a node unready — it still serves reads and deletes — but the answer says so.
        const h = this.service.health();
        const alarms = this.service.space().alarms.map((a) => a.node);
        // A paused node (fault injection) serves no client request until it resumes.
        const paused = faults?.current().paused === true;
        const ok = h.ok && !paused;
        const base = paused ? 'paused by fault injection (DELETE /admin/faults resumes it)' : h.reason;
        const reason =
          alarms.length === 0
            ? base
            : `${base}; no-space alarm raised by ${alarms.join(', ')}: writes that grow the state are refused`;
        this.send(res, ok ? 200 : 503, { ok, reason, nodeId: this.service.nodeId, alarms });
        return;
      }
    }
  }

  /**
   * GET /watch: served here, leader or not, from this node's applied state. The request is
   * answered (and counted) once the stream is open; the stream then runs outside the request's
   * deadline and the admission count until the client leaves or the node ends it.
   */
  private openWatch(req: IncomingMessage, res: ServerResponse, spec: WatchSpec): void {
    if (!this.accepting) throw new ShuttingDownError('the node is shutting down');
    // Gone while its request was read: no 'close' would ever come to remove its watcher.
    if (res.destroyed) return;
    const socket = req.socket;
    let handle: WatchHandle | null = null;
    const stream = new SseWatchStream(res, () => {
      handle?.close();
      this.watches.delete(stream);
      this.streamingWatch.delete(socket);
    });
    // Throws before writing anything (the node stopping): the error is answered as usual.
    handle = this.service.watch(spec, stream);
    // The 200 goes now, even when there is nothing to send yet.
    stream.sendHead();
    if (stream.finished) return;
    this.watches.set(stream, handle);
    this.streamingWatch.add(socket);
  }

  /** The lease routes: writes through the leader like puts; GET read like GET /kv/{key}. */
  private async handleLease(
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
    r: LeaseRequest,
    deadline: number,
  ): Promise<void> {
    const service = this.service;
    switch (r.route) {
      case 'leaseGrant':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await service.leaseGrant(r.grant, deadline)),
        );
        return;
      case 'leaseKeepalive':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await service.leaseKeepalive(r.id, deadline)),
        );
        return;
      case 'leaseRevoke':
        await this.orForward(req, body, res, async () =>
          this.send(res, 200, await service.leaseRevoke(r.id, deadline)),
        );
        return;
      case 'leaseInfo':
        this.send(res, 200, await service.leaseInfo(r.id, r.read, deadline));
        return;
    }
  }

  /** Runs a write locally, or forwards it (once) to the leader when this node does not lead. */
  private async orForward(
    req: IncomingMessage,
    body: Buffer,
    res: ServerResponse,
    local: () => Promise<void>,
  ): Promise<void> {
    // Handed to the leader over the peer connection, the answer is the leader's too: say where it is.
    const viaPeer = this.options.peerForwardTarget?.() ?? null;
    if (viaPeer !== null) res.setHeader(leaderHeader, viaPeer);
    try {
      await local();
    } catch (err) {
      if (!(err instanceof NotLeaderError) || err.leader === null || header(req, forwardedHeader)) throw err;
      // Shutting down: no new forwards (the write was not proposed here, so not_leader is definite).
      if (!this.accepting) throw err;
      // Fault injection cut the link to the leader: the write fails as a connection the network
      // refused would (it was not sent, so the refusal is definite).
      if (this.options.faults?.leaderCutOff() === true) {
        throw new NotLeaderError(
          null,
          `the leader (${err.leader}) is cut off from this node by fault injection; the write was not sent`,
        );
      }
      this.forwarding.add(res);
      this.forwardedViaHttp++;
      try {
        await this.forward(req, body, res, err.leader);
      } finally {
        this.forwarding.delete(res);
      }
    }
  }

  private forward(req: IncomingMessage, body: Buffer, res: ServerResponse, leader: string): Promise<void> {
    // `[v6]:port` too: a bracketed host is not a host name.
    const at = parseHostPort(leader);
    if (at === null) return Promise.reject(new NotLeaderError(leader));
    const { host, port } = at;
    const headers: http.OutgoingHttpHeaders = {
      'content-type': 'application/json',
      'content-length': body.length,
      [forwardedHeader]: '1',
    };
    const idemKey = header(req, 'idempotency-key');
    if (idemKey !== undefined) headers['idempotency-key'] = idemKey;
    // The caller's own credentials: the leader checks them again, so a write is never done with
    // more rights than its caller has, whichever node it arrived at.
    const authorization = header(req, 'authorization');
    if (authorization !== undefined) headers.authorization = authorization;
    return new Promise((resolve, reject) => {
      const tunnel = this.options.forwardTunnel;
      // Through a tunnel it is plain HTTP inside the tunnel's own TLS, whatever the port serves.
      const out = (tunnel !== undefined || this.options.tls === undefined ? http : https).request(
        {
          host,
          port,
          method: req.method,
          path: req.url,
          headers,
          agent: tunnel?.agent ?? this.agent,
          timeout: this.options.requestTimeoutMs,
        },
        (upstream) => {
          const chunks: Buffer[] = [];
          upstream.on('data', (c: Buffer) => chunks.push(c));
          upstream.on('end', () => {
            const payload = Buffer.concat(chunks);
            if (res.headersSent) {
              resolve();
              return;
            }
            // Names who answered, so a client can send its next writes there (one hop fewer).
            const headers: http.OutgoingHttpHeaders = {
              'content-type': 'application/json',
              'content-length': payload.length,
              [leaderHeader]: leader,
            };
            const retryAfter = upstream.headers['retry-after'];
            if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
            res.writeHead(upstream.statusCode ?? 502, headers);
            res.end(payload);
            resolve();
          });
          upstream.on('error', (e) =>
            reject(new ForwardFailedError(`forwarding to leader ${leader} failed: ${e.message}`)),
          );
        },
      );
      out.on('timeout', () => {
        out.destroy();
        reject(new TimeoutError(`leader ${leader} did not answer in time; the write may still commit`));
      });
      out.on('error', (e: NodeJS.ErrnoException) => {
        // Refused before sending: the write certainly did not reach the leader.
        if (e.code === 'ECONNREFUSED') reject(new NotLeaderError(null));
        else reject(new ForwardFailedError(`forwarding to leader ${leader} failed: ${e.message}`));
      });
      out.end(body);
    });
  }

  /**
   * Resolves once no KV request is being handled, or after `timeoutMs`. At a graceful stop, a
   * request still arriving (its body on the way) is answered — 503 shutting_down once it reaches
   * the stopped driver — instead of being cut off with its connection.
   */
  drained(timeoutMs: number): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.idleWaiters.push(done);
    });
  }

  /** Admission counters for GET /debug. */
  stats(): { requests: number; inflight: number; maxInflight: number; refusedBusy: number } {
    return {
      requests: this.requests,
      inflight: this.inflight,
      maxInflight: this.options.maxInflight,
      refusedBusy: this.refusedBusy,
    };
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    this.sendText(res, status, 'application/json', JSON.stringify(body));
  }

  private sendText(res: ServerResponse, status: number, contentType: string, payload: string): void {
    if (res.headersSent) return;
    const headers: http.OutgoingHttpHeaders = {
      'content-type': contentType,
      'content-length': Buffer.byteLength(payload),
    };
    // Every 503 is "try again soon" (busy, no leader yet, shutting down): say when.
    if (status === 503) headers['retry-after'] = '1';
    res.writeHead(status, headers);
    res.end(payload);
  }

  /** GET /debug's answer: the node's status, this server's admission counters, the faults. */
  private debugBody(logTail: number): Record<string, unknown> {
    const node = this.service.debug({ logTail });
    return {
      ...node,
      // The service counts what went over the peer connection; HTTP forwards are counted here.
      forwarding: { ...(node.forwarding as object | undefined), viaHttp: this.forwardedViaHttp },
      admission: this.stats(),
      faults: this.options.faults?.report() ?? { enabled: false, ...noFaults },
    };
  }

  private dashboard(): DashboardPort {
    const d = this.options.dashboard;
    if (d === undefined) throw new NotFoundError('this node serves no dashboard');
    return d;
  }

  /** A dashboard file (ui-assets.ts): 304 when the browser has it already. */
  private async sendAsset(req: IncomingMessage, res: ServerResponse, name: string): Promise<void> {
    const asset = await this.uiAssets.get(name);
    if (asset === null) throw new NotFoundError(`the dashboard has no file ${truncate(name)}`);
    if (res.headersSent) return;
    // no-cache: the browser keeps the file, and asks whether it is still current (an upgrade may
    // have changed it); the answer is then an empty 304.
    const headers: http.OutgoingHttpHeaders = { etag: asset.etag, 'cache-control': 'no-cache' };
    if (header(req, 'if-none-match') === asset.etag) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': asset.contentType,
      'content-length': asset.body.length,
    });
    res.end(asset.body);
  }

  private fail(res: ServerResponse, err: unknown): void {
    if (err instanceof RaftkvError) {
      if (err instanceof UnauthenticatedError && !res.headersSent) {
        res.setHeader('www-authenticate', 'Bearer realm="raftkv"');
      }
      this.send(res, statusFor(err), errorBody(err));
      return;
    }
    const message = err instanceof Error ? err.message : String(err);
    this.send(res, 500, { error: `internal error: ${message}`, code: 'internal', definite: false });
  }
}

/**
 * The cluster as the dashboard sees it through the node serving the page (src/app/cluster-view.ts).
 * state and faults pass the caller's Authorization on to the members they ask; process goes to
 * the node's supervisor with the supervisor's own token (the caller was checked here, as admin).
 */
export interface DashboardPort {
  /** Every member's GET /debug with its log tail; `self` is this node's, as GET /debug answers. */
  state(authorization: string | undefined, self: (logTail: number) => unknown): Promise<unknown>;
  /** Sets (`patch`) or heals (null) member `id`'s faults: its answer, status and body. */
  faults(
    id: string,
    patch: FaultsPatch | null,
    authorization: string | undefined,
  ): Promise<{ status: number; body: unknown }>;
  /**
   * Asks the supervisor that runs this node to kill, restart or stop member `id`'s process: its
   * answer, status and body. Throws NotSupervisedError when the node has no supervisor.
   */
  process(id: string, action: NodeAction): Promise<{ status: number; body: unknown }>;
  /**
   * Starts exercise `n` (docs/exercises.md) — in the supervisor when there is one, else on this
   * node with the caller's `authorization` — and answers 202 with the run as it has begun.
   */
  startExercise(n: number, authorization: string | undefined): Promise<{ status: number; body: unknown }>;
  /** Exercise run `run` as far as it has got (the supervisor's when there is one). */
  exercise(run: string): Promise<{ status: number; body: unknown }>;
}

/** What the server keeps on a client socket (a property on it: cheaper than a map per request). */
interface SocketState {
  /** Answers owed for requests node:http has handed over and not yet answered. */
  owed: number;
  /** A raw error answer waiting for those (see refuseConnection). */
  deferred: RaftkvError | null;
  /** A raw answer was written: the socket is draining until it closes. */
  answered: boolean;
}
const socketStateKey = Symbol('raftkv socket state');

function socketState(socket: Duplex): SocketState {
  const holder = socket as Duplex & { [socketStateKey]?: SocketState };
  holder[socketStateKey] ??= { owed: 0, deferred: null, answered: false };
  return holder[socketStateKey];
}

/** How long a connection refused for a malformed request is drained before it is dropped. */
const lingerMs = 2_000;

/** The API's error for a request node:http could not parse (bad framing, a header line too long, late). */
function clientErrorOf(err: NodeJS.ErrnoException): RaftkvError {
  if (err.code === 'HPE_HEADER_OVERFLOW') {
    return new HeadersTooLargeError('the request line and headers exceed the 16 KiB the server reads');
  }
  if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
    return new RequestTimeoutError('the request did not arrive whole within the request timeout');
  }
  return new BadRequestError(`malformed HTTP request: ${err.message.replace(/^Parse Error: /, '')}`);
}

/**
 * Writes `error` as a whole HTTP answer on a socket node:http has let go of, then closes gently:
 * stop writing, keep reading and discarding what the client is still sending for a moment, so
 * the answer is not overtaken by a reset (closing a socket with unread data resets it).
 */
function answerRawAndClose(socket: Duplex, error: RaftkvError): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socketState(socket).answered = true;
  const status = statusFor(error);
  const payload = JSON.stringify(errorBody(error));
  socket.on('error', () => {});
  socket.on('data', () => {});
  socket.resume();
  socket.end(
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\n` +
      'content-type: application/json\r\n' +
      `content-length: ${Buffer.byteLength(payload)}\r\n` +
      'connection: close\r\n\r\n' +
      payload,
  );
  setTimeout(() => socket.destroy(), lingerMs).unref();
}

/**
 * The target before any `?`. Split by hand: a URL object per request costs ~10% of the server's
 * CPU (docs/http-stack.md).
 */
function pathOf(target: string): string {
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** Why an error refused a request to protect the node; null for any other error. */
function rejectionOf(err: unknown): RejectionReason | null {
  if (err instanceof BusyError) return 'busy';
  if (err instanceof NoSpaceError)
    return err.details.reason === 'alarm' ? 'no_space_alarm' : 'no_space_quota';
  return null;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Reads the request body to its end — keeping the bytes for a route that parses them, discarding
 * them for one that takes none, since answering before the upload ends would race it into a
 * reset. Past `limit` bytes (declared or counted) it fails with 413 — at once when `early` (the
 * connection stays open: node:http discards the rest after the answer), else once the body has
 * ended — and goes on reading and discarding, so the answer still arrives.
 */
function readBody(
  req: IncomingMessage,
  limit: number,
  bytes: 'keep' | 'discard',
  early: boolean,
): Promise<Buffer> {
  // Most GETs and DELETEs carry no body at all: nothing to wait for (node:http marks the request
  // complete only after the handler has started).
  if (req.complete || !hasBody(req)) return Promise.resolve(Buffer.alloc(0));
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    let over: TooLargeError | null =
      declared > limit
        ? new TooLargeError(`request body of ${declared} bytes exceeds the limit of ${limit}`)
        : null;
    if (over !== null && early) reject(over);
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (over === null && size > limit) {
        // A chunked body has no Content-Length to refuse up front.
        over = new TooLargeError(`request body exceeds the limit of ${limit} bytes`);
        chunks.length = 0;
        if (early) reject(over);
      }
      if (over === null && bytes === 'keep') chunks.push(c);
    });
    // A body that ended on the wire is complete even if its 'end' event has not been emitted yet.
    const cutShort = (): void => {
      if (!req.complete)
        reject(new BadRequestError('the client closed the connection before the request body was whole'));
    };
    req.socket.once('end', cutShort);
    req.on('end', () => {
      req.socket.off('end', cutShort);
      if (over === null) resolve(Buffer.concat(chunks));
      else reject(over);
    });
    req.on('error', cutShort);
  });
}

/** Whether the request frames a body (HTTP/1.1: a non-zero Content-Length or a Transfer-Encoding). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function forwardingAgent(tls: HttpsSettings | undefined): http.Agent {
  const pool = { keepAlive: true, maxSockets: 256 };
  return tls === undefined ? new http.Agent(pool) : new https.Agent({ ...pool, ...tls.client });
}
