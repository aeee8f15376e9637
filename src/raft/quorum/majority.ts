// Quorum arithmetic for one voter set (joint consensus would combine two of these).

import { present } from '../../assert.js';
import type { NodeId } from '../types.js';

export type VoteResult = 'won' | 'lost' | 'pending';

export function quorumSize(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index that a majority of voters has reached: sort the voters' indexes descending
 * and take the quorum-th. Voters missing from `indexOf` count as 0.
 */
export function committedIndex(voters: readonly NodeId[], indexOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const sorted = voters.map(indexOf).sort((a, b) => b - a);
  return present(sorted[quorumSize(voters.length) - 1], 'the quorum-th index');
}

/** Outcome of an election given the votes received so far (absent = not yet answered). */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const v = votes.get(id);
    if (v === true) granted++;
    else if (v === false) rejected++;
  }
  const q = quorumSize(voters.length);
  if (granted >= q) return 'won';
  if (voters.length - rejected < q) return 'lost';
  return 'pending';
}

/** True when the voters for which `active` holds form a majority. */
export function hasQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let n = 0;
  for (const id of voters) if (active(id)) n++;
  return n >= quorumSize(voters.length);
}
