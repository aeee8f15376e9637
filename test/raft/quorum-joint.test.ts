// Goal: joint consensus arithmetic (§4.3) against references a reader can check by hand: while
// joint, a decision needs a majority of the incoming voters and a majority of the outgoing ones;
// with no outgoing set it is plain majority arithmetic.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  jointCommittedIndex,
  jointHasQuorum,
  jointVoteResult,
  type VoterSets,
} from '../../src/raft/quorum/joint.js';
import { committedIndex, hasQuorum, quorumSize, voteResult } from '../../src/raft/quorum/majority.js';

const ids = ['a', 'b', 'c', 'd', 'e', 'f', 'g'];

/** Two voter sets drawn from the same small universe, so they overlap in every way. */
const voterSets = fc
  .record({
    incoming: fc.subarray(ids, { minLength: 1 }),
    outgoing: fc.subarray(ids),
  })
  .map((s): VoterSets => s);

const majorityOf = (set: readonly string[], holds: (id: string) => boolean): boolean =>
  set.filter(holds).length >= quorumSize(set.length);

test('joint: the committed index is the largest index a majority of EACH set has reached', () => {
  fc.assert(
    fc.property(
      voterSets,
      fc.array(fc.nat(20), { minLength: ids.length, maxLength: ids.length }),
      (sets, raw) => {
        const match = (id: string) => raw[ids.indexOf(id)] ?? 0;
        let expected = 0;
        for (let i = 1; i <= 20; i++) {
          const reached = (id: string) => match(id) >= i;
          if (
            majorityOf(sets.incoming, reached) &&
            (sets.outgoing.length === 0 || majorityOf(sets.outgoing, reached))
          )
            expected = i;
        }
        assert.equal(jointCommittedIndex(sets, match), expected);
      },
    ),
  );
});

test('joint: with no outgoing set, every rule is the plain majority rule', () => {
  fc.assert(
    fc.property(
      fc.subarray(ids, { minLength: 1 }),
      fc.array(fc.nat(9), { minLength: ids.length, maxLength: ids.length }),
      (voters, raw) => {
        const sets = { incoming: voters, outgoing: [] };
        const match = (id: string) => raw[ids.indexOf(id)] ?? 0;
        assert.equal(jointCommittedIndex(sets, match), committedIndex(voters, match));
        const active = (id: string) => (raw[ids.indexOf(id)] ?? 0) % 2 === 0;
        assert.equal(jointHasQuorum(sets, active), hasQuorum(voters, active));
        const votes = new Map(voters.map((id, i) => [id, (raw[i] ?? 0) % 3 !== 0] as const));
        assert.equal(jointVoteResult(sets, votes), voteResult(voters, votes));
      },
    ),
  );
});

test('joint: an election is won only with both majorities, lost once either is out of reach', () => {
  fc.assert(
    fc.property(
      voterSets,
      fc.array(fc.constantFrom(true, false, undefined), { minLength: ids.length, maxLength: ids.length }),
      (sets, answers) => {
        const votes = new Map<string, boolean>();
        ids.forEach((id, i) => {
          const a = answers[i];
          if (a !== undefined) votes.set(id, a);
        });
        const granted = (id: string) => votes.get(id) === true;
        const mayStillGrant = (id: string) => votes.get(id) !== false;
        const sets2 = sets.outgoing.length === 0 ? [sets.incoming] : [sets.incoming, sets.outgoing];
        const expected = sets2.every((s) => majorityOf(s, granted))
          ? 'won'
          : sets2.some((s) => !majorityOf(s, mayStillGrant))
            ? 'lost'
            : 'pending';
        assert.equal(jointVoteResult(sets, votes), expected);
      },
    ),
  );
});

test('joint: replacing c by d in {a,b,c} — a and b alone decide both sets; a and d do not', () => {
  const sets = { incoming: ['a', 'b', 'd'], outgoing: ['a', 'b', 'c'] };
  assert.equal(
    jointHasQuorum(sets, (id) => id === 'a' || id === 'b'),
    true,
  );
  // a and d are a majority of the new set only: the old configuration has not agreed.
  assert.equal(
    jointHasQuorum(sets, (id) => id === 'a' || id === 'd'),
    false,
  );
  const match: Record<string, number> = { a: 7, b: 3, c: 9, d: 9 };
  // New set {a:7, b:3, d:9} → 7; old set {a:7, b:3, c:9} → 7.
  assert.equal(
    jointCommittedIndex(sets, (id) => match[id] ?? 0),
    7,
  );
});
