// Goal: pin down the cut-off leader episode (nemesis.ts), the move that makes a lease which
// outlives its time observable without any pause: the leader is cut off from its peers right after
// its CheckQuorum round counted a majority, so it leads on for almost two election timeouts while
// the majority side elects a leader and commits after one. With the test-only mutation
// leaseNeverExpires (the lease holds for the rest of the term) its clients then read stale values;
// with the lease as it is (§6.4.1: it ends before any follower may vote) the same seed passes.
// The default seed set catching the mutation is mutations.test.ts's job; this file shows the
// mechanism: where the window opens, that it replays exactly, and that it stays off on request.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { outcome, seedCatching } from './helpers.js';
import { noFaults } from './nemesis.js';
import { planScenario, runScenario, type ScenarioOverrides } from './scenario.js';

test('lease seeds with faults have cut-off leader episodes, and another leader commits within them', () => {
  const base: ScenarioOverrides = { readMode: 'lease', profile: 'partitions' };
  let cuts = 0;
  let overlaps = 0;
  for (let seed = 1; seed <= 10; seed++) {
    const { stats } = runScenario(seed, base);
    cuts += stats.leaderCuts ?? 0;
    overlaps += stats.leaderCutOverlaps ?? 0;
  }
  assert.ok(cuts >= 10, `episodes happened (${cuts})`);
  assert.ok(overlaps >= 3, `another leader acknowledged a write while the cut-off one led (${overlaps})`);
});

test('a seed that catches leaseNeverExpires replays exactly, tells the episode, and passes with the lease as it is', () => {
  const base: ScenarioOverrides = { readMode: 'lease', profile: 'partitions' };
  const mutated: ScenarioOverrides = { ...base, mutations: { leaseNeverExpires: true } };
  const caught = seedCatching({
    base,
    mutated,
    seeds: 30,
    what: 'some lease seed of the partitions profile catches leaseNeverExpires',
    traceTells: 'cut-off leader episode',
  });
  // Without the episodes the same seed misses the mutation: the episode is what caught it.
  assert.equal(outcome(caught.seed, { ...mutated, leaderCuts: false }), 'ok');
});

test('episodes are on in lease seeds with faults only, unless forced; forcing them off keeps every other choice', () => {
  // The episode's fields of a fault plan as they are with episodes off.
  const episodeOff = {
    leaderCutRate: noFaults.leaderCutRate,
    leaderCutWindow: noFaults.leaderCutWindow,
    leaderCutCampaignAfter: noFaults.leaderCutCampaignAfter,
    leaderCutLingerTicks: noFaults.leaderCutLingerTicks,
    leaderCutMaxTicks: noFaults.leaderCutMaxTicks,
  };
  for (let seed = 1; seed <= 200; seed++) {
    const p = planScenario(seed);
    const lease = p.raft.readMode === 'lease' || p.raft.leaseReads === true;
    const withFaults = p.profile !== 'calm' && p.profile !== 'lossy';
    assert.equal(p.faults.leaderCutRate > 0, lease && withFaults, `seed ${seed}`);
    const off = planScenario(seed, { leaderCuts: false });
    assert.deepEqual(off, { ...p, faults: { ...p.faults, ...episodeOff } }, `seed ${seed}`);
    assert.ok(planScenario(seed, { leaderCuts: true }).faults.leaderCutRate > 0, `seed ${seed}`);
  }
});
