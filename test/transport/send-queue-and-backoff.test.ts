// Goal: the per-peer queue never exceeds its count and byte bounds, drops the oldest frames first
// (or the ones removeWhere picks, keeping the others' order) and counts every drop; reconnect
// delays grow exponentially, stay under the cap and use the injected randomness for jitter.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { backoffDelayMs } from '../../src/transport/backoff.js';
import { SendQueue } from '../../src/transport/send-queue.js';

describe('send queue', () => {
  it('keeps within its bounds, keeps the newest frames in order, and counts every drop', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 200 }),
        fc.array(fc.integer({ min: 1, max: 250 }), { maxLength: 100 }),
        (maxMessages, maxBytes, sizes) => {
          const q = new SendQueue({ maxMessages, maxBytes });
          sizes.forEach((size, i) => {
            // The first byte identifies the frame, so the order of what is kept can be checked.
            assert.equal(q.push(Buffer.alloc(size, i)), size <= maxBytes);
            assert.ok(q.length <= maxMessages && q.bytes <= maxBytes);
          });
          const kept: number[] = [];
          for (let f = q.shift(); f !== undefined; f = q.shift()) kept.push(f[0]!);
          assert.deepStrictEqual(
            kept,
            [...kept].sort((a, b) => a - b),
          );
          assert.equal(kept.length + q.dropped, sizes.length);
          assert.equal(q.bytes, 0);
        },
      ),
    );
  });

  it('drops the oldest frames to make room for a new one', () => {
    const q = new SendQueue({ maxMessages: 3, maxBytes: 1000 });
    for (const b of [1, 2, 3, 4, 5]) q.push(Buffer.from([b]));
    assert.deepStrictEqual([q.shift()?.[0], q.shift()?.[0], q.shift()?.[0], q.shift()], [3, 4, 5, undefined]);
    assert.equal(q.dropped, 2);
  });

  it('evicts as many old frames as a large new frame needs', () => {
    const q = new SendQueue({ maxMessages: 100, maxBytes: 10 });
    for (let i = 0; i < 5; i++) q.push(Buffer.alloc(2));
    q.push(Buffer.alloc(7));
    assert.equal(q.length, 2);
    assert.equal(q.bytes, 9);
    assert.equal(q.dropped, 4);
  });

  it('stays correct across many pushes and shifts (internal compaction)', () => {
    const q = new SendQueue({ maxMessages: 10_000, maxBytes: 1 << 30 });
    let next = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 300; i++) q.push(Buffer.from(String(round * 300 + i)));
      for (let i = 0; i < 250; i++) assert.equal(q.shift()!.toString(), String(next++));
    }
    assert.equal(q.length, 50 * 50);
  });

  it('removeWhere drops the frames picked, keeps the others in order, and counts the drops', () => {
    const q = new SendQueue({ maxMessages: 100, maxBytes: 1000 });
    for (const b of [1, 2, 3, 4, 5, 6]) q.push(Buffer.alloc(b, b));
    assert.equal(q.shift()?.[0], 1);
    assert.equal(
      q.removeWhere((f) => f[0]! % 2 === 0),
      3,
    );
    assert.equal(q.length, 2);
    assert.equal(q.bytes, 3 + 5);
    assert.equal(q.dropped, 3);
    assert.equal(
      q.removeWhere(() => false),
      0,
    );
    q.push(Buffer.alloc(7, 7));
    assert.deepStrictEqual([q.shift()?.[0], q.shift()?.[0], q.shift()?.[0], q.shift()], [3, 5, 7, undefined]);
    assert.equal(q.bytes, 0);
  });
});

describe('reconnect backoff', () => {
  const policy = { initialMs: 100, maxMs: 2000, multiplier: 2 };

  it('grows exponentially up to the cap, with jitter in the upper half', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (n, r) => {
          const ceiling = Math.min(2000, 100 * 2 ** (n - 1));
          const d = backoffDelayMs(n, { ...policy, random: () => r });
          assert.ok(d >= ceiling / 2 && d < ceiling + 1e-9, `delay ${d} for ceiling ${ceiling}`);
        },
      ),
    );
  });

  it('is deterministic for an injected random source', () => {
    assert.deepStrictEqual(
      [1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, { ...policy, random: () => 0 })),
      [50, 100, 200, 400, 800, 1000],
    );
  });
});
