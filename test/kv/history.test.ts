// Goal: the history window keeps the latest events within its bounds, drops whole indexes oldest
// first (moving firstCompleteIndex past them), reads from any index, and travels in snapshots.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Command, encodeCommand } from '../../src/kv/command.js';
import { HistoryWindow } from '../../src/kv/history.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { snapshotV3 } from './old-formats.js';

function applier(sm: KvStateMachine) {
  return (cmd: Command) =>
    sm.apply({ term: 1, index: sm.lastApplied + 1, type: 'command', data: encodeCommand(cmd) });
}

const ids = (sm: KvStateMachine, from: number) => [...sm.history.eventsFrom(from)].map((e) => e.index);

describe('the history window', () => {
  it('records puts and deletes with their previous values, skipping entries that change no key', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'put', key: 'k', value: '1' });
    apply({ op: 'cas', key: 'k', value: '2', prevValue: 'nope' }); // conflict: no event
    apply({ op: 'delete', key: 'missing' }); // nothing deleted: no event
    apply({ op: 'put', key: 'k', value: '2' });
    apply({ op: 'delete', key: 'k' });
    assert.deepEqual(
      [...sm.history.eventsFrom(1)],
      [
        { index: 1, type: 'put', key: 'k', value: '1', prevValue: null },
        { index: 4, type: 'put', key: 'k', value: '2', prevValue: '1' },
        { index: 5, type: 'delete', key: 'k', value: null, prevValue: '2' },
      ],
    );
    assert.deepEqual(ids(sm, 2), [4, 5]);
    assert.deepEqual(ids(sm, 6), []);
    assert.equal(sm.history.firstCompleteIndex, 1);
    assert.equal(sm.history.lastApplied, 5);
  });

  it('drops the oldest whole indexes past its bounds, never the newest', () => {
    const sm = new KvStateMachine({ history: { maxEvents: 3 } });
    const apply = applier(sm);
    for (let i = 0; i < 5; i++) apply({ op: 'put', key: `k${i}`, value: 'v' });
    assert.deepEqual(ids(sm, 0), [3, 4, 5]);
    assert.equal(sm.history.firstCompleteIndex, 3);
    // A transaction's four events at one index: the older ones go, the newest index stays whole.
    apply({
      op: 'txn',
      compare: [],
      success: ['a', 'b', 'c', 'd'].map((key) => ({ type: 'put' as const, key, value: 'x' })),
      failure: [],
    });
    assert.deepEqual(ids(sm, 0), [6, 6, 6, 6]);
    assert.equal(sm.history.firstCompleteIndex, 6);
    const w = new HistoryWindow({ maxEvents: 100, maxBytes: 200 }, 1);
    w.record({ index: 1, type: 'put', key: 'a', value: 'x'.repeat(20), prevValue: null });
    w.record({ index: 2, type: 'put', key: 'a', value: 'x'.repeat(20), prevValue: 'x'.repeat(20) });
    assert.deepEqual(
      [...w.eventsFrom(0)].map((e) => e.index),
      [2],
    );
    assert.equal(w.firstCompleteIndex, 2);
  });

  it('is carried by snapshots; a snapshot from before it starts the window at lastApplied + 1', () => {
    const sm = new KvStateMachine({ history: { maxEvents: 4 } });
    const apply = applier(sm);
    for (let i = 0; i < 6; i++) apply({ op: 'put', key: 'k', value: `${i}` });
    const back = KvStateMachine.restore(sm.snapshot());
    assert.deepEqual([...back.history.eventsFrom(0)], [...sm.history.eventsFrom(0)]);
    assert.equal(back.history.firstCompleteIndex, 3);
    // The bounds travel too: the restored window drops the same events as the original.
    applier(back)({ op: 'put', key: 'k', value: 'next' });
    apply({ op: 'put', key: 'k', value: 'next' });
    assert.deepEqual(ids(back, 0), ids(sm, 0));
    const plain = new KvStateMachine();
    applier(plain)({ op: 'put', key: 'k', value: 'v' });
    const old = KvStateMachine.restore(snapshotV3(plain));
    assert.equal(old.history.firstCompleteIndex, 2);
    assert.deepEqual(ids(old, 0), []);
  });
});
