// Leader election among clients, etcd's recipe (its concurrency.Election) on the lock's queue.
//
// A contender for election NAME does what a contender for lock NAME does (lock.ts): it grants
// itself a lease, renews it every TTL/3, creates NAME/<lease id in hex> tied to the lease with its
// value, and waits until its key has the lowest createIndex under NAME/, watching only the key
// just ahead of its own. It then leads, and its key's createIndex is its fencing token (larger
// for every later leader). What the election adds to the lock:
// - the leader's value is public: leader() reads it and observe() follows it, so followers learn
//   who leads (an address, say) without asking the leader;
// - proclaim() changes the value in place, guarded by a transaction that holds only while the key
//   is still the one this contender created (its createIndex): a leader whose key is gone learns
//   it lost, instead of writing a value nobody leads with;
// - the leader watches its own key, so a delete behind its back (a revoke through another client,
//   a DELETE of the key) makes `lost` fire at once, not at the next renewal — etcd's Election
//   does not, and a leader whose key was deleted there leads on next to the new one
//   (etcd-io/etcd#15738).

import { randomUUID } from 'node:crypto';
import { RaftkvApiError } from './errors.js';
import { contend, type KeptLease, type LockNode, listContenders, lockPrefix, onAnyNode } from './lock.js';
import type { ListOptions, TxnBody, WriteOptions } from './requests.js';
import { WatchCompactedError } from './watch.js';

interface Call {
  readonly signal?: AbortSignal;
  readonly timeoutMs?: number;
}

/** What an election needs of a node: RaftkvClient is one. */
export interface ElectionNode extends LockNode {
  list(
    prefix: string,
    options?: ListOptions & Call,
  ): Promise<{
    readonly items: readonly {
      readonly key: string;
      readonly value: string;
      readonly createIndex: number;
    }[];
    readonly index: number;
  }>;
  txn(body: TxnBody, options?: WriteOptions & Call): Promise<{ readonly succeeded: boolean }>;
}

/** Who leads an election: the contender key with the lowest createIndex under NAME/. */
export interface Leader {
  /** NAME/<the leader's lease id in hex>. */
  readonly key: string;
  /** What the leader campaigned with, or proclaimed last. */
  readonly value: string;
  /** The leader's fencing token: its key's createIndex. Every later leader's is larger. */
  readonly token: number;
}

export interface CampaignOptions {
  /** The lease's TTL in seconds (default 10). */
  readonly ttl?: number;
  /** Gives up campaigning (and withdraws) when aborted; a leader's signal no longer matters. */
  readonly signal?: AbortSignal;
  /** Milliseconds on a monotonic clock (default performance.now). */
  readonly now?: () => number;
}

export interface Leadership extends Leader {
  readonly name: string;
  readonly leaseId: number;
  readonly ttl: number;
  /**
   * Aborted once this contender may no longer lead: its lease is gone, renewals went
   * unacknowledged for a TTL, its key was deleted, a proclaim found the key gone, or resign() was
   * called (reason "resigned"). It does not come back: campaign again.
   */
  readonly lost: AbortSignal;
  /**
   * The monotonic time (options.now's clock, ms) until which the leadership surely lasts: the
   * send of the latest acknowledged renewal + TTL, given clock rates that agree. Once `lost` has
   * fired, no later than the moment it fired.
   */
  validUntil(): number;
  /**
   * Changes the value while keeping the leadership (one guarded transaction). Rejects with
   * LeadershipLostError, and `lost` fires, if the key is no longer this contender's.
   */
  proclaim(value: string): Promise<void>;
  /** Stops renewing and revokes the lease, which deletes the key: the next in line leads. */
  resign(): Promise<void>;
}

/** This contender does not lead (any more): its lease or its key is gone. */
export class LeadershipLostError extends Error {
  override name = 'LeadershipLostError';
  constructor(
    readonly election: string,
    readonly reason: string,
  ) {
    super(`leadership of ${election} lost: ${reason}`);
  }
}

/**
 * Campaigns in election `name` with `value` through `nodes` (any nodes of the cluster, tried in
 * turn) and resolves once this contender leads — after every contender ahead of it has resigned or
 * lost its lease. Aborting options.signal while waiting withdraws the contender (this rejects
 * with the signal's reason).
 */
export async function campaign(
  nodes: readonly ElectionNode[],
  name: string,
  value: string,
  options: CampaignOptions = {},
): Promise<Leadership> {
  if (nodes.length === 0) throw new TypeError('campaign needs at least one node');
  const { key, token, lease, listed } = await contend(nodes, name, value, {
    ttl: options.ttl ?? 10,
    kind: 'election',
    Lost: LeadershipLostError,
    ...(options.signal && { signal: options.signal }),
    ...(options.now && { now: options.now }),
  });
  return new Held(nodes, name, key, token, value, lease, listed, options.now);
}

/** A leadership held: the lease kept alive, the key watched, proclaim and resign. */
class Held implements Leadership {
  private readonly ended = new AbortController();
  readonly lost = this.ended.signal;
  private current: string;
  private lostAt: number | null = null;

  constructor(
    private readonly nodes: readonly ElectionNode[],
    readonly name: string,
    readonly key: string,
    readonly token: number,
    value: string,
    private readonly lease: KeptLease,
    listed: number,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.current = value;
    if (lease.lost.aborted) this.end(String(lease.lost.reason));
    else lease.lost.addEventListener('abort', () => this.end(String(lease.lost.reason)), { once: true });
    void this.watchKey(listed + 1);
  }

  get value(): string {
    return this.current;
  }

  get leaseId(): number {
    return this.lease.id;
  }

  get ttl(): number {
    return this.lease.ttl;
  }

  validUntil(): number {
    return this.lostAt ?? this.lease.validUntil();
  }

  async proclaim(value: string): Promise<void> {
    if (this.lost.aborted) throw new LeadershipLostError(this.name, String(this.lost.reason));
    // The put keeps the key on the lease: a put without one would untie it (docs/leases.md).
    const body: TxnBody = {
      compare: [{ key: this.key, target: 'createIndex', op: '==', value: this.token }],
      success: [{ put: { key: this.key, value, lease: this.lease.id } }],
    };
    const idempotencyKey = `election-proclaim-${randomUUID()}`;
    let applied: boolean;
    try {
      const answer = await onAnyNode(this.nodes, (n) => n.txn(body, { idempotencyKey }), this.lost);
      applied = answer.succeeded;
    } catch (e) {
      if (this.lost.aborted) throw new LeadershipLostError(this.name, String(this.lost.reason));
      if (!(e instanceof RaftkvApiError && e.code === 'lease_not_found')) throw e;
      applied = false;
    }
    if (!applied) {
      this.end('the leader key is gone (a proclaim found it missing or re-created)');
      throw new LeadershipLostError(this.name, String(this.lost.reason));
    }
    this.current = value;
  }

  async resign(): Promise<void> {
    this.end('resigned');
    await this.lease.revoke();
  }

  /** Leadership ends once: stop watching and renewing; the lease goes (it has no other use). */
  private end(reason: string): void {
    if (this.lost.aborted) return;
    this.lostAt = Math.min(this.now(), this.lease.validUntil());
    this.ended.abort(reason);
    if (reason !== 'resigned') void this.lease.revoke().catch(() => {});
  }

  /** Ends the leadership when the key is deleted (or found gone) from index `from` on. */
  private async watchKey(from: number): Promise<void> {
    const [first, ...rest] = this.nodes;
    const signal = this.lost;
    while (!signal.aborted) {
      try {
        for await (const e of first!.watch({ key: this.key }, { fromIndex: from, failover: rest, signal })) {
          if (e.type === 'delete') {
            this.end('the leader key was deleted');
            return;
          }
        }
        return;
      } catch (e) {
        if (signal.aborted) return;
        // Too far behind for the history: look at the key itself and watch on from there. Any
        // other failure is a refusal (a 4xx) that trying again would not mend: the lease's own
        // renewals still tell when it is gone.
        if (!(e instanceof WatchCompactedError)) return;
        let found: Awaited<ReturnType<typeof findKey>>;
        try {
          found = await findKey(this.nodes, this.key, signal);
        } catch {
          return;
        }
        if (found.item === null || found.item.createIndex !== this.token) {
          this.end('the leader key is gone');
          return;
        }
        from = found.index + 1;
      }
    }
  }
}

/** One key and the index the read observed, by a linearizable list of the key as prefix. */
async function findKey(
  nodes: readonly ElectionNode[],
  key: string,
  signal?: AbortSignal,
): Promise<{
  readonly item: { readonly value: string; readonly createIndex: number } | null;
  index: number;
}> {
  const listing = await onAnyNode(nodes, (n) => n.list(key, { limit: 1, ...(signal && { signal }) }), signal);
  const item = listing.items[0];
  return { item: item !== undefined && item.key === key ? item : null, index: listing.index };
}

/** The leader among listed contender keys: the lowest createIndex. */
function lowest(
  items: Iterable<{ readonly key: string; readonly value: string; readonly createIndex: number }>,
): Leader | null {
  let best: Leader | null = null;
  for (const i of items) {
    if (best === null || i.createIndex < best.token)
      best = { key: i.key, value: i.value, token: i.createIndex };
  }
  return best;
}

/**
 * The current leader of election `name` (null: none), by one linearizable list of NAME/ (at most
 * 10,000 contenders, as for the lock).
 */
export async function leader(
  nodes: readonly ElectionNode[],
  name: string,
  options: { readonly signal?: AbortSignal } = {},
): Promise<Leader | null> {
  if (nodes.length === 0) throw new TypeError('leader needs at least one node');
  const listing = await listContenders(nodes, lockPrefix(name), options.signal);
  return lowest(listing.items);
}

function same(a: Leader | null, b: Leader | null): boolean {
  return (
    a === b || (a !== null && b !== null && a.key === b.key && a.token === b.token && a.value === b.value)
  );
}

/**
 * The leader of election `name` as it changes: first the current one (or null), then again every
 * time another contender leads, the leader proclaims a new value, or no one leads (null). Built
 * on a list of NAME/ and one watch of the prefix from the list's index on, resuming on the other
 * nodes when one fails. Every yield is the leader as of some index of the log, in log order, but
 * changes that follow each other quickly may be seen as one: an observer can see A then C without the
 * short-lived B. Ends when options.signal aborts (or the caller stops iterating); rejects only
 * for a refused request (RaftkvApiError: a 400, 401, 403).
 */
export async function* observe(
  nodes: readonly ElectionNode[],
  name: string,
  options: { readonly signal?: AbortSignal } = {},
): AsyncGenerator<Leader | null, void, undefined> {
  if (nodes.length === 0) throw new TypeError('observe needs at least one node');
  const prefix = lockPrefix(name);
  const { signal } = options;
  const [first, ...rest] = nodes;
  let shown: Leader | null | undefined;
  try {
    for (;;) {
      // The contenders as of the listing; then every change after it, createIndex tracked from
      // the puts that create keys (a watch event does not carry it).
      const listing = await listContenders(nodes, prefix, signal);
      const keys = new Map(listing.items.map((i) => [i.key, { value: i.value, createIndex: i.createIndex }]));
      let now = lowest(withKeys(keys));
      if (shown === undefined || !same(shown, now)) {
        shown = now;
        yield now;
      }
      try {
        const events = first!.watch(
          { prefix },
          { fromIndex: listing.index + 1, failover: rest, ...(signal && { signal }) },
        );
        for await (const e of events) {
          if (e.type === 'delete') keys.delete(e.key);
          else {
            const had = keys.get(e.key);
            keys.set(e.key, { value: e.value ?? '', createIndex: had?.createIndex ?? e.index });
          }
          now = lowest(withKeys(keys));
          if (!same(shown, now)) {
            shown = now;
            yield now;
          }
        }
        return;
      } catch (e) {
        // Too far behind for the history: read the contenders again and watch on from there.
        if (!(e instanceof WatchCompactedError)) throw e;
      }
    }
  } catch (e) {
    if (signal?.aborted) return;
    throw e;
  }
}

function* withKeys(
  keys: ReadonlyMap<string, { readonly value: string; readonly createIndex: number }>,
): Iterable<{ readonly key: string; readonly value: string; readonly createIndex: number }> {
  for (const [key, v] of keys) yield { key, ...v };
}

/** Election `name` on `nodes` (a function: asked afresh for each call, e.g. the preferred first). */
export interface Election {
  readonly name: string;
  campaign(value: string, options?: CampaignOptions): Promise<Leadership>;
  leader(options?: { readonly signal?: AbortSignal }): Promise<Leader | null>;
  observe(options?: { readonly signal?: AbortSignal }): AsyncGenerator<Leader | null, void, undefined>;
}

/** The three calls of election `name` bound to the nodes `nodes()` gives at each call. */
export function electionOn(nodes: () => readonly ElectionNode[], name: string): Election {
  lockPrefix(name);
  return {
    name,
    campaign: (value, options) => campaign(nodes(), name, value, options),
    leader: (options) => leader(nodes(), name, options),
    observe: (options) => observe(nodes(), name, options),
  };
}
