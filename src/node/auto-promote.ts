// Learners added to become voters (membership.autoPromote) are promoted by whichever node leads,
// once caught up (membership-ops.ts: learnerReadiness) and still so after `stableMs` — a learner
// that is caught up only in a good moment, between two snapshots, is not promoted (the lesson of
// Consul's autopilot "server stabilization time"). Promotion is itself a committed change; one
// that falls behind again before it starts the clock over.
//
// "Answered within the last election timeout" is judged over time, not at the instant of a check:
// the core's recentActive is cleared for every follower at the start of each CheckQuorum round
// and set again by its next answer, so a check that lands between the two would see every learner
// inactive once per election timeout and restart its clock: with the nodes in their own processes,
// a caught-up learner could wait minutes to be promoted, idle or under writes.

import type { NodeId, Status } from '../raft/index.js';
import { learnerReadiness, type Readiness } from './learner-readiness.js';

export class AutoPromoter {
  /** When each learner was last seen to turn ready (reset when it is not). */
  private readonly readySince = new Map<NodeId, number>();
  /** When each learner was last seen active (heard from in the current CheckQuorum round). */
  private readonly activeAt = new Map<NodeId, number>();

  constructor(
    private readonly stableMs: number,
    /** The election timeout: how long one CheckQuorum round lasts. */
    private readonly roundMs: number,
  ) {}

  /** The learner to promote now, if one has been ready for long enough; null otherwise. */
  due(status: Status, now: number): NodeId | null {
    let due: NodeId | null = null;
    for (const id of [...this.readySince.keys(), ...this.activeAt.keys()]) {
      if (!status.membership.autoPromote.includes(id)) {
        this.readySince.delete(id);
        this.activeAt.delete(id);
      }
    }
    for (const id of status.membership.autoPromote) {
      const r = learnerReadiness(this.heardRecently(status, id, now), id);
      if (r === null || !r.ready) {
        this.readySince.delete(id);
        continue;
      }
      const since = this.readySince.get(id) ?? now;
      this.readySince.set(id, since);
      if (due === null && now - since >= this.stableMs) due = id;
    }
    return due;
  }

  /**
   * `status`, with learner `id` counted active if it was seen active within the last round: a new
   * round that has not heard from it yet says nothing about whether it answers.
   */
  private heardRecently(status: Status, id: NodeId, now: number): Status {
    const p = status.progress?.[id];
    if (p === undefined) return status;
    if (p.recentActive) {
      this.activeAt.set(id, now);
      return status;
    }
    const at = this.activeAt.get(id);
    if (at === undefined || now - at > this.roundMs) return status;
    return { ...status, progress: { ...status.progress, [id]: { ...p, recentActive: true } } };
  }

  /** What /debug shows for each learner awaiting promotion (leader only). */
  report(status: Status, now: number): Record<NodeId, Readiness & { readonly stableForMs: number }> {
    const out: Record<NodeId, Readiness & { readonly stableForMs: number }> = {};
    for (const id of status.membership.learners) {
      const r = learnerReadiness(status, id);
      if (r === null) continue;
      const since = this.readySince.get(id);
      out[id] = { ...r, stableForMs: since === undefined ? 0 : now - since };
    }
    return out;
  }
}
