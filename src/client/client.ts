// The client of raftkv's HTTP API (docs/api.md), one node at a time: typed calls that return the
// answer's fields or throw a typed error (errors.ts), and `send` for the raw answer. Every call
// takes its own timeout and AbortSignal. The client holds no state but its connections, over
// undici (connections.ts): with `keepAlive` (the default) a pool of its own, released by close();
// without, a fresh connection per request. Failing over between nodes is the caller's policy (the CLI's is in
// src/cli/client.ts): any node accepts any request, so one client per node is enough.

import type { Faults, FaultsPatch } from '../api/faults.js';
import type {
  DeleteResponse,
  GetResponse,
  LeaderResponse,
  LeaseInfoResponse,
  LeaseResponse,
  LeaseRevokeResponse,
  ListResponse,
  MembersResponse,
  PutResponse,
  SnapshotResponse,
  SpaceStatus,
  TxnResponse,
} from '../api/service.js';
import { Connections } from './connections.js';
import { download } from './download.js';
import { fieldOf, PreconditionFailedError, RaftkvApiError } from './errors.js';
import { type AnswerHeaders, exchange, openStreaming, type StreamAnswer } from './exchange.js';
import { acquireLock, type HeldLock, type LockOptions } from './lock.js';
import {
  type ApiRequest,
  apiRequests,
  type ListOptions,
  type PutOptions,
  type RawRequest,
  type ReadOptions,
  type TxnBody,
  type WriteOptions,
} from './requests.js';
import { type ClientTls, checkClientTls } from './tls.js';
import { type WatchEvent, type WatchOptions, type WatchTarget, watchChanges } from './watch.js';

export type { Faults, FaultsPatch } from '../api/faults.js';
export type { KeyItem, KeyMetadata } from '../api/service.js';
export type PutResult = PutResponse;
export type TxnResult = TxnResponse;
export type DeleteResult = DeleteResponse;
/** `value` is null when the key is absent (a 404 answer, without metadata). */
export type GetResult = GetResponse;
export type ListResult = ListResponse;
export type SpaceResult = SpaceStatus;
export type MembersResult = MembersResponse;
export type LeaderResult = LeaderResponse;
export type LeaseResult = LeaseResponse;
export type LeaseInfoResult = LeaseInfoResponse;
export type LeaseRevokeResult = LeaseRevokeResponse;
export interface SnapshotResult extends SnapshotResponse {
  readonly nodeId: string;
}

/** What GET /admin/snapshot sent, besides the bytes (which went to the caller's sink). */
export interface BackupResult {
  /** The log index of the state the file holds (X-Raftkv-Index). */
  readonly index: number;
  readonly term: number;
  /** Keys in it (X-Raftkv-Keys). */
  readonly keys: number;
  readonly clusterId: string;
  /** The file's size. */
  readonly bytes: number;
  /** The file's SHA-256, hex, from the HTTP trailer; null if none came (the file carries it too). */
  readonly sha256: string | null;
}

export interface BackupOptions {
  /**
   * Give up when nothing arrives for this long — connecting, the node confirming the read point,
   * or between chunks; default the client's timeoutMs. There is no bound on the whole download.
   */
  readonly idleTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** GET /debug: the fields the contract names, and many more (docs/api.md). */
export interface NodeStatus {
  readonly nodeId: string;
  readonly state: 'follower' | 'candidate' | 'leader';
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly logLength: number;
  readonly leaderAddress?: string | null;
  readonly snapshotIndex?: number;
  readonly keys?: number;
  readonly readMode?: string;
  readonly [field: string]: unknown;
}

/** GET /health, /livez, /readyz: 200 or 503, both answers. */
export interface Probe {
  readonly ok: boolean;
  readonly reason?: string;
  readonly nodeId: string;
  /** /readyz: the nodes whose no-space alarm is raised. */
  readonly alarms?: readonly string[];
}

export interface CallOptions {
  /** Bound on this call, connecting included; default the client's timeoutMs. */
  readonly timeoutMs?: number;
  /** Aborts the call; it then rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

export interface ClientOptions {
  /**
   * Default bound on every call (default 10 s); also the bound on making a connection, whatever a
   * call's own timeoutMs (a connection serves whichever call is waiting for one).
   */
  readonly timeoutMs?: number;
  /**
   * Reuse connections (default true; close() releases them). False: a fresh connection per
   * request, closed after the answer — for nodes that are killed and restarted under the client.
   */
  readonly keepAlive?: boolean;
  /** With keepAlive: at most this many connections at once (default: no limit). */
  readonly maxSockets?: number;
  /** Headers sent with every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A token of the node's auth file (docs/security.md): sent as `Authorization: Bearer TOKEN` on
   * every request.
   */
  readonly token?: string;
  /**
   * For an https:// endpoint: the CA that signs the nodes' certificates, and a client certificate
   * to present (PEM). Checked here: a TlsOptionsError names what is wrong. Ignored for http://.
   */
  readonly tls?: ClientTls;
  /**
   * Called with the leader's client address (`host:port`) when the node answered by relaying the
   * request to the leader (the answer's `X-Raftkv-Leader` header): the cluster client sends its
   * next writes there.
   */
  readonly onForwarded?: (leaderAddress: string) => void;
}

export type { AnswerHeaders, StreamAnswer } from './exchange.js';
/** Anything `send` can send: an API request, or a hand-made one (any method, path and body). */
export type { RawRequest } from './requests.js';

/** Any HTTP answer. */
export interface Answer {
  readonly status: number;
  /** Names in lower case; a header sent more than once is an array of its values. */
  readonly headers: AnswerHeaders;
  readonly text: string;
  /** The body parsed as JSON; undefined when it is empty or not JSON. */
  readonly body: unknown;
}

export class RaftkvClient {
  /** `http://host:port` (or https), without a trailing slash. */
  readonly url: string;
  private readonly connections: Connections;
  private readonly timeoutMs: number;
  private readonly headers: Readonly<Record<string, string>>;
  private readonly onForwarded: ((leaderAddress: string) => void) | undefined;

  /** `endpoint`: `http://host:port`, `https://host:port`, or `host:port` (http). */
  constructor(endpoint: string, options: ClientOptions = {}) {
    const withScheme = /^[a-z]+:\/\//i.test(endpoint) ? endpoint : `http://${endpoint}`;
    const base = new URL(withScheme);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') {
      throw new TypeError(`not an http(s) endpoint: ${endpoint}`);
    }
    this.url = base.origin;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.onForwarded = options.onForwarded;
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    this.headers = headers;
    const secure = base.protocol === 'https:';
    if (secure && options.tls !== undefined) checkClientTls(options.tls);
    this.connections = new Connections(base, {
      keepAlive: options.keepAlive ?? true,
      maxSockets: options.maxSockets,
      tls: secure ? options.tls : undefined,
      connectTimeoutMs: this.timeoutMs,
    });
  }

  /** Closes the kept-alive connections (a later call opens new ones). */
  close(): void {
    this.connections.close();
  }

  // -------------------------------------------------------------------------------------------
  // Keys

  /** A put, or with `prevValue` a compare-and-set (PreconditionFailedError when it does not hold). */
  async put(key: string, value: string, options: PutOptions & CallOptions = {}): Promise<PutResult> {
    return this.call(apiRequests.put(key, value, options), options, isPut);
  }

  /** Writes `value` only if the key's value is `prevValue` (null: only if it is absent). */
  compareAndSet(
    key: string,
    prevValue: string | null,
    value: string,
    options: WriteOptions & CallOptions = {},
  ): Promise<PutResult> {
    return this.put(key, value, { ...options, prevValue });
  }

  /** The key's value, or `value: null` when it is absent. */
  async get(key: string, options: ReadOptions & CallOptions = {}): Promise<GetResult> {
    const req = apiRequests.get(key, options);
    const a = await this.send(req, options);
    // 404 without an error message is the answer "absent"; with one it is an unknown route.
    if (a.status === 404 && fieldOf(a.body, 'error') === undefined && isGet(a.body)) return a.body;
    return this.result(req, a, isGet);
  }

  /**
   * A transaction: if every compare holds the success ops run, else the failure ops, atomically
   * at one log index. `succeeded` says which; `results` holds each op's outcome in order.
   */
  async txn(body: TxnBody, options: WriteOptions & CallOptions = {}): Promise<TxnResult> {
    return this.call(apiRequests.txn(body, options), options, isTxn);
  }

  async delete(key: string, options: WriteOptions & CallOptions = {}): Promise<DeleteResult> {
    return this.call(apiRequests.delete(key, options), options, isDelete);
  }

  /** Keys under `prefix` in key order, at most `limit` of them; `more` says whether there are others. */
  async list(prefix: string, options: ListOptions & CallOptions = {}): Promise<ListResult> {
    return this.call(apiRequests.list(prefix, options), options, isList);
  }

  /**
   * GET /watch: the committed changes to one key or to every key under a prefix, in log order,
   * each once — from `fromIndex`, or from now on — for as long as the caller iterates. A stream
   * that breaks, ends or falls silent is resumed with Last-Event-ID, on this node or the next of
   * `failover`, so a node failing loses nothing. Throws WatchCompactedError when the history no
   * longer holds the changes asked for, RaftkvApiError for a refused request (400, 401, 403, 413),
   * the signal's reason when aborted. Breaking out of the loop closes the stream.
   */
  watch(target: WatchTarget, options: WatchOptions = {}): AsyncGenerator<WatchEvent, void, undefined> {
    return watchChanges([this, ...(options.failover ?? [])], target, options);
  }

  /**
   * Takes lock `name` (etcd's recipe on a lease; docs/locks.md), through this node and then
   * `failover` in turn, waiting until it is free. The held lock's `token` is its fencing token;
   * `lost` fires when it may no longer be held. release() lets the next waiter in.
   */
  lock(
    name: string,
    options: LockOptions & { readonly failover?: readonly RaftkvClient[] } = {},
  ): Promise<HeldLock> {
    return acquireLock([this, ...(options.failover ?? [])], name, options);
  }

  // -------------------------------------------------------------------------------------------
  // The node

  /** GET /debug */
  status(options: CallOptions = {}): Promise<NodeStatus> {
    return this.call(apiRequests.status(), options, isStatus);
  }

  /** GET /health: `ok` when this node knows a leader and is caught up (503 is an answer too). */
  health(options: CallOptions = {}): Promise<Probe> {
    return this.probe(apiRequests.health(), options);
  }

  /** GET /livez: the process serves HTTP. */
  livez(options: CallOptions = {}): Promise<Probe> {
    return this.probe(apiRequests.livez(), options);
  }

  /** GET /readyz: a leader known and everything committed applied. */
  readyz(options: CallOptions = {}): Promise<Probe> {
    return this.probe(apiRequests.readyz(), options);
  }

  /** GET /metrics: the Prometheus text exposition (docs/metrics.md). */
  async metrics(options: CallOptions = {}): Promise<string> {
    const req = apiRequests.metrics();
    const a = await this.send(req, options);
    if (a.status === 200) return a.text;
    return this.result(req, a, (_b): _b is never => false);
  }

  /** POST /admin/snapshot (the server allows it up to 120 s: give the call as long). */
  snapshot(options: CallOptions = {}): Promise<SnapshotResult> {
    return this.call(apiRequests.snapshot(), options, isSnapshot);
  }

  /**
   * GET /admin/snapshot: a backup of the whole state at a linearizable point, streamed into
   * `write` chunk by chunk — the next chunk is read once `write`'s promise resolves, so a slow
   * sink slows the node's serialisation instead of filling memory. The bytes are a backup file
   * (src/backup/README.md): check it before trusting it. Rejects with RaftkvApiError for an error
   * answer, RaftkvConnectionError when the answer did not come, stalled or was cut off.
   */
  async backup(
    write: (chunk: Uint8Array) => Promise<void> | void,
    options: BackupOptions = {},
  ): Promise<BackupResult> {
    const req = apiRequests.backup();
    const d = await download(
      this.connections,
      { method: req.method, path: req.path, headers: this.headersFor(req, 'application/octet-stream') },
      {
        idleTimeoutMs: options.idleTimeoutMs ?? this.timeoutMs,
        ...(options.signal !== undefined && { signal: options.signal }),
      },
      write,
    );
    if (!d.ok) throw new RaftkvApiError(req.method, req.path, d.status, parseJson(d.text));
    const number = (name: string): number => Number(d.headers[name] ?? Number.NaN);
    const clusterId = d.headers['x-raftkv-cluster-id'];
    const sha256 = d.trailers['x-raftkv-sha256'];
    return {
      index: number('x-raftkv-index'),
      term: number('x-raftkv-term'),
      keys: number('x-raftkv-keys'),
      clusterId: typeof clusterId === 'string' ? clusterId : '',
      bytes: d.bytes,
      sha256: typeof sha256 === 'string' ? sha256 : null,
    };
  }

  /** GET /admin/alarms */
  alarms(options: CallOptions = {}): Promise<SpaceResult> {
    return this.call(apiRequests.alarms(), options, isSpace);
  }

  /** POST /admin/alarms: raise (`active`) or clear `node`'s no-space alarm. */
  setAlarm(node: string, active: boolean, options: CallOptions = {}): Promise<SpaceResult> {
    return this.call(apiRequests.setAlarm(node, active), options, isSpace);
  }

  // -------------------------------------------------------------------------------------------
  // Fault injection (docs/faults.md): on THIS node, which must run with --enable-faults (else a
  // RaftkvApiError with status 403 and code `faults_disabled`). Each node has its own faults:
  // to partition a cluster, call the nodes concerned.

  /** GET /admin/faults: the faults in force on this node. */
  faults(options: CallOptions = {}): Promise<Faults> {
    return this.call({ method: 'GET', path: '/admin/faults' }, options, isFaults);
  }

  /**
   * POST /admin/faults: sets the fields given and keeps the others (`{paused: false}` resumes a
   * paused node and leaves its cut links cut); resolves with the faults now in force.
   */
  setFaults(faults: FaultsPatch, options: CallOptions = {}): Promise<Faults> {
    return this.call({ method: 'POST', path: '/admin/faults', body: faults }, options, isFaults);
  }

  /** DELETE /admin/faults: clears every fault (a paused node resumes); resolves with none. */
  healFaults(options: CallOptions = {}): Promise<Faults> {
    return this.call({ method: 'DELETE', path: '/admin/faults' }, options, isFaults);
  }

  // -------------------------------------------------------------------------------------------
  // Membership (docs/membership.md)

  /** GET /cluster/members */
  members(options: ReadOptions & CallOptions = {}): Promise<MembersResult> {
    return this.call(apiRequests.members(options), options, isMembers);
  }

  /** POST /cluster/members: resolves once the node is a committed learner. */
  addMember(
    id: string,
    address: string,
    options: { readonly learner?: boolean } & CallOptions = {},
  ): Promise<MembersResult> {
    return this.call(apiRequests.addMember(id, address, options), options, isMembers);
  }

  /** POST /cluster/members/{id}/promote */
  promoteMember(id: string, options: CallOptions = {}): Promise<MembersResult> {
    return this.call(apiRequests.promoteMember(id), options, isMembers);
  }

  /** DELETE /cluster/members/{id} */
  removeMember(id: string, options: CallOptions = {}): Promise<MembersResult> {
    return this.call(apiRequests.removeMember(id), options, isMembers);
  }

  /** POST /cluster/leader: resolves once `to` (or the most caught-up voter) leads. */
  moveLeader(to?: string, options: CallOptions = {}): Promise<LeaderResult> {
    return this.call(apiRequests.moveLeader(to), options, isLeader);
  }

  // -------------------------------------------------------------------------------------------
  // Leases (docs/leases.md). A lease that does not exist (never granted, revoked or expired) is a
  // RaftkvApiError with status 404 and code `lease_not_found`.

  /**
   * POST /leases: a new lease of `ttl` seconds (1..9,000,000,000). Not idempotent: a grant whose
   * outcome is unknown may have made a lease nobody renews; it expires after its TTL.
   */
  grantLease(ttl: number, options: CallOptions = {}): Promise<LeaseResult> {
    return this.call(apiRequests.leaseGrant(ttl), options, isLease);
  }

  /**
   * POST /leases/{id}/keepalive: resolves once the renewal is applied. The lease then lasts at
   * least `ttl` seconds from when this call was made (docs/leases.md says what that assumes).
   */
  keepAliveLease(id: number, options: CallOptions = {}): Promise<LeaseResult> {
    return this.call(apiRequests.leaseKeepalive(id), options, isLease);
  }

  /** DELETE /leases/{id}: ends the lease now; answers the keys deleted with it. */
  revokeLease(id: number, options: CallOptions = {}): Promise<LeaseRevokeResult> {
    return this.call(apiRequests.leaseRevoke(id), options, isLeaseRevoke);
  }

  /** GET /leases/{id}: its TTL, the whole seconds left by the answering node, its keys. */
  lease(id: number, options: ReadOptions & CallOptions = {}): Promise<LeaseInfoResult> {
    return this.call(apiRequests.leaseInfo(id, options), options, isLeaseInfo);
  }

  // -------------------------------------------------------------------------------------------
  // Raw

  /**
   * Sends one request and resolves with whatever the node answered, any status. Rejects with a
   * RaftkvConnectionError when no answer came (or the signal's reason when it aborted the call).
   */
  async send(req: RawRequest, options: CallOptions = {}): Promise<Answer> {
    let body: string | Uint8Array | undefined;
    if (req.rawBody !== undefined) body = req.rawBody;
    else if (req.body !== undefined) body = JSON.stringify(req.body);
    const headers = this.headersFor(req, 'application/json', body !== undefined);
    const a = await exchange(
      this.connections,
      { method: req.method, path: req.path, headers, ...(body !== undefined && { body }) },
      {
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        ...(options.signal !== undefined && { signal: options.signal }),
      },
    );
    const leader = a.headers['x-raftkv-leader'];
    if (typeof leader === 'string' && this.onForwarded !== undefined) this.onForwarded(leader);
    return { status: a.status, headers: a.headers, text: a.text, body: parseJson(a.text) };
  }

  /**
   * Sends one request and resolves once the answer's head has come (within the call's timeout),
   * its body still to be read — for an answer that does not end by itself. The caller reads the
   * body, or close()s it.
   */
  async openStream(req: RawRequest, options: CallOptions = {}): Promise<StreamAnswer> {
    const headers = this.headersFor(req, 'text/event-stream');
    const a = await openStreaming(
      this.connections,
      { method: req.method, path: req.path, headers },
      {
        timeoutMs: options.timeoutMs ?? this.timeoutMs,
        ...(options.signal !== undefined && { signal: options.signal }),
      },
    );
    return {
      ...a,
      text: async () => {
        const parts: Buffer[] = [];
        try {
          for await (const chunk of a.body) parts.push(chunk as Buffer);
        } finally {
          a.close();
        }
        return Buffer.concat(parts).toString('utf8');
      },
    };
  }

  /**
   * The headers of `req`: the client's, then the request's own, names in lower case (so that a
   * header given twice, `Accept` and `accept`, is sent once).
   */
  private headersFor(
    req: RawRequest,
    accept: string,
    jsonBody = false,
  ): Record<string, string | readonly string[]> {
    // The client's own headers were lowered once, in the constructor.
    const headers: Record<string, string | readonly string[]> = { accept, ...this.headers };
    if (jsonBody) headers['content-type'] = 'application/json';
    if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
    if (req.headers !== undefined)
      for (const [name, value] of Object.entries(req.headers)) headers[name.toLowerCase()] = value;
    return headers;
  }

  private async call<T>(req: ApiRequest, options: CallOptions, is: (b: unknown) => b is T): Promise<T> {
    return this.result(req, await this.send(req, options), is);
  }

  private async probe(req: ApiRequest, options: CallOptions): Promise<Probe> {
    const a = await this.send(req, options);
    if ((a.status === 200 || a.status === 503) && isProbe(a.body)) return a.body;
    return this.result(req, a, isProbe);
  }

  /** The answer's body when it is a 200 of the expected shape; otherwise the error it is. */
  private result<T>(req: ApiRequest, a: Answer, is: (b: unknown) => b is T): T {
    if (a.status === 200) {
      if (is(a.body)) return a.body;
      throw new RaftkvApiError(
        req.method,
        req.path,
        a.status,
        a.body,
        `${req.method} ${req.path}: unexpected answer: ${a.text.slice(0, 200)}`,
      );
    }
    if (a.status === 409 && fieldOf(a.body, 'code') === 'precondition_failed') {
      throw new PreconditionFailedError(req.method, req.path, a.body);
    }
    throw new RaftkvApiError(req.method, req.path, a.status, a.body);
  }
}

// ---------------------------------------------------------------------------------------------
// Shapes of the answers (what a caller reads must be there; more fields may come)

/** The text parsed as JSON; undefined when it is empty or not JSON. */
function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : JSON.parse(text);
  } catch {
    return undefined;
  }
}

function isObject(b: unknown): b is Record<string, unknown> {
  return typeof b === 'object' && b !== null && !Array.isArray(b);
}

/** A present key's metadata (docs/api.md): version, createIndex and modIndex. */
const hasMetadata = (b: Record<string, unknown>): boolean =>
  typeof b.version === 'number' && typeof b.createIndex === 'number' && typeof b.modIndex === 'number';

const isPut = (b: unknown): b is PutResult =>
  isObject(b) &&
  typeof b.key === 'string' &&
  typeof b.value === 'string' &&
  typeof b.index === 'number' &&
  hasMetadata(b);

/** A present key carries its metadata; an absent one (404) only key, null value and index. */
const isGet = (b: unknown): b is GetResult =>
  isObject(b) &&
  typeof b.key === 'string' &&
  (b.value === null || (typeof b.value === 'string' && hasMetadata(b))) &&
  typeof b.index === 'number';

const isTxn = (b: unknown): b is TxnResult =>
  isObject(b) && typeof b.succeeded === 'boolean' && Array.isArray(b.results) && typeof b.index === 'number';

const isDelete = (b: unknown): b is DeleteResult =>
  isObject(b) && typeof b.key === 'string' && typeof b.deleted === 'boolean' && typeof b.index === 'number';

const isList = (b: unknown): b is ListResult =>
  isObject(b) &&
  Array.isArray(b.items) &&
  b.items.every(
    (i) => isObject(i) && typeof i.key === 'string' && typeof i.value === 'string' && hasMetadata(i),
  ) &&
  typeof b.more === 'boolean';

const isStatus = (b: unknown): b is NodeStatus =>
  isObject(b) && typeof b.nodeId === 'string' && typeof b.state === 'string' && typeof b.term === 'number';

const isProbe = (b: unknown): b is Probe => isObject(b) && typeof b.ok === 'boolean';

const isSnapshot = (b: unknown): b is SnapshotResult =>
  isObject(b) && typeof b.index === 'number' && typeof b.bytes === 'number' && typeof b.taken === 'boolean';

const isMembers = (b: unknown): b is MembersResult =>
  isObject(b) &&
  Array.isArray(b.members) &&
  b.members.every((m) => isObject(m) && typeof m.id === 'string' && typeof m.role === 'string') &&
  typeof b.index === 'number';

const isLeader = (b: unknown): b is LeaderResult =>
  isObject(b) && typeof b.leaderId === 'string' && typeof b.term === 'number';

const isLease = (b: unknown): b is LeaseResult =>
  isObject(b) && typeof b.id === 'number' && typeof b.ttl === 'number';

const isStrings = (a: unknown): a is string[] => Array.isArray(a) && a.every((k) => typeof k === 'string');

const isLeaseInfo = (b: unknown): b is LeaseInfoResult =>
  isObject(b) &&
  typeof b.id === 'number' &&
  typeof b.ttl === 'number' &&
  typeof b.remaining === 'number' &&
  isStrings(b.keys) &&
  typeof b.index === 'number';

const isLeaseRevoke = (b: unknown): b is LeaseRevokeResult =>
  isObject(b) && typeof b.id === 'number' && isStrings(b.keys) && typeof b.index === 'number';

const isSpace = (b: unknown): b is SpaceResult =>
  isObject(b) && Array.isArray(b.alarms) && typeof b.stateBytes === 'number';

const isFaults = (b: unknown): b is Faults =>
  isObject(b) &&
  isStrings(b.dropTo) &&
  isStrings(b.dropFrom) &&
  typeof b.isolate === 'boolean' &&
  typeof b.paused === 'boolean' &&
  typeof b.diskDelayMs === 'number' &&
  typeof b.messageDelayMs === 'number';
