// Goal: a write carrying an idempotency key is applied at most once and every retry gets the first
// answer, within the documented window; records expire by log index and by the entry and byte
// bounds exactly as the rule says, identically for any configuration.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { recordCharge } from '../../src/kv/dedup.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { commandEntry, ModelKv, modelInput, noopEntry, sameAsModel, stepArb, stepEntry } from './helpers.js';

describe('idempotency', () => {
  it('answers a retry with the first answer and does not apply it again', () => {
    const sm = new KvStateMachine();
    const first = sm.apply(commandEntry(1, { op: 'put', key: 'k', value: '1', idempotencyKey: 'req-1' }));
    sm.apply(commandEntry(2, { op: 'put', key: 'k', value: '2' }));
    const retry = sm.apply(commandEntry(3, { op: 'put', key: 'k', value: '1', idempotencyKey: 'req-1' }));
    assert.deepEqual(retry, { ...first, replayed: true });
    assert.equal(retry.kind === 'put' && retry.index, 1);
    // Not applied again: the later plain put still stands.
    assert.equal(sm.get('k'), '2');
  });

  it('replays a conflict even when the retry would now succeed', () => {
    const sm = new KvStateMachine();
    sm.apply(commandEntry(1, { op: 'put', key: 'k', value: 'a' }));
    const cas = { op: 'cas', key: 'k', value: 'c', prevValue: 'b', idempotencyKey: 'x' } as const;
    assert.equal(sm.apply(commandEntry(2, cas)).kind, 'conflict');
    sm.apply(commandEntry(3, { op: 'put', key: 'k', value: 'b' }));
    assert.deepEqual(sm.apply(commandEntry(4, cas)), {
      kind: 'conflict',
      key: 'k',
      value: 'a',
      index: 2,
      replayed: true,
    });
    assert.equal(sm.get('k'), 'b');
  });

  it('replays deletes, and answers a reused key with the first answer whatever the body', () => {
    const sm = new KvStateMachine();
    sm.apply(commandEntry(1, { op: 'put', key: 'k', value: 'v' }));
    sm.apply(commandEntry(2, { op: 'delete', key: 'k', idempotencyKey: 'd' }));
    sm.apply(commandEntry(3, { op: 'put', key: 'k', value: 'again' }));
    assert.deepEqual(sm.apply(commandEntry(4, { op: 'delete', key: 'k', idempotencyKey: 'd' })), {
      kind: 'delete',
      key: 'k',
      deleted: true,
      index: 2,
      replayed: true,
    });
    assert.equal(
      sm.apply(commandEntry(5, { op: 'put', key: 'z', value: 'z', idempotencyKey: 'd' })).kind,
      'delete',
    );
    assert.equal(sm.get('k'), 'again');
    assert.equal(sm.get('z'), null);
  });

  it('exposes remembered answers for a fast path without proposing', () => {
    const sm = new KvStateMachine();
    assert.equal(sm.lookupIdempotent('q'), null);
    sm.apply(commandEntry(1, { op: 'put', key: 'k', value: 'v', idempotencyKey: 'q' }));
    assert.deepEqual(sm.lookupIdempotent('q'), {
      kind: 'put',
      key: 'k',
      value: 'v',
      index: 1,
      version: 1,
      createIndex: 1,
      modIndex: 1,
      replayed: true,
    });
  });

  it('forgets a record made at index i when index i + window is applied', () => {
    const sm = new KvStateMachine({ dedup: { window: 10 } });
    sm.apply(commandEntry(1, { op: 'put', key: 'k', value: 'first', idempotencyKey: 'w' }));
    // Noops count: the window is in log indexes, whatever the entries are.
    for (let i = 2; i <= 9; i++) sm.apply(noopEntry(i));
    const inWindow = sm.apply(
      commandEntry(10, { op: 'put', key: 'k', value: 'second', idempotencyKey: 'w' }),
    );
    assert.equal(inWindow.kind === 'put' && inWindow.replayed, true);
    assert.equal(sm.get('k'), 'first');
    const expired = sm.apply(commandEntry(11, { op: 'put', key: 'k', value: 'third', idempotencyKey: 'w' }));
    assert.deepEqual(expired, {
      kind: 'put',
      key: 'k',
      value: 'third',
      index: 11,
      version: 2,
      createIndex: 1,
      modIndex: 11,
      replayed: false,
    });
    assert.equal(sm.get('k'), 'third');
    // The fresh write starts a new record.
    assert.equal(sm.lookupIdempotent('w')?.index, 11);
  });

  it('expires records even while only noops are applied', () => {
    const sm = new KvStateMachine({ dedup: { window: 3 } });
    sm.apply(commandEntry(1, { op: 'put', key: 'k', value: 'v', idempotencyKey: 'n' }));
    sm.apply(noopEntry(2));
    sm.apply(noopEntry(3));
    assert.equal(sm.dedupSize, 1);
    sm.apply(noopEntry(4));
    assert.equal(sm.dedupSize, 0);
  });

  it('keeps at most maxEntries records, dropping the oldest first', () => {
    const sm = new KvStateMachine({ dedup: { maxEntries: 2 } });
    for (const [i, idem] of ['a', 'b', 'c'].entries()) {
      sm.apply(commandEntry(i + 1, { op: 'put', key: idem, value: 'v', idempotencyKey: idem }));
    }
    assert.equal(sm.dedupSize, 2);
    assert.equal(sm.lookupIdempotent('a'), null);
    assert.equal(sm.lookupIdempotent('b')?.index, 2);
    assert.equal(sm.lookupIdempotent('c')?.index, 3);
  });

  it('keeps the charged bytes under maxBytes, dropping the oldest first', () => {
    const charge = recordCharge({
      idempotencyKey: 'a',
      result: {
        kind: 'put',
        key: 'k',
        value: 'x'.repeat(100),
        index: 1,
        version: 1,
        createIndex: 1,
        modIndex: 1,
        replayed: false,
      },
    });
    const sm = new KvStateMachine({ dedup: { maxBytes: 2 * charge } });
    for (const [i, idem] of ['a', 'b', 'c'].entries()) {
      sm.apply(commandEntry(i + 1, { op: 'put', key: 'k', value: 'x'.repeat(100), idempotencyKey: idem }));
    }
    assert.equal(sm.dedupSize, 2);
    assert.equal(sm.lookupIdempotent('a'), null);
    // A single answer larger than the whole budget is not remembered at all.
    sm.apply(commandEntry(4, { op: 'put', key: 'k', value: 'x'.repeat(10 * charge), idempotencyKey: 'big' }));
    assert.equal(sm.lookupIdempotent('big'), null);
  });

  it('rejects a configuration no bound can be computed from', () => {
    assert.throws(() => new KvStateMachine({ dedup: { window: 0 } }), RangeError);
    assert.throws(() => new KvStateMachine({ dedup: { maxEntries: 1.5 } }), RangeError);
  });

  it('matches the reference model for any bounds', () => {
    const config = fc.record({
      window: fc.integer({ min: 1, max: 30 }),
      maxEntries: fc.integer({ min: 1, max: 6 }),
      maxBytes: fc.integer({ min: 64, max: 600 }),
    });
    fc.assert(
      fc.property(config, fc.array(stepArb, { maxLength: 100 }), (dedup, steps) => {
        const sm = new KvStateMachine({ dedup });
        const model = new ModelKv(dedup);
        steps.forEach((step, i) => {
          const actual = sm.apply(stepEntry(i + 1, step));
          const expected = model.apply(i + 1, modelInput(step));
          assert.ok(sameAsModel(actual, expected), `entry ${i + 1}: ${JSON.stringify({ actual, expected })}`);
        });
      }),
      { numRuns: 300 },
    );
  });
});
