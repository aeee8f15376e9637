// Goal: the core's small pieces, each against a reference a reader can check by hand: the quorum
// arithmetic (a brute-force count over every subset), the leader lease (§6.4.1), and the
// in-flight window of a replicating follower. The simulator covers them in aggregate; these say
// what each one promises on its own.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { LeaderLease, leaseMarginTicks } from '../../src/raft/lease.js';
import { Inflights } from '../../src/raft/progress/inflights.js';
import { committedIndex, hasQuorum, quorumSize, voteResult } from '../../src/raft/quorum/majority.js';

const votersOf = (n: number): string[] => Array.from({ length: n }, (_, i) => `n${i + 1}`);

test('quorum: committedIndex is the largest index a majority has reached (brute force)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 7 }), (matches) => {
      const voters = votersOf(matches.length);
      const got = committedIndex(voters, (id) => matches[voters.indexOf(id)] ?? 0);
      // Reference: the largest i such that at least a majority have match ≥ i.
      let expected = 0;
      for (let i = 0; i <= 20; i++)
        if (matches.filter((m) => m >= i).length >= quorumSize(matches.length)) expected = i;
      assert.equal(got, expected);
    }),
  );
});

test('quorum: an election is won with a majority of grants, lost once a majority cannot be reached', () => {
  fc.assert(
    fc.property(
      fc.array(fc.constantFrom(true, false, undefined), { minLength: 1, maxLength: 7 }),
      (answers) => {
        const voters = votersOf(answers.length);
        const votes = new Map<string, boolean>();
        answers.forEach((a, i) => {
          if (a !== undefined) votes.set(voters[i]!, a);
        });
        const granted = answers.filter((a) => a === true).length;
        const open = answers.filter((a) => a === undefined).length;
        const q = quorumSize(answers.length);
        const expected = granted >= q ? 'won' : granted + open < q ? 'lost' : 'pending';
        assert.equal(voteResult(voters, votes), expected);
        assert.equal(
          hasQuorum(voters, (id) => votes.get(id) === true),
          granted >= q,
        );
      },
    ),
  );
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(quorumSize), [1, 2, 2, 3, 3, 4, 4]);
});

test('lease: none before a majority answered a round; then it runs from the send tick for E − margin', () => {
  const E = 10;
  const lease = new LeaderLease(E);
  assert.equal(lease.valid(0), false, 'no round confirmed yet');
  lease.roundSent(1, 5);
  assert.equal(lease.valid(5), false, 'sent, not answered');
  lease.roundConfirmed(1);
  assert.equal(lease.valid(5), true);
  assert.equal(lease.valid(5 + E - leaseMarginTicks - 1), true, 'last tick of the lease');
  assert.equal(lease.valid(5 + E - leaseMarginTicks), false, 'runs out before any follower could vote');
  // A later round extends it from its own send tick; an earlier confirmation never moves it back.
  lease.roundSent(2, 9);
  lease.roundSent(3, 12);
  lease.roundConfirmed(3);
  assert.equal(lease.valid(12 + E - leaseMarginTicks - 1), true);
  lease.roundConfirmed(2);
  assert.equal(lease.valid(12 + E - leaseMarginTicks - 1), true);
  // Re-sending a round keeps its first send tick (the earliest moment the followers may answer).
  lease.roundSent(4, 20);
  lease.roundSent(4, 25);
  lease.roundConfirmed(4);
  assert.equal(lease.valid(20 + E - leaseMarginTicks), false);
});

test('lease: a TimeoutNow revokes it for the rest of the term; a new term starts without one', () => {
  const lease = new LeaderLease(10);
  lease.roundSent(1, 0);
  lease.roundConfirmed(1);
  assert.equal(lease.valid(1), true);
  lease.revoke();
  assert.equal(lease.valid(1), false);
  lease.roundSent(2, 2);
  lease.roundConfirmed(2);
  assert.equal(lease.valid(3), false, 'still revoked');
  lease.reset();
  assert.equal(lease.valid(3), false, 'a new term: nothing confirmed');
  lease.roundSent(1, 3);
  lease.roundConfirmed(1);
  assert.equal(lease.valid(4), true);
});

test('lease, mutation leaseNeverExpires: once a round is confirmed it holds whatever the time, until revoked or reset', () => {
  const lease = new LeaderLease(10, true);
  assert.equal(lease.valid(0), false, 'still none before a majority answered');
  lease.roundSent(1, 0);
  lease.roundConfirmed(1);
  assert.equal(lease.valid(1_000_000), true, 'never runs out');
  lease.revoke();
  assert.equal(lease.valid(1), false, 'a TimeoutNow still revokes it');
  lease.reset();
  assert.equal(lease.valid(1), false, 'a new term starts without one');
});

test('inflights: a bounded window in messages and bytes, freed by acknowledgements in order', () => {
  const w = new Inflights(3, 1000);
  w.add(5, 100);
  w.add(9, 100);
  assert.equal(w.full(), false);
  w.add(12, 100);
  assert.equal(w.full(), true, 'three messages');
  w.freeThrough(9);
  assert.equal(w.count(), 1, 'acknowledging 9 frees the messages ending at 5 and 9');
  w.freeFirstOne();
  assert.equal(w.count(), 0);
  w.add(20, 1000);
  assert.equal(w.full(), true, 'a thousand bytes');
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 5 }), { maxLength: 200 }),
      fc.integer({ min: 0, max: 600 }),
      (steps, ack) => {
        const win = new Inflights(1000, 1 << 30);
        let last = 0;
        for (const s of steps) {
          last += s;
          win.add(last, 1);
        }
        win.freeThrough(ack);
        // Reference: the messages whose last index is above the acknowledgement stay.
        let kept = 0;
        let at = 0;
        for (const s of steps) {
          at += s;
          if (at > ack) kept++;
        }
        assert.equal(win.count(), kept);
      },
    ),
  );
});
