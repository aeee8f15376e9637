// Joint consensus (§4.3): while the cluster moves from one voter set to another, every decision —
// an election, a commitment, a CheckQuorum or ReadIndex round — needs a majority of the incoming
// set AND a majority of the outgoing one, so neither the old nor the new configuration can decide
// alone. Outside a change the outgoing set is empty and only the incoming majority counts.

import type { NodeId } from '../types.js';
import { committedIndex, hasQuorum, type VoteResult, voteResult } from './majority.js';

export interface VoterSets {
  /** The voters of the configuration being entered (or the only one). */
  readonly incoming: readonly NodeId[];
  /** The voters of the configuration being left; empty unless joint. */
  readonly outgoing: readonly NodeId[];
}

function isJoint(sets: VoterSets): boolean {
  return sets.outgoing.length > 0;
}

/** The largest index a majority of each set has reached. */
export function jointCommittedIndex(sets: VoterSets, indexOf: (id: NodeId) => number): number {
  const incoming = committedIndex(sets.incoming, indexOf);
  if (!isJoint(sets)) return incoming;
  return Math.min(incoming, committedIndex(sets.outgoing, indexOf));
}

/** Won once both majorities granted; lost once either can no longer be reached. */
export function jointVoteResult(sets: VoterSets, votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  const incoming = voteResult(sets.incoming, votes);
  if (!isJoint(sets)) return incoming;
  const outgoing = voteResult(sets.outgoing, votes);
  if (incoming === 'lost' || outgoing === 'lost') return 'lost';
  if (incoming === 'won' && outgoing === 'won') return 'won';
  return 'pending';
}

/** True when the voters for which `active` holds form a majority of each set. */
export function jointHasQuorum(sets: VoterSets, active: (id: NodeId) => boolean): boolean {
  if (!hasQuorum(sets.incoming, active)) return false;
  return !isJoint(sets) || hasQuorum(sets.outgoing, active);
}
