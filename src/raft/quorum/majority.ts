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
  const n = voters.length;
  if (n === 0) return 0;
  // An insertion sort into a reused array: this runs on every acknowledgement a leader receives,
  // voter sets are small, and map + sort allocated two arrays each time (garbage that a single
  // client's writes then waited on in the young-generation collections).
  for (let i = 0; i < n; i++) {
    const index = indexOf(present(voters[i], 'a voter'));
    let j = i;
    for (; j > 0; j--) {
      const above = present(scratch[j - 1], 'a sorted index');
      if (above >= index) break;
      scratch[j] = above;
    }
    scratch[j] = index;
  }
  return present(scratch[quorumSize(n) - 1], 'the quorum-th index');
}

/** committedIndex's working array; the core runs on one thread and never re-enters it. */
const scratch: number[] = [];

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
