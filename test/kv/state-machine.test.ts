// Goal: applying entries gives the answers API.md promises (put, compare-and-set, delete, list),
// treats noop and undecodable entries deterministically, enforces in-order application, and
// matches a naive reference model on random command sequences.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import type { Entry } from '../../src/raft/types.js';
import {
  commandEntry,
  ModelKv,
  modelInput,
  noopEntry,
  rawEntry,
  type Step,
  sameAsModel,
  stepArb,
  stepEntry,
} from './helpers.js';

describe('KvStateMachine', () => {
  it('puts, gets, overwrites and deletes', () => {
    const sm = new KvStateMachine();
    assert.deepEqual(sm.apply(commandEntry(1, { op: 'put', key: 'a', value: '1' })), {
      kind: 'put',
      key: 'a',
      value: '1',
      index: 1,
      version: 1,
      createIndex: 1,
      modIndex: 1,
      replayed: false,
    });
    assert.equal(sm.get('a'), '1');
    sm.apply(commandEntry(2, { op: 'put', key: 'a', value: '2' }));
    assert.equal(sm.get('a'), '2');
    assert.equal(sm.size, 1);
    assert.deepEqual(sm.apply(commandEntry(3, { op: 'delete', key: 'a' })), {
      kind: 'delete',
      key: 'a',
      deleted: true,
      index: 3,
      replayed: false,
    });
    assert.equal(sm.get('a'), null);
    const again = sm.apply(commandEntry(4, { op: 'delete', key: 'a' }));
    assert.equal(again.kind === 'delete' && again.deleted, false);
    assert.equal(sm.size, 0);
    assert.equal(sm.lastApplied, 4);
  });

  it('compare-and-set writes only when the precondition holds', () => {
    const sm = new KvStateMachine();
    // null: the key must be absent.
    assert.equal(
      sm.apply(commandEntry(1, { op: 'cas', key: 'k', value: 'v1', prevValue: null })).kind,
      'put',
    );
    assert.deepEqual(sm.apply(commandEntry(2, { op: 'cas', key: 'k', value: 'x', prevValue: null })), {
      kind: 'conflict',
      key: 'k',
      value: 'v1',
      index: 2,
      replayed: false,
    });
    assert.deepEqual(sm.apply(commandEntry(3, { op: 'cas', key: 'k', value: 'x', prevValue: 'wrong' })), {
      kind: 'conflict',
      key: 'k',
      value: 'v1',
      index: 3,
      replayed: false,
    });
    assert.equal(sm.get('k'), 'v1');
    assert.deepEqual(sm.apply(commandEntry(4, { op: 'cas', key: 'k', value: 'v2', prevValue: 'v1' })), {
      kind: 'put',
      key: 'k',
      value: 'v2',
      index: 4,
      version: 2,
      createIndex: 1,
      modIndex: 4,
      replayed: false,
    });
    // A CAS on an absent key with a non-null prevValue reports the value as null.
    const absent = sm.apply(commandEntry(5, { op: 'cas', key: 'other', value: 'x', prevValue: '' }));
    assert.deepEqual(absent, { kind: 'conflict', key: 'other', value: null, index: 5, replayed: false });
    assert.equal(sm.get('other'), null);
  });

  it('applies noop entries by advancing lastApplied only', () => {
    const sm = new KvStateMachine();
    assert.deepEqual(sm.apply(noopEntry(1)), { kind: 'noop', index: 1 });
    assert.equal(sm.lastApplied, 1);
    assert.equal(sm.size, 0);
  });

  it('answers an undecodable entry with "invalid" and writes nothing', () => {
    const sm = new KvStateMachine();
    const result = sm.apply(rawEntry(1, Uint8Array.of(0xde, 0xad)));
    assert.equal(result.kind, 'invalid');
    assert.match(result.kind === 'invalid' ? result.error : '', /unknown format version 222/);
    assert.equal(sm.lastApplied, 1);
    assert.equal(sm.apply(rawEntry(2, new Uint8Array(0))).kind, 'invalid');
    assert.equal(sm.size, 0);
  });

  it('refuses entries out of order, leaving the state untouched', () => {
    const sm = new KvStateMachine();
    assert.throws(() => sm.apply(noopEntry(2)), /entry 2 applied out of order: lastApplied is 0/);
    sm.apply(noopEntry(1));
    assert.throws(() => sm.apply(noopEntry(1)), RangeError);
    assert.throws(() => sm.apply(commandEntry(3, { op: 'put', key: 'a', value: 'b' })), RangeError);
    // A type this version does not know (as if from a newer node) is refused, not skipped.
    const unknown = { ...noopEntry(2), type: 'future' } as unknown as Entry;
    assert.throws(() => sm.apply(unknown), /unknown type future/);
    assert.equal(sm.lastApplied, 1);
    assert.equal(sm.size, 0);
  });

  it('lists a prefix in key order with a limit and a "more" flag', () => {
    const sm = new KvStateMachine();
    const keys = ['b/2', 'a', 'b/1', 'b/\u{1F600}', 'b/\uFFFD', 'b', 'c'];
    keys.forEach((key, i) => {
      sm.apply(commandEntry(i + 1, { op: 'put', key, value: key.toUpperCase() }));
    });
    // Each key written once, at index position + 1: version 1, createIndex = modIndex = that index.
    const item = (key: string) => {
      const at = keys.indexOf(key) + 1;
      return { key, value: key.toUpperCase(), version: 1, createIndex: at, modIndex: at };
    };
    assert.deepEqual(sm.list('b/', 10), {
      items: [item('b/1'), item('b/2'), item('b/\uFFFD'), item('b/\u{1F600}')],
      more: false,
    });
    assert.deepEqual(sm.list('b/', 2), { items: [item('b/1'), item('b/2')], more: true });
    assert.deepEqual(
      sm.list('b/', 2, 'b/2').items.map((i) => i.key),
      ['b/\uFFFD', 'b/\u{1F600}'],
    );
    assert.equal(sm.list('', 100).items.length, keys.length);
    assert.deepEqual(sm.list('zzz', 5), { items: [], more: false });
    assert.throws(() => sm.list('', 0), RangeError);
    assert.throws(() => sm.list('', 1.5), RangeError);
  });

  it('matches the reference model on random logs', () => {
    fc.assert(
      fc.property(fc.array(stepArb, { maxLength: 120 }), (steps: Step[]) => {
        const sm = new KvStateMachine();
        const model = new ModelKv();
        steps.forEach((step, i) => {
          const index = i + 1;
          const actual = sm.apply(stepEntry(index, step));
          const expected = model.apply(index, modelInput(step));
          assert.ok(sameAsModel(actual, expected), `entry ${index}: ${JSON.stringify({ actual, expected })}`);
        });
        assert.equal(sm.lastApplied, steps.length);
        assert.equal(sm.size, model.data.size);
        assert.deepEqual(sm.list('', 1000).items, model.sortedEntries());
      }),
      { numRuns: 300 },
    );
  });
});
