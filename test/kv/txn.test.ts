// Goal: a transaction is etcd's — compares against the state before the entry, one branch's ops
// in order, all at one index, all or nothing — and is deterministic: replicas that apply the same
// entries (some restored from a snapshot part-way) hold the same bytes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type Command, encodeCommand, type TxnCommand } from '../../src/kv/command.js';
import type { ApplyResult } from '../../src/kv/results.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { commandArb, leaseCommandArb, txnArb } from './helpers.js';

function applier(sm: KvStateMachine) {
  return (cmd: Command): ApplyResult =>
    sm.apply({ term: 1, index: sm.lastApplied + 1, type: 'command', data: encodeCommand(cmd) });
}

const txn = (t: Omit<TxnCommand, 'op' | 'failure' | 'success'> & Partial<TxnCommand>): TxnCommand => ({
  op: 'txn',
  success: [],
  failure: [],
  ...t,
});

describe('transactions', () => {
  it('evaluates compares on value, version, indexes and existence; a missing key has 0s and no value', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'put', key: 'a', value: 'm' }); // 1
    apply({ op: 'put', key: 'a', value: 'n' }); // 2: version 2, createIndex 1, modIndex 2
    const holds = (compare: TxnCommand['compare']): boolean => {
      const r = apply(txn({ compare }));
      assert.equal(r.kind, 'txn');
      return r.kind === 'txn' && r.succeeded;
    };
    assert.equal(holds([{ key: 'a', target: 'value', op: '==', value: 'n' }]), true);
    assert.equal(holds([{ key: 'a', target: 'value', op: '<', value: 'o' }]), true);
    assert.equal(holds([{ key: 'a', target: 'value', op: '>', value: 'o' }]), false);
    assert.equal(holds([{ key: 'a', target: 'version', op: '==', value: 2 }]), true);
    assert.equal(holds([{ key: 'a', target: 'createIndex', op: '==', value: 1 }]), true);
    assert.equal(holds([{ key: 'a', target: 'modIndex', op: '>', value: 1 }]), true);
    assert.equal(holds([{ key: 'a', target: 'exists', op: '==', value: true }]), true);
    assert.equal(holds([{ key: 'zz', target: 'exists', op: '==', value: false }]), true);
    assert.equal(holds([{ key: 'zz', target: 'version', op: '==', value: 0 }]), true);
    assert.equal(holds([{ key: 'zz', target: 'modIndex', op: '<', value: 1 }]), true);
    // No value to compare: every value compare on a missing key fails, != too (etcd's rule).
    assert.equal(holds([{ key: 'zz', target: 'value', op: '!=', value: 'x' }]), false);
    // All must hold.
    assert.equal(
      holds([
        { key: 'a', target: 'value', op: '==', value: 'n' },
        { key: 'a', target: 'version', op: '==', value: 3 },
      ]),
      false,
    );
    // Value order is code point order: U+FFFD < U+1F600, though UTF-16 units say otherwise.
    apply({ op: 'put', key: 'u', value: '\uFFFD' });
    assert.equal(holds([{ key: 'u', target: 'value', op: '<', value: '\u{1F600}' }]), true);
  });

  it('runs one branch in order at one index; a get sees the ops before it', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'put', key: 'x', value: '1' });
    const r = apply(
      txn({
        compare: [{ key: 'x', target: 'value', op: '==', value: '1' }],
        success: [
          { type: 'put', key: 'x', value: '2' },
          { type: 'get', key: 'x' },
          { type: 'delete', key: 'w' },
          { type: 'put', key: 'y', value: 'new' },
          { type: 'get', key: 'y' },
          { type: 'delete', key: 'z' },
        ],
        failure: [{ type: 'put', key: 'never', value: '!' }],
      }),
    );
    assert.deepEqual(r, {
      kind: 'txn',
      succeeded: true,
      index: 2,
      replayed: false,
      results: [
        { put: { key: 'x', value: '2', version: 2, createIndex: 1, modIndex: 2 } },
        { get: { key: 'x', value: '2', version: 2, createIndex: 1, modIndex: 2 } },
        { delete: { key: 'w', deleted: false } },
        { put: { key: 'y', value: 'new', version: 1, createIndex: 2, modIndex: 2 } },
        { get: { key: 'y', value: 'new', version: 1, createIndex: 2, modIndex: 2 } },
        { delete: { key: 'z', deleted: false } },
      ],
    });
    assert.equal(sm.get('never'), null);
    // A branch may write a key once (etcd's rule): the codec will not carry a second write.
    assert.throws(
      () =>
        encodeCommand(
          txn({
            compare: [],
            success: [
              { type: 'put', key: 'k', value: '1' },
              { type: 'delete', key: 'k' },
            ],
          }),
        ),
      /writes key "k" twice/,
    );
    assert.deepEqual(
      [...sm.history.eventsFrom(2)].map(
        (e) => `${e.index} ${e.type} ${e.key}=${e.value} (was ${e.prevValue})`,
      ),
      ['2 put x=2 (was 1)', '2 put y=new (was null)'],
    );
  });

  it('changes nothing when a put names a missing lease or the branch would pass the quota', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'put', key: 'a', value: 'keep' });
    const missing = apply(
      txn({
        compare: [],
        success: [
          { type: 'delete', key: 'a' },
          { type: 'put', key: 'b', value: 'v', lease: 99 },
        ],
      }),
    );
    assert.deepEqual(missing, { kind: 'lease_not_found', id: 99, index: 2 });
    assert.equal(sm.get('a'), 'keep');
    apply({ op: 'quota', bytes: sm.stateBytes + 10 });
    const big = apply(
      txn({
        compare: [],
        success: [
          { type: 'delete', key: 'a' },
          { type: 'put', key: 'b', value: 'x'.repeat(100) },
        ],
      }),
    );
    assert.equal(big.kind, 'no_space');
    assert.equal(sm.get('a'), 'keep');
    // Shrinking within the same branch is fine: the whole branch's growth counts.
    const fits = apply(
      txn({
        compare: [],
        success: [
          { type: 'delete', key: 'a' },
          { type: 'put', key: 'b', value: 'keep' },
        ],
      }),
    );
    assert.equal(fits.kind, 'txn');
    assert.equal(sm.get('b'), 'keep');
  });

  it('answers a retried Idempotency-Key with the first results, also after a snapshot', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    const t = txn({
      compare: [{ key: 'n', target: 'exists', op: '==', value: false }],
      success: [
        { type: 'put', key: 'n', value: '1' },
        { type: 'get', key: 'n' },
      ],
      failure: [{ type: 'get', key: 'n' }],
      idempotencyKey: 'once',
    });
    const first = apply(t);
    assert.equal(first.kind === 'txn' && first.succeeded, true);
    const again = apply(t);
    assert.deepEqual(again, { ...first, replayed: true });
    const back = KvStateMachine.restore(sm.snapshot());
    assert.deepEqual(back.lookupIdempotent('once'), { ...first, replayed: true });
    assert.deepEqual(back.snapshot(), sm.snapshot());
  });

  it('property: a replica restored from a snapshot part-way ends with the same bytes', () => {
    const anyCommand = fc.oneof(commandArb, txnArb, leaseCommandArb, {
      arbitrary: fc
        .tuple(
          fc.string({ minLength: 1, maxLength: 2 }),
          fc.string({ maxLength: 3 }),
          fc.integer({ min: 1, max: 30 }),
        )
        .map(([key, value, lease]): Command => ({ op: 'put', key, value, lease })),
      weight: 2,
    });
    fc.assert(
      fc.property(fc.array(anyCommand, { maxLength: 60 }), fc.nat(60), (cmds, cut) => {
        const a = new KvStateMachine({ history: { maxEvents: 20 } });
        const applyA = applier(a);
        let b: KvStateMachine | null = null;
        cmds.forEach((cmd, i) => {
          if (i === cut) b = KvStateMachine.restore(a.snapshot());
          const ra = applyA(cmd);
          if (b !== null) assert.deepEqual(applier(b)(cmd), ra);
        });
        const replica = b ?? KvStateMachine.restore(a.snapshot());
        assert.deepEqual(Buffer.from(replica.snapshot()), Buffer.from(a.snapshot()));
        assert.deepEqual([...replica.history.eventsFrom(0)], [...a.history.eventsFrom(0)]);
      }),
      { numRuns: 300 },
    );
  });
});
