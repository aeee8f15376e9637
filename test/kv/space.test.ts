// Goal: the state machine's space rules. A write that would grow the state past the replicated
// quota, or while any node's no-space alarm is raised, is refused with `no_space` and changes
// nothing (no idempotency record either, so a retry applies once space is back); deletes and
// writes that do not grow always apply. The rules and the state size survive snapshots, and a
// version-1 snapshot (before the rules existed) still restores. Replicas that apply the same
// entries refuse the same writes and end in the same bytes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { crc32, varuintSize } from '../../src/codec/index.js';
import type { Command } from '../../src/kv/command.js';
import { KvStateMachine, pairCharge } from '../../src/kv/index.js';
import { commandEntry, keyArb, valueArb } from './helpers.js';
import { snapshotV3 } from './old-formats.js';

function applier(sm: KvStateMachine) {
  return (cmd: Command) => sm.apply(commandEntry(sm.lastApplied + 1, cmd as never));
}

test('past the quota a growing write is refused and changes nothing; deletes and shrinking writes apply', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  const quota = 3 * pairCharge('k1', 'x'.repeat(100));
  assert.equal(apply({ op: 'quota', bytes: quota }).kind, 'space');
  assert.equal(sm.quotaBytes, quota);
  assert.equal(apply({ op: 'put', key: 'k1', value: 'x'.repeat(100) }).kind, 'put');
  assert.equal(apply({ op: 'put', key: 'k2', value: 'x'.repeat(100) }).kind, 'put');
  assert.equal(apply({ op: 'put', key: 'k3', value: 'x'.repeat(100) }).kind, 'put');
  assert.equal(sm.stateBytes, quota);
  const refused = apply({ op: 'put', key: 'k4', value: 'y', idempotencyKey: 'i4' });
  assert.equal(refused.kind, 'no_space');
  assert.equal(refused.kind === 'no_space' && refused.reason, 'quota');
  assert.equal(sm.get('k4'), null, 'nothing written');
  assert.equal(sm.dedupSize, 0, 'no idempotency record for a refusal');
  assert.equal(
    apply({ op: 'cas', key: 'k1', value: 'x'.repeat(101), prevValue: 'x'.repeat(100) }).kind,
    'no_space',
  );
  assert.equal(apply({ op: 'put', key: 'k1', value: 'short' }).kind, 'put', 'a shrinking write applies');
  assert.equal(
    apply({ op: 'put', key: 'k2', value: 'x'.repeat(100) }).kind,
    'put',
    'an equal-size write applies',
  );
  assert.equal(apply({ op: 'delete', key: 'k3' }).kind, 'delete');
  const retried = apply({ op: 'put', key: 'k4', value: 'y', idempotencyKey: 'i4' });
  assert.equal(retried.kind, 'put', 'the retry applies once there is room');
  assert.equal(sm.get('k4'), 'y');
  assert.equal(apply({ op: 'quota', bytes: 0 }).kind, 'space');
  assert.equal(sm.quotaBytes, null, 'quota 0 lifts it');
});

test('while any node alarm is raised growing writes are refused; clearing the last one resumes them', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  apply({ op: 'put', key: 'a', value: 'long value' });
  apply({ op: 'alarm', node: 'n2', active: true });
  apply({ op: 'alarm', node: 'n1', active: true });
  apply({ op: 'alarm', node: 'n2', active: true });
  assert.deepEqual(sm.noSpaceAlarms, ['n1', 'n2']);
  const r = apply({ op: 'put', key: 'b', value: 'v' });
  assert.equal(r.kind === 'no_space' && r.reason, 'alarm');
  assert.equal(sm.wouldRefuse('b', 'v'), 'alarm');
  assert.equal(sm.wouldRefuse('a', 'short'), null, 'a shrinking write is not refused');
  assert.equal(apply({ op: 'delete', key: 'a' }).kind, 'delete');
  apply({ op: 'alarm', node: 'n1', active: false });
  assert.equal(apply({ op: 'put', key: 'b', value: 'v' }).kind, 'no_space', 'n2 still low');
  apply({ op: 'alarm', node: 'n2', active: false });
  assert.deepEqual(sm.noSpaceAlarms, []);
  assert.equal(apply({ op: 'put', key: 'b', value: 'v' }).kind, 'put');
});

test('the state size counts the pairs exactly; idempotency records are bounded on their own', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  apply({ op: 'put', key: 'k', value: 'v1' });
  assert.equal(sm.stateBytes, pairCharge('k', 'v1'));
  apply({ op: 'put', key: 'k', value: 'value2' });
  assert.equal(sm.stateBytes, pairCharge('k', 'value2'));
  apply({ op: 'put', key: 'j', value: 'w', idempotencyKey: 'id' });
  assert.equal(sm.stateBytes, pairCharge('k', 'value2') + pairCharge('j', 'w'));
  assert.ok(sm.idempotencyBytes > 0);
  apply({ op: 'delete', key: 'k' });
  apply({ op: 'delete', key: 'k' });
  assert.equal(sm.stateBytes, pairCharge('j', 'w'));
});

test('a full state never jams: deletes carrying Idempotency-Keys free room for the next write', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  apply({ op: 'quota', bytes: 2_000 });
  for (let round = 0; round < 200; round++) {
    assert.equal(
      apply({ op: 'put', key: `k${round}`, value: 'x'.repeat(500), idempotencyKey: `p${round}` }).kind,
      'put',
    );
    assert.equal(apply({ op: 'delete', key: `k${round}`, idempotencyKey: `d${round}` }).kind, 'delete');
  }
  assert.equal(sm.stateBytes, 0);
  assert.ok(sm.idempotencyBytes > 2_000, 'the records alone are past the quota');
  assert.equal(apply({ op: 'put', key: 'next', value: 'x'.repeat(500) }).kind, 'put');
});

test('quota, alarms and state size survive a snapshot; a version-1 snapshot restores with no rules', () => {
  const sm = new KvStateMachine();
  const apply = applier(sm);
  apply({ op: 'put', key: 'a', value: 'b', idempotencyKey: 'x' });
  apply({ op: 'quota', bytes: 12345 });
  apply({ op: 'alarm', node: 'n3', active: true });
  const back = KvStateMachine.restore(sm.snapshot());
  assert.equal(back.quotaBytes, 12345);
  assert.deepEqual(back.noSpaceAlarms, ['n3']);
  assert.equal(back.stateBytes, sm.stateBytes);
  assert.deepEqual(back.snapshot(), sm.snapshot(), 'same state, same bytes');

  // Version 1 had no space section and no key metadata: take a version-3 snapshot with no rules
  // and drop both (the two zero varuints after magic, version, lastApplied and the three dedup
  // rules; the last key's three one-byte metadata varuints before the CRC).
  const plain = new KvStateMachine();
  applier(plain)({ op: 'put', key: 'k', value: 'v' });
  const v3 = snapshotV3(plain);
  const d = plain.dedupConfig;
  const cut =
    4 + 1 + varuintSize(1) + varuintSize(d.window) + varuintSize(d.maxEntries) + varuintSize(d.maxBytes);
  assert.deepEqual([...v3.subarray(cut, cut + 2)], [0, 0]);
  assert.deepEqual([...v3.subarray(v3.length - 7, v3.length - 4)], [1, 1, 1]);
  const body = Buffer.concat([v3.subarray(0, cut), v3.subarray(cut + 2, v3.length - 7)]);
  body[4] = 1;
  const crc = Buffer.alloc(4);
  crc.writeUInt32LE(crc32(body));
  const v1 = KvStateMachine.restore(Buffer.concat([body, crc]));
  assert.equal(v1.get('k'), 'v');
  assert.equal(v1.quotaBytes, null);
  assert.deepEqual(v1.noSpaceAlarms, []);
  assert.equal(v1.stateBytes, plain.stateBytes);
});

test('property: replicas applying the same entries refuse the same writes and hold the same bytes', () => {
  const space = fc.oneof(
    fc.integer({ min: 0, max: 2000 }).map((bytes): Command => ({ op: 'quota', bytes })),
    fc
      .tuple(fc.constantFrom('n1', 'n2'), fc.boolean())
      .map(([node, active]): Command => ({ op: 'alarm', node, active })),
  );
  const write = fc.oneof(
    fc.tuple(keyArb, valueArb).map(([key, value]): Command => ({ op: 'put', key, value: value.repeat(20) })),
    keyArb.map((key): Command => ({ op: 'delete', key })),
  );
  fc.assert(
    fc.property(
      fc.array(fc.oneof({ weight: 1, arbitrary: space }, { weight: 6, arbitrary: write }), { maxLength: 80 }),
      (cmds) => {
        const a = new KvStateMachine();
        const b = new KvStateMachine();
        for (const cmd of cmds) {
          const ra = applier(a)(cmd);
          const rb = applier(b)(cmd);
          assert.deepEqual(ra, rb);
        }
        assert.deepEqual(a.snapshot(), b.snapshot());
        assert.equal(KvStateMachine.restore(a.snapshot()).stateBytes, a.stateBytes);
      },
    ),
  );
});
