// When a learner is caught up enough to vote, as the leader judges it: the rule auto-promotion
// (auto-promote.ts) and an operator's promote request (membership-ops.ts) share.

import type { NodeId, Status } from '../raft/index.js';

/**
 * When a learner is caught up enough to vote (thesis §4.2.1: a new server without the log would
 * leave the cluster unable to commit until it caught up). The leader judges it, from its Progress:
 *  - it is being replicated to normally (replicate state: no snapshot in flight, no probing);
 *  - it answered within the last CheckQuorum round (an election timeout);
 *  - it trails the leader's last index by at most `learnerLagEntriesMax` entries, the rule etcd
 *    and Consul use in spirit (etcd: at least 90% of the leader's match; Consul: 250 entries) — an
 *    absolute bound, so a learner of a busy cluster is never held back by a percentage of a long log.
 * Auto-promotion (learners added with `learner: false`) also wants it to have stayed so for
 * `learnerStableMs`, so a learner that flaps is not promoted in a good moment.
 */
export const learnerLagEntriesMax = 250;

export interface Readiness {
  readonly ready: boolean;
  /** Entries behind the leader's last index. */
  readonly behind: number;
  /** What is not met yet, for the operator (learner_not_ready, /debug). */
  readonly reason: string;
}

/** The leader's view of learner `id` (null when this node does not lead or `id` is no learner). */
export function learnerReadiness(status: Status, id: NodeId): Readiness | null {
  if (status.role !== 'leader' || !status.membership.learners.includes(id)) return null;
  const p = status.progress?.[id];
  if (p === undefined) return { ready: false, behind: status.lastIndex, reason: 'no progress known yet' };
  const behind = Math.max(0, status.lastIndex - p.match);
  if (p.state === 'snapshot') return { ready: false, behind, reason: 'a snapshot is being sent to it' };
  if (p.state === 'probe')
    return { ready: false, behind, reason: 'the leader is still finding where its log matches' };
  if (!p.recentActive)
    return { ready: false, behind, reason: 'it has not answered the leader within an election timeout' };
  if (behind > learnerLagEntriesMax) {
    return {
      ready: false,
      behind,
      reason: `it is ${behind} entries behind (at most ${learnerLagEntriesMax} allowed)`,
    };
  }
  return { ready: true, behind, reason: 'caught up' };
}
