// Goal: a run-sized history (10,000 ops, 5 keys, 10 concurrent clients, with CAS failures,
// rejected and indeterminate ops) is checked within a modest step budget, both when it is
// linearizable and when one stale read is planted in it. Memoization, just-in-time
// linearization and the pruning of indeterminate guesses are what keep this cheap; a regression
// shows up as `unknown` here. Nothing about wall time is asserted.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkKvHistory, type GetOp, renderCheckResult } from '../../src/check/index.js';
import { simulate } from './simulate.js';

// A few times what these checks take per key (at most ~65,000 steps): a blow-up fails them, a slow
// machine does not, as the time limit is far away.
const budget = { maxStepsPerKey: 200_000, timeLimitMs: 10 * 60_000 };

describe('performance sanity', () => {
  const h = simulate({ seed: 42, clients: 10, keys: 5, ops: 10_000, infoRate: 0.01, rejectRate: 0.01 });

  it('checks 10,000 ops over 5 keys from 10 clients without exhausting the budget', () => {
    const result = checkKvHistory(h, budget);
    assert.equal(result.verdict, 'linearizable', renderCheckResult(result));
    assert.equal(result.perKey.length, 5);
    for (const r of result.perKey) assert.equal(r.unknownReason, undefined);
  });

  it('finds one planted stale read in the same history', () => {
    // A read in the middle of the run reports the value its key had long before.
    const reads = h
      .filter((op): op is GetOp => op.kind === 'get' && op.outcome.type === 'ok')
      .sort((a, b) => a.invokedAt - b.invokedAt);
    const victim = reads[Math.floor(reads.length / 2)]!;
    const stale = h.find(
      (op) =>
        op.key === victim.key &&
        op.kind === 'put' &&
        op.completedAt !== null &&
        op.completedAt < victim.invokedAt - 2000,
    );
    assert.ok(stale?.kind === 'put');
    const planted = h.map((op) =>
      op === victim ? { ...victim, outcome: { type: 'ok' as const, value: stale.value } } : op,
    );
    const result = checkKvHistory(planted, budget);
    assert.equal(result.verdict, 'not-linearizable');
    const failing = result.perKey.filter((r) => r.verdict !== 'linearizable');
    assert.deepEqual(
      failing.map((r) => [r.key, r.verdict]),
      [[victim.key, 'not-linearizable']],
    );
    assert.equal(failing[0]!.failure!.stuck.id, victim.id);
  });
});
