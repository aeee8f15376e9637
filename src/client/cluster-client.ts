// The client of a whole cluster: an endpoint list, failover, and retries that are safe.
//
// Any node takes any request (a follower forwards writes to the leader), so failing over is only
// about nodes that are down, cut off or without a leader. The rules:
// - A read goes to the node that answered the last read; a write to the leader, once known — a
//   follower that relays a write to the leader names it (X-Raftkv-Leader), and a node that answers
//   a write itself without naming another is taken to lead — which saves the relay's hop. Then to
//   the others in turn, until the call's deadline (its timeoutMs, default 10 s, across all
//   attempts) or its signal. A leader not in the endpoint list is not used: writes then go where
//   reads go.
// - A read is retried after any failure that is not the request's own fault (a connection error,
//   a 5xx): reads have no effect.
// - A write (put, compare-and-set, delete, transaction) always carries an Idempotency-Key — the
//   caller's, or a random one made for the call — so it is retried, with the same key, even when
//   its outcome was unknown (a reset connection, a 504): the node applies it at most once and
//   answers a retry with the first answer. That is what makes retrying writes safe.
// - A lease grant has no idempotency key: it is retried only when it certainly did not happen.
//   Renewals and revocations are safe to repeat.
// - When the deadline passes with the outcome still unknown, the call rejects with
//   OutcomeUnknownError (`definite: false`); a definite failure rejects with the node's
//   RaftkvApiError (`definite: true`), as soon as it comes — a 400, a 404, a 409 is the answer.

import { randomUUID } from 'node:crypto';
import type { WatchEvent } from '../api/service.js';
import { type SaveBackupOptions, type SavedBackup, saveBackup } from './backup-file.js';
import {
  type CallOptions,
  type ClientOptions,
  type DeleteResult,
  type GetResult,
  type LeaseInfoResult,
  type LeaseResult,
  type LeaseRevokeResult,
  type ListResult,
  type MembersResult,
  type NodeStatus,
  type PutResult,
  RaftkvClient,
  type TxnResult,
} from './client.js';
import { type Election, electionOn } from './election.js';
import { acquireLock, type HeldLock, type KeptLease, keepLease, type LockOptions } from './lock.js';
import type { ListOptions, PutOptions, ReadOptions, TxnBody, WriteOptions } from './requests.js';
import { mayHaveHappened, retryableFailure, sleep } from './retry.js';
import type { WatchOptions, WatchTarget } from './watch.js';

/** A write whose outcome is unknown when the call's time ran out: it may or may not have applied. */
export class OutcomeUnknownError extends Error {
  override name = 'OutcomeUnknownError';
  readonly definite = false;
  constructor(
    readonly operation: string,
    /** The last failure seen. */
    override readonly cause: unknown,
  ) {
    super(
      `${operation}: the outcome is unknown (it may have been applied): ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
}

export interface ClusterClientOptions extends ClientOptions {
  /** Pause after every node failed in turn (doubling up to 2 s); default 100 ms. */
  readonly retryMs?: number;
}

type Kind = 'read' | 'write' | 'grant';

export class ClusterClient {
  /** One client per endpoint, in the order given. */
  readonly nodes: readonly RaftkvClient[];
  /** Each node's `host:port`, to find the leader a relayed answer names. */
  private readonly addresses: readonly string[];
  /** Where reads start: the node that answered the last one. */
  private preferred = 0;
  /** Where writes start: the node known to lead, if it is in the list. */
  private leader: number | null = null;
  /** Leader names seen in relayed answers, ever (tells a call whether its answer was relayed). */
  private relayed = 0;
  private readonly timeoutMs: number;
  private readonly retryMs: number;

  constructor(endpoints: string | readonly string[], options: ClusterClientOptions = {}) {
    const list = typeof endpoints === 'string' ? [endpoints] : endpoints;
    if (list.length === 0) throw new TypeError('a client needs at least one endpoint');
    const onForwarded = (address: string): void => this.leaderNamed(address);
    this.nodes = list.map((e) => new RaftkvClient(e, { ...options, onForwarded }));
    this.addresses = this.nodes.map((n) => hostPortOf(n.url));
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryMs = options.retryMs ?? 100;
  }

  /** The endpoint (index) writes go to first; null while unknown. */
  leaderEndpoint(): string | null {
    return this.leader === null ? null : this.nodes[this.leader]!.url;
  }

  private leaderNamed(address: string): void {
    this.relayed++;
    const at = this.addresses.indexOf(address.toLowerCase());
    this.leader = at === -1 ? null : at;
  }

  /** Releases every node's kept-alive connections. */
  close(): void {
    for (const n of this.nodes) n.close();
  }

  /**
   * Runs `attempt` on the nodes, the last one that answered first, until it succeeds, fails for
   * good, or the call's time runs out (see the rules at the top of this file).
   */
  private async call<T>(
    operation: string,
    kind: Kind,
    options: CallOptions,
    attempt: (node: RaftkvClient, left: CallOptions) => Promise<T>,
  ): Promise<T> {
    const deadline = performance.now() + (options.timeoutMs ?? this.timeoutMs);
    let unknown: unknown = null;
    let last: unknown = null;
    const write = kind !== 'read';
    for (let round = 0; ; round++) {
      const first = write ? (this.leader ?? this.preferred) : this.preferred;
      for (let i = 0; i < this.nodes.length; i++) {
        const at = (first + i) % this.nodes.length;
        const left = deadline - performance.now();
        if (left <= 0) break;
        options.signal?.throwIfAborted();
        const relayedBefore = this.relayed;
        try {
          const result = await attempt(this.nodes[at]!, {
            timeoutMs: Math.max(1, Math.round(left)),
            ...(options.signal && { signal: options.signal }),
          });
          if (!write) this.preferred = at;
          else if (this.relayed === relayedBefore) this.leader = at; // answered it itself
          return result;
        } catch (e) {
          if (options.signal?.aborted) throw e;
          if (!retryableFailure(e)) throw e;
          if (write && this.leader === at) this.leader = null;
          last = e;
          if (kind !== 'read' && mayHaveHappened(e)) {
            unknown = e;
            // Without an idempotency key a retry could apply it twice.
            if (kind === 'grant') throw new OutcomeUnknownError(operation, e);
          }
        }
      }
      const left = deadline - performance.now();
      if (left <= 0) break;
      await sleep(Math.min(left, this.retryMs * 2 ** Math.min(round, 4), 2000), options.signal);
    }
    if (unknown !== null) throw new OutcomeUnknownError(operation, unknown);
    throw last;
  }

  private static withKey<T extends WriteOptions>(options: T): T & { idempotencyKey: string } {
    return { ...options, idempotencyKey: options.idempotencyKey ?? `raftkv-client-${randomUUID()}` };
  }

  // Keys

  put(key: string, value: string, options: PutOptions & CallOptions = {}): Promise<PutResult> {
    const o = ClusterClient.withKey(options);
    return this.call(`put ${key}`, 'write', o, (n, left) => n.put(key, value, { ...o, ...left }));
  }

  compareAndSet(
    key: string,
    prevValue: string | null,
    value: string,
    options: WriteOptions & CallOptions = {},
  ): Promise<PutResult> {
    return this.put(key, value, { ...options, prevValue });
  }

  get(key: string, options: ReadOptions & CallOptions = {}): Promise<GetResult> {
    return this.call(`get ${key}`, 'read', options, (n, left) => n.get(key, { ...options, ...left }));
  }

  delete(key: string, options: WriteOptions & CallOptions = {}): Promise<DeleteResult> {
    const o = ClusterClient.withKey(options);
    return this.call(`delete ${key}`, 'write', o, (n, left) => n.delete(key, { ...o, ...left }));
  }

  list(prefix: string, options: ListOptions & CallOptions = {}): Promise<ListResult> {
    return this.call(`list ${prefix}`, 'read', options, (n, left) => n.list(prefix, { ...options, ...left }));
  }

  txn(body: TxnBody, options: WriteOptions & CallOptions = {}): Promise<TxnResult> {
    const o = ClusterClient.withKey(options);
    return this.call('txn', 'write', o, (n, left) => n.txn(body, { ...o, ...left }));
  }

  /** Every change to a key or prefix, resuming on the other nodes (RaftkvClient.watch). */
  watch(
    target: WatchTarget,
    options: Omit<WatchOptions, 'failover'> = {},
  ): AsyncGenerator<WatchEvent, void, undefined> {
    const [first, ...rest] = this.rotated();
    return first!.watch(target, { ...options, failover: rest });
  }

  /** Lock `name` (docs/locks.md) through every node. */
  lock(name: string, options: LockOptions = {}): Promise<HeldLock> {
    return acquireLock(this.rotated(), name, options);
  }

  /**
   * Election `name` (docs/locks.md#elections) through every node: `campaign(value)` resolves once
   * leading, with a fencing token; `leader()`, `observe()`.
   */
  election(name: string): Election {
    return electionOn(() => this.rotated(), name);
  }

  // Leases

  /** Not idempotent: retried only when it certainly was not granted (OutcomeUnknownError otherwise). */
  grantLease(ttl: number, options: CallOptions = {}): Promise<LeaseResult> {
    return this.call(`grant a lease of ${ttl} s`, 'grant', options, (n, left) => n.grantLease(ttl, left));
  }

  keepAliveLease(id: number, options: CallOptions = {}): Promise<LeaseResult> {
    return this.call(`keep lease ${id} alive`, 'write', options, (n, left) => n.keepAliveLease(id, left));
  }

  revokeLease(id: number, options: CallOptions = {}): Promise<LeaseRevokeResult> {
    return this.call(`revoke lease ${id}`, 'write', options, (n, left) => n.revokeLease(id, left));
  }

  /** GET /leases/{id}: its TTL, the seconds left by the answering node, its keys. */
  leaseInfo(id: number, options: ReadOptions & CallOptions = {}): Promise<LeaseInfoResult> {
    return this.call(`lease ${id}`, 'read', options, (n, left) => n.lease(id, { ...options, ...left }));
  }

  /**
   * A lease of `ttl` seconds kept alive by this client (renewed every TTL/3 through every node)
   * until `revoke()`; `lost` fires when it may be gone. Tie keys to it with `put(k, v, { lease: id })`.
   */
  lease(ttl: number, options: { readonly signal?: AbortSignal } = {}): Promise<KeptLease> {
    return keepLease(this.rotated(), ttl, options);
  }

  // The cluster

  /**
   * Backups: `snapshot.save(file)` streams a backup of the whole state (GET /admin/snapshot, a
   * linearizable point) from the first node that serves one into `file`, fsynced and verified
   * before it replaces what was there (src/client/backup-file.ts). Needs the admin role.
   */
  readonly snapshot = {
    save: (file: string, options: SaveBackupOptions = {}): Promise<SavedBackup> =>
      saveBackup(this.rotated(), file, options),
  };

  members(options: ReadOptions & CallOptions = {}): Promise<MembersResult> {
    return this.call('members', 'read', options, (n, left) => n.members({ ...options, ...left }));
  }

  /** GET /debug of every node (null for one that did not answer within the call's time). */
  status(options: CallOptions = {}): Promise<(NodeStatus | null)[]> {
    return Promise.all(this.nodes.map((n) => n.status(options).catch(() => null)));
  }

  /** The nodes, the one that answered the last read first. */
  private rotated(): RaftkvClient[] {
    return [...this.nodes.slice(this.preferred), ...this.nodes.slice(0, this.preferred)];
  }
}

/** `host:port` of a node's URL, as members advertise client addresses (default ports made explicit). */
function hostPortOf(url: string): string {
  const u = new URL(url);
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`.toLowerCase();
}
