// Goal: the bench histogram's percentiles stay within its stated 1.6 % of the exact values,
// whatever the distribution, and merging histograms equals recording into one.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Histogram } from '../../src/bench/histogram.js';
import { keyOf } from '../../src/bench/load.js';

test('quantiles are within 1.6 % of the exact order statistics', () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 50_000_000 }), { minLength: 1, maxLength: 2000 }),
      (vals) => {
        const h = new Histogram();
        for (const v of vals) h.record(v);
        const sorted = [...vals].sort((a, b) => a - b);
        for (const q of [0, 0.5, 0.9, 0.99, 0.999, 1]) {
          const exact = sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1]!;
          const got = h.quantile(q);
          assert.ok(got >= exact, `q${q}: ${got} below exact ${exact}`);
          assert.ok(got <= exact * 1.016 + 1, `q${q}: ${got} too far above exact ${exact}`);
        }
        assert.equal(h.max, sorted[sorted.length - 1]);
      },
    ),
  );
});

test('merge equals recording everything into one histogram', () => {
  const a = new Histogram();
  const b = new Histogram();
  const all = new Histogram();
  for (let i = 0; i < 1000; i++) {
    const v = (i * 7919) % 100_003;
    (i % 2 === 0 ? a : b).record(v);
    all.record(v);
  }
  a.merge(b);
  assert.deepEqual(a.buckets(), all.buckets());
  assert.equal(a.quantile(0.99), all.quantile(0.99));
});

test('bench keys have exactly the requested size', () => {
  for (const size of [1, 4, 16, 64]) for (const n of [0, 7, 12345]) assert.equal(keyOf(n, size).length, size);
});
