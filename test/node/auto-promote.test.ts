// Goal: a learner added to become a voter is promoted once it has been caught up and answering
// for the stabilisation time, however the leader's checks fall within its CheckQuorum rounds (the
// start of each round marks every follower inactive until its next answer); one that really
// stops answering, or needs a snapshot, starts the clock over.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AutoPromoter } from '../../src/node/auto-promote.js';
import type { ProgressStatus, Status } from '../../src/raft/index.js';

const roundMs = 500;
const stableMs = 1500;
const tickMs = 50;

function status(n4: Partial<ProgressStatus>): Status {
  return {
    id: 'n1',
    role: 'leader',
    term: 2,
    votedFor: 'n1',
    leaderId: 'n1',
    commitIndex: 10,
    lastApplied: 10,
    lastIndex: 10,
    firstIndex: 1,
    voters: ['n1', 'n2', 'n3'],
    membership: {
      voters: ['n1', 'n2', 'n3'],
      outgoingVoters: [],
      learners: ['n4'],
      autoPromote: ['n4'],
      addresses: {},
    },
    membershipIndex: 10,
    progress: { n4: { match: 10, next: 11, state: 'replicate', recentActive: true, ...n4 } },
  };
}

/** Checks every tick from 0 to `untilMs`, n4's progress at t being `n4At(t)`; when n4 is first due. */
function run(p: AutoPromoter, untilMs: number, n4At: (t: number) => Partial<ProgressStatus>): number | null {
  for (let t = 0; t <= untilMs; t += tickMs) {
    if (p.due(status(n4At(t)), t) === 'n4') return t;
  }
  return null;
}

test('a learner that answers every round is promoted, though each round starts with it inactive', () => {
  // The check at the first tick of each round comes before the learner's answer to that round.
  const promotedAt = run(new AutoPromoter(stableMs, roundMs), 5000, (t) => ({
    recentActive: t % roundMs !== 0,
  }));
  assert.equal(promotedAt, stableMs + tickMs, 'promoted once stable for stableMs');
});

test('a learner that stops answering for longer than a round starts the clock over', () => {
  const silentFrom = 1000;
  const silentUntil = 1800;
  const promotedAt = run(new AutoPromoter(stableMs, roundMs), 6000, (t) => ({
    recentActive: t === 0 || t < silentFrom || t > silentUntil,
  }));
  assert.ok(promotedAt !== null && promotedAt > silentUntil + stableMs, `promoted at ${promotedAt}`);
});

test('a learner that is sent a snapshot starts the clock over', () => {
  const promotedAt = run(new AutoPromoter(stableMs, roundMs), 6000, (t) =>
    t < 1200 ? {} : t < 1300 ? { match: 1, state: 'snapshot' } : t < 1400 ? { match: 5 } : {},
  );
  // From 1300 it trails by 5 entries, well within the bound: ready again, so stable from then.
  assert.equal(promotedAt, 1300 + stableMs);
});

test('only a leader promotes', () => {
  assert.equal(new AutoPromoter(stableMs, roundMs).due({ ...status({}), role: 'follower' }, 0), null);
});
