// Goal: on small random histories the checker agrees with a brute-force oracle that tries every
// real-time-respecting order (and every choice of which indeterminate ops happened) over the
// whole store. This covers the search, its memoization and prunings, the per-key split and the
// treatment of fail/info outcomes at once. Histories come both from a simulated atomic store
// (linearizable by construction) and from made-up results (mostly not linearizable).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { checkKvHistory, type KvOp, renderCheckResult } from '../../src/check/index.js';
import { bruteForceLinearizable } from './brute-force.js';
import { execute, garbage, plansArb } from './generators.js';

function agree(h: KvOp[]): boolean {
  const expected = bruteForceLinearizable(h);
  const result = checkKvHistory(h);
  assert.equal(
    result.verdict,
    expected ? 'linearizable' : 'not-linearizable',
    `brute force says ${expected}\n${renderCheckResult(result)}`,
  );
  return expected;
}

describe('cross-check against brute force', () => {
  it('accepts histories of a real atomic store', () => {
    fc.assert(
      fc.property(plansArb(7), (plans) => {
        assert.equal(agree(execute(plans)), true);
      }),
      { numRuns: 1000 },
    );
  });

  it('agrees on made-up histories', () => {
    const seen = { linearizable: 0, not: 0 };
    fc.assert(
      fc.property(plansArb(7), (plans) => {
        if (agree(garbage(plans))) seen.linearizable++;
        else seen.not++;
      }),
      { numRuns: 2000 },
    );
    // Both verdicts must be well represented, or the comparison says little.
    assert.ok(seen.linearizable > 100 && seen.not > 100, JSON.stringify(seen));
  });

  it('agrees on one-key histories full of indeterminate ops', () => {
    // Indeterminate ops are optional guesses the search prunes hardest; crowd one key with them.
    const mix = { twoKeys: false, indeterminate: 4 };
    fc.assert(
      fc.property(plansArb(7, mix), fc.boolean(), (plans, real) => {
        const h = real ? execute(plans) : garbage(plans);
        const linearizable = agree(h);
        if (real) assert.equal(linearizable, true);
      }),
      { numRuns: 2000 },
    );
  });

  it('agrees on real histories with one result altered', () => {
    fc.assert(
      fc.property(plansArb(7), fc.nat(), (plans, pick) => {
        const h = execute(plans);
        const made = garbage(plans);
        const i = pick % h.length;
        h[i] = made[i]!;
        agree(h);
      }),
      { numRuns: 1000 },
    );
  });
});
