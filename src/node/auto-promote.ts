// Learners added to become voters (membership.autoPromote) are promoted by whichever node leads,
// once caught up (membership-ops.ts: learnerReadiness) and still so after `stableMs` — a learner
// that is caught up only in a good moment, between two snapshots, is not promoted (the lesson of
// Consul's autopilot "server stabilization time"). Promotion is itself a committed change; one
// that falls behind again before it starts the clock over.

import type { NodeId, Status } from '../raft/index.js';
import { learnerReadiness, type Readiness } from './learner-readiness.js';

export class AutoPromoter {
  /** When each learner was last seen to turn ready (reset when it is not). */
  private readonly readySince = new Map<NodeId, number>();

  constructor(private readonly stableMs: number) {}

  /** The learner to promote now, if one has been ready for long enough; null otherwise. */
  due(status: Status, now: number): NodeId | null {
    let due: NodeId | null = null;
    for (const id of [...this.readySince.keys()]) {
      if (!status.membership.autoPromote.includes(id)) this.readySince.delete(id);
    }
    for (const id of status.membership.autoPromote) {
      const r = learnerReadiness(status, id);
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
