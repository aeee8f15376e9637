// Goal: the driver's conversion of monotonic time into core ticks. The leader lease is only safe
// if the core never counts fewer ticks than whole intervals really passed when it handles an
// input (up to the catch-up cap, past which every tick-based timer has fired anyway); rounding
// must not lose time over many calls, and a clock that goes backwards must not add any.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { ElapsedTicks } from '../../src/node/elapsed-ticks.js';

test('one tick per whole interval; the remainder carries over', () => {
  const t = new ElapsedTicks(100, 0, 30);
  assert.equal(t.take(99), 0);
  assert.equal(t.take(100), 1);
  assert.equal(t.take(250), 1);
  assert.equal(t.take(300), 1, 'the 50 ms left over from the last call count');
  assert.equal(t.take(300), 0);
});

test('a pause owes every interval it spanned, up to the cap', () => {
  const t = new ElapsedTicks(100, 0, 30);
  assert.equal(t.take(100), 1);
  assert.equal(t.take(1_350), 12, 'a 1.25 s pause owes 12 ticks');
  assert.equal(t.take(60_000), 30, 'a minute-long pause pays at most the cap');
  assert.equal(t.take(60_099), 0, 'the written-off debt is not carried into later calls');
  assert.equal(t.take(60_100), 1);
});

test('a clock that goes backwards owes nothing and does not move the debt', () => {
  const t = new ElapsedTicks(100, 1_000, 30);
  assert.equal(t.take(500), 0);
  assert.equal(t.take(1_100), 1);
});

test('rejects a non-positive interval or cap', () => {
  assert.throws(() => new ElapsedTicks(0, 0, 1), RangeError);
  assert.throws(() => new ElapsedTicks(100, 0, 0), RangeError);
});

test('property: below the cap, ticks paid equal whole intervals elapsed, whatever the call times', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 1, max: 500 }),
      fc.array(fc.integer({ min: 0, max: 2_000 }), { maxLength: 200 }),
      (tickMs, gaps) => {
        const cap = 1_000_000;
        const t = new ElapsedTicks(tickMs, 0, cap);
        let now = 0;
        let paid = 0;
        for (const gap of gaps) {
          now += gap;
          paid += t.take(now);
          // The invariant the lease proof rests on: after a payment less than one interval is owed.
          assert.equal(paid, Math.floor(now / tickMs));
        }
      },
    ),
  );
});
