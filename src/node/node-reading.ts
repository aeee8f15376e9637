// The node's state for a metrics scrape, read in one pass from the core's status and the state
// machine: nothing here runs on the write path.

import type { NodeReading } from '../api/metrics.js';
import type { NodeId } from '../raft/index.js';
import type { Driver } from './driver.js';

export function readNode(driver: Driver): NodeReading {
  const s = driver.raw.status();
  const sm = driver.sm;
  const { voters, outgoingVoters, learners } = s.membership;
  const allVoters = new Set([...voters, ...outgoingVoters]);
  const members = new Set([...allVoters, ...learners]);
  members.delete(s.id);
  const followerLag = new Map<NodeId, number>();
  if (s.progress !== null) {
    for (const [id, p] of Object.entries(s.progress)) {
      if (id !== s.id) followerLag.set(id, Math.max(0, s.lastIndex - p.match));
    }
  }
  return {
    term: s.term,
    leaderKnown: s.leaderId !== null,
    isLeader: s.role === 'leader',
    isLearner: learners.includes(s.id),
    commitIndex: s.commitIndex,
    appliedIndex: sm.lastApplied,
    keys: sm.size,
    leases: sm.leaseCount,
    pendingProposals: driver.writes.size,
    voters: allVoters.size,
    learners: learners.length,
    peers: [...members],
    followerLag,
    noSpace: sm.noSpaceAlarms.length > 0,
    stateBytes: sm.stateBytes,
    quotaBytes: sm.quotaBytes,
    watchers: driver.watches.counts(),
  };
}
