// The port between the HTTP server and a node: the client operations, each under a deadline,
// and the node's status. The node runtime implements it (src/node/kv-service.ts); the server
// (src/server/) sees only this, so either can be tested without the other (the hostile-input
// test fronts an in-memory service).

/**
 * How a read is served (docs/read-modes.md): `linearizable` confirmed by a heartbeat round (or
 * the leader lease, on a node started with --read-mode lease), `lease` by the leader lease when it
 * holds (a round otherwise), `stale` from this node's state as it is.
 */
export type Consistency = 'linearizable' | 'lease' | 'stale';

export interface PutRequest {
  readonly key: string;
  readonly value: string;
  /** Present: compare-and-set; null means "key must be absent". */
  readonly prevValue?: string | null;
  /** Ties the key to this lease: the key is deleted when the lease ends (docs/leases.md). */
  readonly lease?: number;
  readonly idempotencyKey?: string;
}

export interface DeleteRequest {
  readonly key: string;
  readonly idempotencyKey?: string;
}

/**
 * A key's metadata, derived only from the log (so the same on every replica): `version` counts
 * the writes since the key was created (1 on create; a key deleted and created again starts at 1
 * again), `createIndex` is the log index of the write that created it, `modIndex` of the latest.
 */
export interface KeyMetadata {
  readonly version: number;
  readonly createIndex: number;
  readonly modIndex: number;
  /** The key's lease id, when it has one: the key is deleted when the lease ends. */
  readonly lease?: number;
}

/** A key, its value and its metadata: a GET /kv/{key} answer and each listing item. */
export interface KeyItem extends KeyMetadata {
  readonly key: string;
  readonly value: string;
}

/** The key's metadata is as it stands right after this write (modIndex = index). */
export interface PutResponse extends KeyMetadata {
  readonly key: string;
  readonly value: string;
  readonly index: number;
}

export interface DeleteResponse {
  readonly key: string;
  readonly deleted: boolean;
  readonly index: number;
}

/** A present key (200): its value and metadata; `index` is the applied index the read observed. */
export interface FoundKey extends KeyItem {
  readonly index: number;
}

/** An absent key (the 404 answer): no value, no metadata. */
export interface MissingKey {
  readonly key: string;
  readonly value: null;
  readonly index: number;
}

export type GetResponse = FoundKey | MissingKey;

export interface ListResponse {
  readonly items: KeyItem[];
  readonly more: boolean;
  readonly index: number;
}

/** The space rules in force (docs/space.md), as GET /admin/alarms reports them. */
export interface SpaceStatus {
  /** Nodes whose no-space alarm is raised: growing writes are refused while any is. */
  readonly alarms: { readonly node: string; readonly alarm: 'no_space' }[];
  readonly quotaBytes: number | null;
  readonly stateBytes: number;
  /** The applied index the answer reflects. */
  readonly index: number;
}

/** POST /admin/alarms: raise or clear one node's no-space alarm (nodes do it themselves). */
export interface AlarmRequest {
  readonly node: string;
  readonly active: boolean;
}

export interface Health {
  readonly ok: boolean;
  readonly reason: string;
}

/** One member of the cluster, as GET /cluster/members lists it. */
export interface Member {
  readonly id: string;
  readonly address: string;
  readonly role: 'voter' | 'learner';
}

export interface MembersResponse {
  /** The cluster's id (a joining node must know it: peers and data dirs check it). */
  readonly clusterId: string;
  readonly members: readonly Member[];
  readonly leaderId: string | null;
  /** Log index of the configuration entry that made this membership (0: the bootstrap one). */
  readonly index: number;
}

/** POST /cluster/members: `learner: false` adds a learner that is promoted once caught up. */
export interface AddMemberRequest {
  readonly id: string;
  readonly address: string;
  readonly learner: boolean;
}

export interface LeaderResponse {
  readonly leaderId: string;
  readonly term: number;
}

/** Membership operations (docs/membership.md): changes run on the leader (NotLeaderError elsewhere). */
export interface MembershipService {
  members(consistency: Consistency, deadlineMs: number): Promise<MembersResponse>;
  addMember(req: AddMemberRequest, deadlineMs: number): Promise<MembersResponse>;
  promoteMember(id: string, deadlineMs: number): Promise<MembersResponse>;
  removeMember(id: string, deadlineMs: number): Promise<MembersResponse>;
  /** Moves leadership to `to`, or (null) to the most caught-up voter; resolves once it leads. */
  moveLeader(to: string | null, deadlineMs: number): Promise<LeaderResponse>;
}

/**
 * One condition of POST /txn. The operand's type follows the target: a string for `value`, an
 * integer ≥ 0 for `version`, `createIndex`, `modIndex` (a missing key has 0), a boolean for `exists`.
 */
export type TxnCompare =
  | {
      readonly key: string;
      readonly target: 'value';
      readonly op: TxnCompareOperator;
      readonly value: string;
    }
  | {
      readonly key: string;
      readonly target: 'version' | 'createIndex' | 'modIndex';
      readonly op: TxnCompareOperator;
      readonly value: number;
    }
  | {
      readonly key: string;
      readonly target: 'exists';
      readonly op: TxnCompareOperator;
      readonly value: boolean;
    };

export type TxnCompareOperator = '==' | '!=' | '<' | '>';

/** One op of a branch (the wire form `{"put": {...}}` is parsed into this). */
export type TxnOp =
  | { readonly type: 'put'; readonly key: string; readonly value: string; readonly lease?: number }
  | { readonly type: 'delete'; readonly key: string }
  | { readonly type: 'get'; readonly key: string };

/** POST /txn: if every compare holds the success ops run, else the failure ops; one log entry. */
export interface TxnRequest {
  readonly compare: readonly TxnCompare[];
  readonly success: readonly TxnOp[];
  readonly failure: readonly TxnOp[];
  readonly idempotencyKey?: string;
}

/** What one op did or read, in the order of the ops: a put's key as it stands after it. */
export type TxnOpResponse =
  | { readonly put: KeyItem }
  | { readonly delete: { readonly key: string; readonly deleted: boolean } }
  | { readonly get: KeyItem | { readonly key: string; readonly value: null } };

export interface TxnResponse {
  readonly succeeded: boolean;
  readonly results: readonly TxnOpResponse[];
  /** The log index of the transaction's entry. */
  readonly index: number;
}

/** How a read is served: its consistency, and the index this node must have applied first. */
export interface ReadQuery {
  readonly consistency: Consistency;
  /** Read-your-writes on any node: answered only once this node has applied this index. */
  readonly minIndex?: number;
}

/** GET /kv?prefix=p&limit=n&startAfter=k: one page of a prefix, in key order. */
export interface ListQuery {
  readonly prefix: string;
  readonly limit: number;
  /** The page starts after this key (the last key of the previous page). */
  readonly startAfter?: string;
}

/**
 * GET /watch: one key, or every key under a prefix (docs/api.md#watch), and the first log index
 * wanted — absent: the next index this node applies.
 */
export type WatchSpec = (
  | { readonly key: string; readonly prefix?: undefined }
  | { readonly prefix: string; readonly key?: undefined }
) & { readonly from?: number };

/** One change to a key as a watcher is told it: the committed entry at `index` made it. */
export interface WatchEvent {
  readonly index: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value (null for a delete). */
  readonly value: string | null;
  /** The value before (null: the key was absent). */
  readonly prevValue: string | null;
}

/**
 * Why the node ended a watch: the history no longer holds what the watcher needs next
 * (`compacted`: events from `oldestIndex` on are kept); the client did not read fast enough
 * (`dropped`: it was told everything up to `lastIndex`, and resumes after it); or the node is
 * stopping (`closed`).
 */
export type WatchEnd =
  | { readonly kind: 'compacted'; readonly oldestIndex: number }
  | { readonly kind: 'dropped'; readonly lastIndex: number }
  | { readonly kind: 'closed' };

/**
 * Where the node writes one watcher's stream (the server frames it as Server-Sent Events,
 * src/server/watch-stream.ts). Every call but buffered() and onDrain() writes to the client.
 */
export interface WatchSink {
  /** The watch is open: its first event will be at `from` or later. Called once, first. */
  start(from: number): void;
  /**
   * The matching events of one log index, all of them, in log order. False when the client's
   * buffer is full: a catching-up watcher then waits for onDrain before reading more history.
   */
  events(batch: readonly WatchEvent[]): boolean;
  /**
   * Nothing to say for a while. `progress`: every matching change up to this index has been
   * sent, so the client may resume after it (null: no news since it was last told).
   */
  keepalive(progress: number | null): void;
  /** The node ends the watch: the last thing written before the stream closes. At most once. */
  end(how: WatchEnd): void;
  /** Bytes written that the client has not taken yet. */
  buffered(): number;
  /** Calls `fn` once, when the client has taken what was buffered. */
  onDrain(fn: () => void): void;
}

/** An open watch; close() forgets it (the client went away). Idempotent. */
export interface WatchHandle {
  close(): void;
}

/** POST /leases: a new lease of `ttl` seconds. */
export interface LeaseGrantRequest {
  readonly ttl: number;
}

/** A lease granted (its id is the log index of its grant) or renewed: its TTL starts again. */
export interface LeaseResponse {
  readonly id: number;
  /** Seconds. */
  readonly ttl: number;
}

/** GET /leases/{id}. */
export interface LeaseInfoResponse {
  readonly id: number;
  readonly ttl: number;
  /** Whole seconds left by the answering node's deadline (rounded down, never negative). */
  readonly remaining: number;
  /** The keys tied to it, in key order. */
  readonly keys: readonly string[];
  /** The applied index the read observed. */
  readonly index: number;
}

/** DELETE /leases/{id}: the lease ended and these keys were deleted with it. */
export interface LeaseRevokeResponse {
  readonly id: number;
  readonly keys: readonly string[];
  readonly index: number;
}

/**
 * Leases (docs/leases.md): writes go to the leader (NotLeaderError elsewhere; the server
 * forwards); a lease that does not exist is LeaseNotFoundError (404).
 */
export interface LeaseService {
  leaseGrant(req: LeaseGrantRequest, deadlineMs: number): Promise<LeaseResponse>;
  /** Renews the lease; resolved once the renewal is applied (its TTL counts again from then). */
  leaseKeepalive(id: number, deadlineMs: number): Promise<LeaseResponse>;
  /** Ends the lease now and deletes its keys. */
  leaseRevoke(id: number, deadlineMs: number): Promise<LeaseRevokeResponse>;
  leaseInfo(id: number, read: ReadQuery, deadlineMs: number): Promise<LeaseInfoResponse>;
}

export interface KvService extends MembershipService, LeaseService {
  readonly nodeId: string;
  /** Rejects with RaftkvError subclasses (ConflictError, NotLeaderError, TimeoutError, ...). */
  put(req: PutRequest, deadlineMs: number): Promise<PutResponse>;
  del(req: DeleteRequest, deadlineMs: number): Promise<DeleteResponse>;
  /** A transaction (ConflictError never: a failed compare runs the failure branch). */
  txn(req: TxnRequest, deadlineMs: number): Promise<TxnResponse>;
  get(key: string, read: ReadQuery, deadlineMs: number): Promise<GetResponse>;
  list(query: ListQuery, read: ReadQuery, deadlineMs: number): Promise<ListResponse>;
  /** Takes a snapshot of this node's state now and compacts its log (an operator's request). */
  snapshot(deadlineMs: number): Promise<SnapshotResponse>;
  /**
   * A backup of the whole state at a linearizable point (GET /admin/snapshot): resolves once the
   * point is confirmed (as a linearizable read) and the state's copy taken; the file is then
   * produced as it is pulled. BusyError when too many are streaming from this node already.
   */
  backup(deadlineMs: number): Promise<BackupStream>;
  /** GET /debug; `logTail`: also the last entries of the log (`log`: index, term, type, summary). */
  debug(options?: { readonly logTail?: number }): Record<string, unknown>;
  health(): Health;
  /** The space rules this node has applied (a local read). */
  space(): SpaceStatus;
  /** Puts an alarm change in the log (leader only: NotLeaderError elsewhere, the server forwards). */
  alarm(req: AlarmRequest, deadlineMs: number): Promise<SpaceStatus>;
  /**
   * Opens a watch served from this node's applied state (leader or not): the sink is told the
   * committed changes to the watched keys from `spec.from` on, in log order — replayed from the
   * history the state machine keeps, then live — or `compacted` at once when the history no
   * longer reaches back that far. ShuttingDownError when the node is stopping.
   */
  watch(spec: WatchSpec, sink: WatchSink): WatchHandle;
}

/** GET /admin/snapshot: a backup file (src/backup/README.md) being produced from a copy of the state. */
export interface BackupStream {
  /** The cluster the state belongs to. */
  readonly clusterId: string;
  /** The log index of the state (every entry up to it applied, none after). */
  readonly index: number;
  readonly term: number;
  readonly keys: number;
  /**
   * The file's bytes in order, each chunk serialised when it is pulled: the reader sets the pace,
   * and the state is never copied whole. Its return value is the file's SHA-256, hex. Closing it
   * early (return()) lets go of the state's copy.
   */
  readonly chunks: Iterator<Uint8Array, string, undefined>;
  /** Called once when the stream is over: sent whole, or abandoned (and why). */
  finished(outcome: BackupOutcome): void;
}

export type BackupOutcome =
  | { readonly sent: true; readonly bytes: number }
  | { readonly sent: false; readonly bytes: number; readonly reason: string };

/** What POST /admin/snapshot reports. */
export interface SnapshotResponse {
  readonly index: number;
  readonly term: number;
  /** Size of the serialised state machine. */
  readonly bytes: number;
  /** Keys in it (null for a snapshot that was already there). */
  readonly keys: number | null;
  /** Serialising and writing it, in milliseconds (0 if none was taken). */
  readonly ms: number;
  /** False when an existing snapshot (or one installed from the leader) already covered it. */
  readonly taken: boolean;
}
