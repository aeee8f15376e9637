// Goal: show that the simulator catches real Raft bugs. Each field of Mutations re-introduces one
// known bug in the core (Figure 3.7's commit by counting, §3.6.1's up-to-date check, Figure 3.1's
// durable vote, §6.4's leadership confirmation for reads, and applying before commit). For each,
// the default seed set is run, in order, with that one mutation on every node, until a seed
// reports a safety violation; the test prints which seed caught it, after how many scenarios and
// ticks, and fails if none of the first MAX_SEEDS does. A simulator that cannot catch known bugs
// proves nothing about the absence of unknown ones.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Mutations } from '../../src/raft/index.js';
import { SafetyViolation } from './checker.js';
import { MUTATIONS } from './options.js';
import { runScenario } from './scenario.js';

const MAX_SEEDS = 300;

interface Caught {
  readonly seed: number;
  readonly scenarios: number;
  /** Ticks simulated before the violation, over all scenarios run. */
  readonly ticks: number;
  readonly property: string;
  readonly message: string;
}

function hunt(mutation: keyof Mutations): Caught | null {
  let ticks = 0;
  for (let seed = 1; seed <= MAX_SEEDS; seed++) {
    try {
      ticks += runScenario(seed, { mutations: { [mutation]: true } }).ticks;
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      // A mutation may also slow elections down; only a safety violation counts as caught.
      if (err.property === 'liveness') continue;
      return { seed, scenarios: seed, ticks: ticks + err.tick, property: err.property, message: err.message };
    }
  }
  return null;
}

for (const mutation of MUTATIONS) {
  test(`mutation ${mutation} is caught by the default seeds`, () => {
    const caught = hunt(mutation);
    assert.ok(caught !== null, `${mutation}: no safety violation in seeds 1..${MAX_SEEDS}`);
    console.log(
      `${mutation}: caught by seed ${caught.seed} (scenario #${caught.scenarios}, ${caught.ticks} ticks in all) ` +
        `as "${caught.property}"\n  ${caught.message.split('\n')[0]}`,
    );
  });
}
