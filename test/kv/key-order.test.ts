// Goal: keys sort in UTF-8 byte order (= code point order) even where JavaScript's UTF-16 order
// differs, and the ordered store's point operations, prefix scans and paging agree with a sorted
// array, including bulk loading from sorted pairs and copy-on-write clones.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareKeys, fromTreeKey, toTreeKey } from '../../src/kv/key-order.js';
import { KeyRecord, OrderedStore } from '../../src/kv/ordered-store.js';
import { keyArb, utf8Compare } from './helpers.js';

const sign = (n: number): number => Math.sign(n);

/** A record for `value`; the store keeps metadata without looking at it. */
const rec = (value: string): KeyRecord => new KeyRecord(value, 1, 1, 1, 0);
const valuesOf = (entries: Iterable<[string, KeyRecord]>) => [...entries].map(([k, r]) => [k, r.value]);

describe('key order', () => {
  it('is UTF-8 byte order, not UTF-16 unit order', () => {
    // U+FFFD is below U+1F600 by code point, but its UTF-16 unit is above the surrogate 0xD83D.
    assert.equal('\uFFFD' > '\u{1F600}', true);
    assert.equal(compareKeys('\uFFFD', '\u{1F600}') < 0, true);
    assert.equal(compareKeys('a', 'a'), 0);
    assert.equal(compareKeys('a', 'ab') < 0, true);
  });

  it('agrees with a byte comparison of the UTF-8 encodings', () => {
    const s = fc.string({ unit: 'binary', maxLength: 6 });
    fc.assert(
      fc.property(s, s, (a, b) => {
        assert.equal(sign(compareKeys(a, b)), sign(utf8Compare(a, b)));
      }),
      { numRuns: 5000 },
    );
  });

  it('maps keys to tree keys and back without loss', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 20 }), (key) => {
        assert.equal(fromTreeKey(toTreeKey(key)), key);
      }),
    );
    assert.equal(toTreeKey('plain/ascii'), 'plain/ascii');
  });
});

describe('ordered store', () => {
  function modelScan(model: Map<string, string>, prefix: string, limit: number, after?: string) {
    const all = [...model.keys()]
      .filter((k) => k.startsWith(prefix) && (after === undefined || utf8Compare(k, after) > 0))
      .sort(utf8Compare);
    return {
      items: all
        .slice(0, limit)
        .map((key) => ({ key, value: model.get(key)!, version: 1, createIndex: 1, modIndex: 1 })),
      more: all.length > limit,
    };
  }

  const opArb = fc.oneof(
    fc.tuple(fc.constant('set' as const), keyArb, fc.string({ maxLength: 3 })),
    fc.tuple(fc.constant('delete' as const), keyArb, fc.constant('')),
  );

  it('scans prefixes in order with limits and cursors, as a sorted array would', () => {
    fc.assert(
      fc.property(
        fc.array(opArb, { maxLength: 60 }),
        fc.string({ unit: fc.constantFrom('a', 'é', '\u{1F600}', '\uFFFD'), maxLength: 2 }),
        fc.integer({ min: 1, max: 10 }),
        fc.option(keyArb, { nil: undefined }),
        (ops, prefix, limit, after) => {
          const store = OrderedStore.empty();
          const model = new Map<string, string>();
          for (const [op, key, value] of ops) {
            if (op === 'set') {
              store.set(key, rec(value));
              model.set(key, value);
            } else {
              assert.equal(store.delete(key), model.delete(key));
            }
          }
          assert.equal(store.size, model.size);
          for (const [key, value] of model) assert.equal(store.get(key)?.value, value);
          assert.deepEqual(store.scan(prefix, limit, after), modelScan(model, prefix, limit, after));
          assert.deepEqual(
            [...store.entries()].map(([key]) => key),
            [...model.keys()].sort(utf8Compare),
          );
        },
      ),
      { numRuns: 500 },
    );
  });

  it('pages through a prefix with startAfter', () => {
    const store = OrderedStore.empty();
    for (let i = 0; i < 25; i++) store.set(`user/${String(i).padStart(2, '0')}`, rec(`v${i}`));
    store.set('users', rec('not under user/'));
    store.set('user', rec('not under user/ either'));
    const seen: string[] = [];
    let page = store.scan('user/', 10);
    for (;;) {
      seen.push(...page.items.map((i) => i.key));
      if (!page.more) break;
      page = store.scan('user/', 10, seen.at(-1));
    }
    assert.equal(seen.length, 25);
    assert.equal(seen[0], 'user/00');
    assert.equal(seen[24], 'user/24');
  });

  it('bulk-loads sorted pairs and refuses unsorted ones', () => {
    const keys = ['a', '\uFFFD', '\u{1F600}'];
    const store = OrderedStore.fromSorted(keys, ['1', '2', '3'].map(rec));
    assert.deepEqual(valuesOf(store.entries()), [
      ['a', '1'],
      ['\uFFFD', '2'],
      ['\u{1F600}', '3'],
    ]);
    assert.equal(store.get('\u{1F600}')?.value, '3');
    assert.equal(OrderedStore.fromSorted([], []).size, 0);
    assert.throws(() => OrderedStore.fromSorted(['b', 'a'], ['1', '2'].map(rec)), RangeError);
    assert.throws(() => OrderedStore.fromSorted(['a', 'a'], ['1', '2'].map(rec)), RangeError);
  });

  it('clones in O(1) and keeps the clone unaffected by later writes', () => {
    const store = OrderedStore.empty();
    for (let i = 0; i < 1000; i++) store.set(`k${i}`, rec('old'));
    const frozen = store.clone();
    for (let i = 0; i < 1000; i += 2) store.set(`k${i}`, rec('new'));
    store.delete('k1');
    store.set('added', rec('x'));
    assert.equal(frozen.size, 1000);
    assert.ok([...frozen.entries()].every(([, r]) => r.value === 'old'));
    assert.equal(store.get('k0')?.value, 'new');
    assert.equal(store.size, 1000);
  });
});
