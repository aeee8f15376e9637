// Goal: show that the simulator catches real Raft bugs. Each field of Mutations re-introduces one
// known bug in the core (Figure 3.7's commit by counting, §3.6.1's up-to-date check, Figure 3.1's
// durable vote, §6.4's leadership confirmation for reads, and applying before commit); each field
// of DriverMutations one in the driver (forgetPausedTime: a paused process's lease looks as fresh
// on waking as when it stopped, so it serves stale reads; see driver.ts). For each,
// the default seed set is run, in order, with that one mutation on every node, until a seed
// reports a safety violation; the test prints which seed caught it, after how many scenarios and
// ticks, and fails if none of the first MAX_SEEDS does. A simulator that cannot catch known bugs
// proves nothing about the absence of unknown ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DriverMutations } from '../../src/node/driver.js';
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
};

const cases: {
  readonly mutation: string;
  readonly overrides: ScenarioOverrides;
  readonly property?: string;
}[] = [
  ...MUTATIONS.map((m) => ({ mutation: m, overrides: { mutations: { [m]: true } } })),
  ...DRIVER_MUTATIONS.map((m) => ({
    mutation: m,
    overrides: { driverMutations: { [m]: true } },
    property: DRIVER_MUTATION_VIOLATIONS[m],
  })),
];

for (const { mutation, overrides, property } of cases) {
  test(`mutation ${mutation} is caught by the default seeds`, () => {
    const caught = hunt(overrides);
    assert.ok(caught !== null, `${mutation}: no safety violation in seeds 1..${MAX_SEEDS}`);
    if (property !== undefined) assert.equal(caught.property, property, caught.message);
    console.log(
      `${mutation}: caught by seed ${caught.seed} (scenario #${caught.scenarios}, ${caught.ticks} ticks in all) ` +
        `as "${caught.property}"\n  ${caught.message.split('\n')[0]}`,
    );
  });
}
