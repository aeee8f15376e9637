// Goal: the project's one seeded generator (src/random.ts) keeps its exact stream, since every
// recorded simulator seed depends on it, and its helpers stay in range and reproducible.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Prng } from '../src/random.js';

describe('Prng', () => {
  it('keeps its stream: sfc32 seeded through splitmix32', () => {
    const p = new Prng(1);
    assert.deepEqual(
      Array.from({ length: 4 }, () => p.nextU32()),
      [1828152527, 3394835397, 2967886022, 2251045104],
    );
    assert.equal(new Prng(0).nextU32(), 4205396811);
  });

  it('is deterministic per seed and label', () => {
    const a = Prng.derive(42, 'nemesis');
    const b = Prng.derive(42, 'nemesis');
    const c = Prng.derive(42, 'client0');
    const xs = Array.from({ length: 5 }, () => a.nextInt(1000));
    assert.deepEqual(
      xs,
      Array.from({ length: 5 }, () => b.nextInt(1000)),
    );
    assert.notDeepEqual(
      xs,
      Array.from({ length: 5 }, () => c.nextInt(1000)),
    );
  });

  it('stays in range', () => {
    const r = new Prng(1);
    for (let i = 0; i < 1000; i++) {
      const x = r.nextInt(7);
      assert.ok(x >= 0 && x < 7 && Number.isInteger(x));
      const y = r.int(-2, 2);
      assert.ok(y >= -2 && y <= 2 && Number.isInteger(y));
      const f = r.next();
      assert.ok(f >= 0 && f < 1);
      const g = r.between(5, 6);
      assert.ok(g >= 5 && g < 6);
    }
    assert.throws(() => r.nextInt(0), RangeError);
    assert.throws(() => r.pick([]), RangeError);
  });

  it('shuffles a copy, and forks a stream of its own', () => {
    const items = [1, 2, 3, 4, 5, 6, 7, 8];
    const shuffled = new Prng(3).shuffle(items);
    assert.deepEqual(items, [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual([...shuffled].sort(), items);
    const p = new Prng(9);
    const q = new Prng(9);
    const fp = p.fork();
    const fq = q.fork();
    assert.equal(fp.nextU32(), fq.nextU32(), 'a fork follows from the parent seed');
    assert.equal(p.nextU32(), q.nextU32(), 'and the parents stay in step');
  });
});
