// Goal: show that the simulator catches real Raft bugs. Each field of Mutations re-introduces one
// known bug in the core (Figure 3.7's commit by counting, §3.6.1's up-to-date check, Figure 3.1's
// durable vote, §6.4's leadership confirmation for reads, §6.4.1's lease that must end before a
// follower may vote — caught by the cut-off leader episodes of nemesis.ts —, applying before
// commit, and four of
// membership changes: a change before the leader's own-term commit — the single-server bug of
// 2015 —, two changes in flight at once, a joint configuration counting only its incoming voters,
// and learners voting); each field of DriverMutations one in the driver (forgetPausedTime: a
// paused process's lease looks as fresh on waking as when it stopped, so it serves stale reads;
// see driver.ts). For each,
// the default seed set is run, in order, with that one mutation on every node, until a seed
// reports a safety violation; the test prints which seed caught it, after how many scenarios and
// ticks, and fails if none of the first MAX_SEEDS does. A simulator that cannot catch known bugs
// proves nothing about the absence of unknown ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DriverMutations } from '../../src/node/driver.js';
import type { Mutations } from '../../src/raft/index.js';
import { SafetyViolation } from './checker.js';
import { DRIVER_MUTATIONS, MUTATIONS } from './options.js';
import { runScenario, type ScenarioOverrides } from './scenario.js';

const MAX_SEEDS = 300;

interface Caught {
  readonly seed: number;
  readonly scenarios: number;
  /** Ticks simulated before the violation, over all scenarios run. */
  readonly ticks: number;
  readonly property: string;
  readonly message: string;
}

function hunt(overrides: ScenarioOverrides): Caught | null {
  let ticks = 0;
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    try {
      ticks += runScenario(seed, overrides).ticks;
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      // A mutation may also slow elections down; only a safety violation counts as caught.
      if (err.property === 'liveness') continue;
      return { seed, scenarios: seed, ticks: ticks + err.tick, property: err.property, message: err.message };
    }
  }
  return null;
}

/** The one violation a driver mutation can cause: it breaks nothing but what it is about. */
const DRIVER_MUTATION_VIOLATIONS: Record<keyof DriverMutations, string> = {
  forgetPausedTime: 'linearizable read',
  // Not in DRIVER_MUTATIONS: this simulator's driver has no leases. test/sim-node/leases.test.ts
  // catches it, as a lease that outlives its TTL while leaders keep changing.
  resetLeasesOnElection: 'lease expiry',
};

/**
 * What a broken membership rule must be caught as: the property it is about, not an incidental
 * one. The two rules that keep one-step changes safe are caught as majorities that do not meet;
 * a joint configuration counting one majority, and learners voting, as a decision (an election or
 * a commit) taken without a majority of the voters.
 */
const MEMBERSHIP_MUTATION_VIOLATIONS: Partial<Record<keyof Mutations, readonly string[]>> = {
  changeBeforeTermCommit: ['quorum intersection'],
  concurrentChanges: ['quorum intersection'],
  jointCountsIncomingOnly: ['election quorum', 'committed entry durability', 'quorum intersection'],
  learnersVote: [
    'learner vote counted',
    'only voters lead',
    'only voters campaign',
    'committed entry durability',
  ],
};

const cases: {
  readonly mutation: string;
  readonly overrides: ScenarioOverrides;
  readonly properties?: readonly string[];
}[] = [
  ...MUTATIONS.map((m) => ({
    mutation: m,
    overrides: { mutations: { [m]: true } },
    properties: MEMBERSHIP_MUTATION_VIOLATIONS[m],
  })),
  ...DRIVER_MUTATIONS.map((m) => ({
    mutation: m,
    overrides: { driverMutations: { [m]: true } },
    properties: [DRIVER_MUTATION_VIOLATIONS[m]],
  })),
];

for (const { mutation, overrides, properties } of cases) {
  test(`mutation ${mutation} is caught by the default seeds`, () => {
    const caught = hunt(overrides);
    assert.ok(caught !== null, `${mutation}: no safety violation in seeds 1..${MAX_SEEDS}`);
    if (properties !== undefined) assert.ok(properties.includes(caught.property), caught.message);
    console.log(
      `${mutation}: caught by seed ${caught.seed} (scenario #${caught.scenarios}, ${caught.ticks} ticks in all) ` +
        `as "${caught.property}"\n  ${caught.message.split('\n')[0]}`,
    );
  });
}
