// Disk-stall protection: a leader whose fsync has been running longer than a bound (by default
// about an election timeout) cannot commit anything, yet its heartbeats would keep the followers
// from electing someone who can. So it hands leadership to its most caught-up live follower
// (§3.10) and, if that does not happen within another bound, steps down outright. Pure: time is
// whatever unit the caller counts in (milliseconds in the node, ticks in the simulator).

import type { NodeId, Status } from '../raft/index.js';

export type StallAction =
  | { readonly kind: 'none' }
  | { readonly kind: 'transfer'; readonly to: NodeId }
  | { readonly kind: 'stepDown' };

const none: StallAction = { kind: 'none' };

export class DiskStallGuard {
  /** When the current stall was noticed (its sync had run for `bound`), or null. */
  private stallSince: number | null = null;
  /** When the current stall's transfer was attempted, or null. */
  private transferAt: number | null = null;
  stalls = 0;

  constructor(readonly bound: number) {}

  /**
   * What to do now, given when the in-flight sync started (null: none in flight). The caller
   * carries out a transfer with RawNode.transferLeadership and, if the core refuses it, steps
   * down at once. With no live target right away (CheckQuorum clears every follower's activity
   * flag once per election timeout, so none may look live for a round trip), it keeps looking
   * for one more bound before stepping down.
   */
  check(syncStartedAt: number | null, now: number, status: Status): StallAction {
    if (syncStartedAt === null || now - syncStartedAt < this.bound) {
      this.stallSince = null;
      this.transferAt = null;
      return none;
    }
    if (status.role !== 'leader') return none;
    if (this.stallSince === null) {
      this.stallSince = now;
      this.stalls++;
    }
    if (this.transferAt === null) {
      const to = bestTransferTarget(status);
      if (to !== null) {
        this.transferAt = now;
        return { kind: 'transfer', to };
      }
      return now - this.stallSince >= this.bound ? { kind: 'stepDown' } : none;
    }
    return now - this.transferAt >= this.bound ? { kind: 'stepDown' } : none;
  }
}

/** The live voter with the longest matching log: it can take over soonest (a learner cannot). */
export function bestTransferTarget(status: Status): NodeId | null {
  let best: NodeId | null = null;
  let bestMatch = -1;
  for (const [id, follower] of Object.entries(status.progress ?? {})) {
    if (id === status.id || !follower.recentActive || follower.state === 'snapshot') continue;
    if (!status.membership.voters.includes(id)) continue;
    if (follower.match > bestMatch) {
      best = id;
      bestMatch = follower.match;
    }
  }
  return best;
}
