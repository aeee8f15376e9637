// A distributed lock on leases, etcd's recipe (its concurrency.Mutex), with a fencing token.
//
// To take lock NAME a contender grants itself a lease, renews it every TTL/3, and creates the key
// NAME/<lease id in hex> tied to the lease. The contenders' keys are ordered by createIndex (the
// log index that created each): the lowest holds the lock. A contender that is not the lowest
// watches the key just below its own until that key is deleted — its holder released it, or its
// lease ran out — and looks again. So waiters queue in order, each woken by one deletion only
// (no herd), and a holder that dies or is cut off loses the lock when its lease ends.
//
// The holder's key's createIndex is its FENCING TOKEN: every later holder has a larger one. A
// holder can be paused (a GC, SIGSTOP) after it checked that it holds the lock and before it acts,
// and wake up after its lease ended and another took over; only the protected resource can catch
// that, by refusing a token lower than the highest it has seen (docs/locks.md).
//
// How long the holder may act: its lease lasts at least TTL from the SEND of its latest
// acknowledged renewal, by its own monotonic clock, provided clock rates agree (docs/leases.md).
// `validUntil()` is that moment; `lost` fires when it passes without a newer acknowledged renewal,
// or when the lease is found gone.

import type { WatchEvent } from '../api/service.js';
import { RaftkvApiError } from './errors.js';
import type { ListOptions, PutOptions } from './requests.js';
import { mayHaveHappened, retryableFailure, sleep } from './retry.js';
import type { StreamingNode, WatchOptions, WatchTarget } from './watch.js';

interface Call {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** What keeping a lease needs of a node: RaftkvClient is one. */
export interface LeaseNode {
  grantLease(ttl: number, options?: Call): Promise<{ readonly id: number }>;
  keepAliveLease(id: number, options?: Call): Promise<unknown>;
  revokeLease(id: number, options?: Call): Promise<unknown>;
}

/** What the lock needs of a node: RaftkvClient is one. */
export interface LockNode extends StreamingNode, LeaseNode {
  put(key: string, value: string, options?: PutOptions & Call): Promise<{ readonly createIndex: number }>;
  list(
    prefix: string,
    options?: ListOptions & Call,
  ): Promise<{
    readonly items: readonly { readonly key: string; readonly createIndex: number }[];
    readonly index: number;
  }>;
  watch(target: WatchTarget, options?: WatchOptions): AsyncIterable<WatchEvent>;
}

export interface LockOptions {
  /** The lease's TTL in seconds (default 10). */
  readonly ttl?: number;
  /** The value of the contender's key (default: a description of this process). */
  readonly owner?: string;
  /** Gives up waiting (and withdraws) when aborted. */
  readonly signal?: AbortSignal;
  /** Milliseconds on a monotonic clock (default performance.now). */
  readonly now?: () => number;
}

export interface HeldLock {
  readonly name: string;
  /** The holder's key: NAME/<lease id in hex>. */
  readonly key: string;
  /** The fencing token: the key's createIndex. Every later holder's is larger. */
  readonly token: number;
  readonly leaseId: number;
  readonly ttl: number;
  /**
   * Aborted once the lock may no longer be held: the lease is gone, renewals stopped being
   * acknowledged for a TTL, or release() was called (reason "released").
   */
  readonly lost: AbortSignal;
  /** The monotonic time (options.now's clock, ms) until which the lease surely lasts. */
  validUntil(): number;
  /** Stops renewing and revokes the lease, which deletes the key: the next waiter takes over. */
  release(): Promise<void>;
}

/** What a lock operation waits for between attempts when no node could answer. */
const retryMs = 200;

/**
 * Runs `call` on the nodes in turn until one answers, pausing after a full round of failures.
 * Only a failure `retry` accepts (by default retryableFailure: one another node may not have) is
 * tried again; any other rejects at once.
 */
export async function onAnyNode<N, T>(
  nodes: readonly N[],
  call: (node: N) => Promise<T>,
  signal?: AbortSignal,
  retry: (e: unknown) => boolean = retryableFailure,
): Promise<T> {
  for (let round = 0; ; round++) {
    for (const node of nodes) {
      signal?.throwIfAborted();
      try {
        return await call(node);
      } catch (e) {
        if (!retry(e)) throw e;
      }
    }
    await sleep(Math.min(retryMs * 2 ** Math.min(round, 4), 2000), signal);
  }
}

/** A lease this client keeps alive (renewed every TTL/3) until revoke(). */
export interface KeptLease {
  readonly id: number;
  /** Seconds. */
  readonly ttl: number;
  /**
   * Aborted once the lease may be gone: a renewal found it gone, renewals went unacknowledged for
   * a TTL, or revoke() was called (reason "released").
   */
  readonly lost: AbortSignal;
  /** The monotonic time (ms) until which the lease surely lasts: the last acknowledged send + TTL. */
  validUntil(): number;
  /** Stops renewing and revokes it (its keys are deleted); a lease already gone is fine. */
  revoke(): Promise<void>;
}

/**
 * Grants a lease of `ttl` seconds through `nodes` (tried in turn) and keeps it alive. The grant
 * is not retried once it may have happened (it has no idempotency key): a failure then rejects,
 * and the lease, if it was made, expires by itself.
 */
export async function keepLease(
  nodes: readonly LeaseNode[],
  ttl: number,
  options: { readonly signal?: AbortSignal; readonly now?: () => number } = {},
): Promise<KeptLease> {
  if (nodes.length === 0) throw new TypeError('keepLease needs at least one node');
  if (!Number.isSafeInteger(ttl) || ttl < 1)
    throw new RangeError('ttl must be a whole number of seconds ≥ 1');
  const now = options.now ?? (() => performance.now());
  const sent = now();
  const signal = options.signal;
  const lease = await onAnyNode(
    nodes,
    (n) => n.grantLease(ttl, signal ? { signal } : {}),
    signal,
    (e) => retryableFailure(e) && !mayHaveHappened(e),
  );
  const renewer = new LeaseRenewer(nodes, lease.id, ttl, sent, now);
  return {
    id: lease.id,
    ttl,
    lost: renewer.lost,
    validUntil: () => renewer.validUntil(),
    revoke: () => renewer.release(),
  };
}

/** The lock's contender keys start with this: NAME/. */
export function lockPrefix(name: string): string {
  if (name.length === 0) throw new TypeError('a lock name must not be empty');
  return `${name}/`;
}

/** The most contender keys one listing reads (the API's largest page). */
const maxContenders = 10_000;

/** The contender keys under `prefix` and the index of the listing: one linearizable list. */
export function listContenders<I extends { readonly key: string; readonly createIndex: number }>(
  nodes: readonly {
    list(
      prefix: string,
      options?: ListOptions & Call,
    ): Promise<{ readonly items: readonly I[]; readonly index: number }>;
  }[],
  prefix: string,
  signal?: AbortSignal,
): Promise<{ readonly items: readonly I[]; readonly index: number }> {
  return onAnyNode(nodes, (n) => n.list(prefix, { limit: maxContenders, ...(signal && { signal }) }), signal);
}

/** A contender at the head of the queue of lock or election NAME. */
export interface Contender {
  /** NAME/<lease id in hex>. */
  readonly key: string;
  /** The key's createIndex: the fencing token. */
  readonly token: number;
  /** The contender's lease, kept alive; revoking it deletes the key. */
  readonly lease: KeptLease;
  /** The index of the listing that showed the key first in line. */
  readonly listed: number;
}

/**
 * What a lock and an election's campaign both do: grant a lease of `ttl` seconds and keep it,
 * create NAME/<lease id in hex> with `value` tied to the lease (create-only, under an idempotency
 * key `kind`-KEY), and wait until that key is first in line. On a failure the lease is revoked
 * (the key goes with it) and this rejects: with `new Lost(name, why)` when the lease was lost
 * first, with the signal's reason when options.signal aborted, else with the failure as it came
 * (a refused value stays the API's 413).
 */
export async function contend(
  nodes: readonly LockNode[],
  name: string,
  value: string,
  options: {
    readonly ttl: number;
    readonly kind: 'lock' | 'election';
    readonly Lost: new (name: string, reason: string) => Error;
    readonly signal?: AbortSignal;
    readonly now?: () => number;
  },
): Promise<Contender> {
  const prefix = lockPrefix(name);
  const { Lost, signal } = options;
  const lease = await keepLease(nodes, options.ttl, {
    ...(signal && { signal }),
    ...(options.now && { now: options.now }),
  });
  try {
    const key = `${prefix}${lease.id.toString(16)}`;
    // Idempotent: a retry of a create that did apply gets the first answer, not a 409.
    const idempotencyKey = `${options.kind}-${key}`;
    const mine = await onAnyNode(
      nodes,
      (n) =>
        n.put(key, value, { prevValue: null, lease: lease.id, idempotencyKey, ...(signal && { signal }) }),
      signal,
    );
    const listed = await waitForTurn(nodes, prefix, key, mine.createIndex, {
      lost: lease.lost,
      gone: (reason) => new Lost(name, reason),
      ...(signal && { signal }),
    });
    return { key, token: mine.createIndex, lease, listed };
  } catch (e) {
    // Read before the revoke, which aborts `lost` itself (reason "released").
    const lost = lease.lost.aborted ? String(lease.lost.reason) : null;
    await lease.revoke().catch(() => {});
    if (lost !== null && !(e instanceof Lost) && !signal?.aborted) throw new Lost(name, lost);
    throw e;
  }
}

/**
 * Takes lock `name` through `nodes` (any node of the cluster; tried in turn), waiting as long as
 * it takes (or until options.signal aborts: the contender then withdraws and this rejects).
 */
export async function acquireLock(
  nodes: readonly LockNode[],
  name: string,
  options: LockOptions = {},
): Promise<HeldLock> {
  if (nodes.length === 0) throw new TypeError('acquireLock needs at least one node');
  const { key, token, lease } = await contend(nodes, name, options.owner ?? `pid ${process.pid}`, {
    ttl: options.ttl ?? 10,
    kind: 'lock',
    Lost: LockLostError,
    ...(options.signal && { signal: options.signal }),
    ...(options.now && { now: options.now }),
  });
  return {
    name,
    key,
    token,
    leaseId: lease.id,
    ttl: lease.ttl,
    lost: lease.lost,
    validUntil: () => lease.validUntil(),
    release: () => lease.revoke(),
  };
}

/** The lock could not be held: the lease ended, or renewals went unacknowledged for a TTL. */
export class LockLostError extends Error {
  override name = 'LockLostError';
  constructor(
    readonly lock: string,
    readonly reason: string,
  ) {
    super(`lock ${lock} lost: ${reason}`);
  }
}

/**
 * Waits in the queue under `prefix` until `key` (created at index `token`) is the lowest
 * createIndex there, and answers the index of the listing that showed it so. Between listings it
 * watches the key just ahead of its own until that key is deleted. Rejects with `gone(reason)`
 * when its own key is found gone or `lost` fires, with the signal's reason when `signal` aborts.
 */
async function waitForTurn(
  nodes: readonly LockNode[],
  prefix: string,
  key: string,
  token: number,
  options: {
    readonly lost: AbortSignal;
    readonly gone: (reason: string) => Error;
    readonly signal?: AbortSignal;
  },
): Promise<number> {
  const { lost, gone, signal } = options;
  const either = AbortSignal.any([lost, ...(signal ? [signal] : [])]);
  try {
    for (;;) {
      if (lost.aborted) throw gone(String(lost.reason));
      const listing = await listContenders(nodes, prefix, either);
      if (!listing.items.some((i) => i.key === key)) {
        throw gone('the contender key is gone (its lease ended while waiting)');
      }
      const ahead = listing.items.filter((i) => i.createIndex < token);
      if (ahead.length === 0) return listing.index;
      // Wait for the contender just ahead to go; its deletion comes after the listing's index.
      const before = ahead.reduce((a, b) => (b.createIndex > a.createIndex ? b : a));
      await waitForDeletion(nodes, before.key, listing.index + 1, either);
    }
  } catch (e) {
    // The watch rejects with the signal's reason: say which of the two it was.
    if (lost.aborted && !signal?.aborted && e === lost.reason) throw gone(String(lost.reason));
    throw e;
  }
}

/** Resolves once `key` is deleted at or after index `from` (or is already gone by then). */
async function waitForDeletion(
  nodes: readonly LockNode[],
  key: string,
  from: number,
  signal: AbortSignal,
): Promise<void> {
  for await (const e of nodes[0]!.watch({ key }, { fromIndex: from, failover: nodes.slice(1), signal })) {
    if (e.type === 'delete') return;
  }
  signal.throwIfAborted();
}

/** Renews one lease every TTL/3 until released; tracks how long the lease surely lasts. */
class LeaseRenewer {
  private readonly lostController = new AbortController();
  readonly lost = this.lostController.signal;
  /** Send time of the latest acknowledged renewal (or the grant). */
  private lastAckedSend: number;
  private stopped = false;
  private readonly stop = new AbortController();
  private readonly loop: Promise<void>;
  private readonly watchdog: ReturnType<typeof setInterval>;

  constructor(
    private readonly nodes: readonly LeaseNode[],
    private readonly id: number,
    private readonly ttl: number,
    grantSent: number,
    private readonly now: () => number,
  ) {
    this.lastAckedSend = grantSent;
    this.loop = this.run();
    // Checked often enough that `lost` fires close to validUntil.
    this.watchdog = setInterval(() => {
      if (this.now() >= this.validUntil()) this.markLost('no renewal was acknowledged within the TTL');
    }, 50);
  }

  validUntil(): number {
    return this.lastAckedSend + this.ttl * 1000;
  }

  private markLost(reason: string): void {
    if (!this.lost.aborted) this.lostController.abort(reason);
  }

  private async run(): Promise<void> {
    const every = (this.ttl * 1000) / 3;
    while (!this.stopped && !this.lost.aborted) {
      try {
        await sleep(Math.max(0, this.lastAckedSend + every - this.now()), this.stop.signal);
      } catch {
        return;
      }
      const sent = this.now();
      try {
        await onAnyNode(
          this.nodes,
          (n) => n.keepAliveLease(this.id, { signal: this.stop.signal, timeoutMs: Math.max(500, every) }),
          this.stop.signal,
        );
        if (sent > this.lastAckedSend) this.lastAckedSend = sent;
      } catch (e) {
        if (this.stopped) return;
        if (e instanceof RaftkvApiError && e.code === 'lease_not_found') {
          this.markLost('the lease is gone (expired or revoked)');
          return;
        }
        // Anything else: try again shortly; the watchdog says when it is too late.
        await sleep(retryMs, this.stop.signal).catch(() => {});
      }
    }
  }

  async release(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.watchdog);
    this.stop.abort();
    await this.loop;
    if (!this.lost.aborted) this.markLost('released');
    try {
      await onAnyNode(
        this.nodes,
        (n) => n.revokeLease(this.id, { timeoutMs: 2000 }),
        AbortSignal.timeout(5000),
      );
    } catch (e) {
      // Gone already, or unreachable: either way the lease ends by its TTL.
      if (!(e instanceof RaftkvApiError && e.code === 'lease_not_found')) return;
    }
  }
}
