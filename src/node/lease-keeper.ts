// When leases run out (docs/leases.md). The replicated lease table (src/kv/leases.ts) knows no
// clock; this keeps, on EVERY node, a volatile deadline per lease on the node's own monotonic
// clock: when the node applies a lease's grant or keepalive, its deadline is now + ttl. The client
// sent that entry before any node applied it, so on every node the deadline is at least the send
// time + ttl — whatever the clocks read, as long as they run at about the same rate.
//
// Only the leader acts on its deadlines: its periodic check proposes `leaseExpire {id, renewIndex}`
// for each lease past its deadline, and the log ends the lease on every replica at the same entry
// — unless a keepalive was applied in between, which makes the expiry void (the state machine
// compares renewIndex). A new leader uses the deadlines it computed as a follower: resetting them
// on election is etcd's bug #9395 (leases that never expire while leaders keep changing).
//
// Nothing here is persisted: a node that starts (replaying its log) or installs a snapshot counts
// every lease from then (now + ttl) — later, never earlier, than the deadline it had.

import type { ApplyResult } from '../kv/index.js';
import { DeadlineHeap } from './deadline-heap.js';

/** A lease as the keeper times it. */
interface Timed {
  readonly ttl: number;
  readonly renewIndex: number;
  readonly deadline: number;
}

/** What the leader proposes for a lease whose time ran out. */
export interface ExpiryProposal {
  readonly id: number;
  /** The grant or keepalive the deadline counts from: the expiry is void if a later one applied. */
  readonly renewIndex: number;
}

/** A lease's record, as the state machine lists them (sm.leaseRecords()). */
export interface LeaseTiming {
  readonly id: number;
  readonly ttl: number;
  readonly renewIndex: number;
}

/** At most this many expiries proposed per check: 100k leases running out at once take 100 checks. */
export const defaultMaxExpiriesPerCheck = 1000;

export class LeaseKeeper {
  /** Every lease the state machine has, with its deadline here. */
  private readonly timed = new Map<number, Timed>();
  /** Deadlines in time order; entries of renewed or ended leases are dropped as they come out. */
  private readonly heap = new DeadlineHeap();
  /** Leases past their deadline with no expiry in flight, in the order they ran out: id → renewIndex. */
  private readonly overdue = new Map<number, number>();
  /** Expiries proposed and not yet settled: id → the renewIndex proposed. */
  private readonly inFlight = new Map<number, number>();

  constructor(private readonly maxPerCheck = defaultMaxExpiriesPerCheck) {}

  /** Leases this node times (every lease of its state machine). */
  get size(): number {
    return this.timed.size;
  }

  /** Expiries proposed by this node that have not been settled. */
  get expiriesInFlight(): number {
    return this.inFlight.size;
  }

  /** The state machine applied an entry at monotonic time `now` with this result. */
  applied(result: ApplyResult, now: number): void {
    if (result.kind === 'lease') this.start(result.id, result.ttl, result.index, now);
    else if (result.kind === 'lease_ended') this.forget(result.id);
  }

  /**
   * The state machine was replaced (restored at start, or a snapshot installed from the leader):
   * every lease it holds counts its full TTL from now, from its recorded renewal.
   */
  restored(leases: Iterable<LeaseTiming>, now: number): void {
    this.timed.clear();
    this.heap.clear();
    this.overdue.clear();
    this.inFlight.clear();
    for (const l of leases) this.start(l.id, l.ttl, l.renewIndex, now);
  }

  /** Milliseconds left of lease `id` by this node's deadline (0 once it ran out); null if unknown. */
  remainingMs(id: number, now: number): number | null {
    const t = this.timed.get(id);
    return t === undefined ? null : Math.max(0, t.deadline - now);
  }

  /** Moves the leases whose deadline passed by `now` to the overdue list (every node, every tick). */
  advance(now: number): void {
    for (let top = this.heap.peek(); top !== undefined && top.deadline <= now; top = this.heap.peek()) {
      this.heap.pop();
      const t = this.timed.get(top.id);
      // A renewed lease has a newer entry further down; an ended one has none.
      if (t === undefined || t.renewIndex !== top.renewIndex) continue;
      if (this.inFlight.get(top.id) !== top.renewIndex) this.overdue.set(top.id, top.renewIndex);
    }
  }

  /**
   * The leader's check: the expiries to propose now — leases past their deadline with none in
   * flight for the same renewal, at most maxPerCheck, oldest first. Each is in flight until
   * settled().
   */
  due(now: number): ExpiryProposal[] {
    this.advance(now);
    const out: ExpiryProposal[] = [];
    for (const [id, renewIndex] of this.overdue) {
      if (out.length >= this.maxPerCheck) break;
      this.overdue.delete(id);
      this.inFlight.set(id, renewIndex);
      out.push({ id, renewIndex });
    }
    return out;
  }

  /**
   * An expiry from due() was answered: applied (whatever it did: the apply already updated this
   * keeper), or failed (not leader any more, overwritten, timed out): if the lease still counts
   * from the same renewal and its deadline has passed, it is due again at the next check.
   */
  settled(p: ExpiryProposal, failed: boolean, now: number): void {
    if (this.inFlight.get(p.id) !== p.renewIndex) return;
    this.inFlight.delete(p.id);
    const t = this.timed.get(p.id);
    if (failed && t !== undefined && t.renewIndex === p.renewIndex && t.deadline <= now) {
      this.overdue.set(p.id, p.renewIndex);
    }
  }

  /**
   * etcd#9395, for the mutation tests only: every lease counts its full TTL from now, as etcd's
   * new leaders did — so leases never expire while leaders change faster than their TTL.
   */
  resetAllForTest(now: number): void {
    const all = [...this.timed].map(([id, t]) => ({ id, ttl: t.ttl, renewIndex: t.renewIndex }));
    this.restored(all, now);
  }

  private start(id: number, ttl: number, renewIndex: number, now: number): void {
    const deadline = now + ttl * 1000;
    this.timed.set(id, { ttl, renewIndex, deadline });
    this.overdue.delete(id);
    this.heap.push({ deadline, id, renewIndex });
    // Renewals leave their old entries behind until those deadlines pass — a year for a lease of
    // a year: past twice the leases, the heap is rebuilt from the live deadlines (amortised O(1)).
    if (this.heap.size > 2 * this.timed.size + 1024) this.rebuildHeap();
  }

  private rebuildHeap(): void {
    this.heap.clear();
    for (const [id, t] of this.timed) {
      // Those already taken out of the heap (overdue, or an expiry in flight) stay out.
      if (this.overdue.get(id) === t.renewIndex || this.inFlight.get(id) === t.renewIndex) continue;
      this.heap.push({ deadline: t.deadline, id, renewIndex: t.renewIndex });
    }
  }

  private forget(id: number): void {
    this.timed.delete(id);
    this.overdue.delete(id);
    this.inFlight.delete(id);
  }
}
