// Goal: snapshots come every N applied entries while they are small, and once they pass the size
// threshold, not before as many bytes were applied since (so a large state is not re-serialised
// over and over under write load).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCommand, KvStateMachine } from '../../src/kv/index.js';
import { realClock } from '../../src/node/clock.js';
import { silentEventLog } from '../../src/node/logger.js';
import { type ReadySnapshot, Snapshotter, sizeRuleFromBytes } from '../../src/node/snapshotter.js';
import {
  heldSnapshotData,
  initialMembership,
  type MemoryLogStorage,
  type Snapshot,
} from '../../src/raft/index.js';
import type { Storage } from '../../src/storage/index.js';

/**
 * A Snapshotter on a fake store whose save() is `save` (saveParts hands it the parts joined);
 * other parts unused by these tests.
 */
function snapshotterWith(
  every: number,
  save: (s: Snapshot) => Promise<void>,
  failed?: (e: Error) => void,
  dataInFiles = false,
  maxLogBytes?: number,
): Snapshotter {
  return new Snapshotter({
    dataInFiles,
    ...(maxLogBytes !== undefined && { maxLogBytes }),
    every,
    catchUpEntries: 0,
    storage: {
      snapshots: {
        save,
        saveParts: (meta: Snapshot['meta'], parts: readonly Uint8Array[]) =>
          save({ meta, data: Buffer.concat(parts) }),
      },
    } as unknown as Storage,
    log: {} as MemoryLogStorage,
    logger: silentEventLog,
    membershipAt: () => initialMembership(['n1']),
    schedule: () => {},
    ...(failed === undefined ? {} : { failed }),
    clock: realClock,
  });
}

/** Applies one put of `value` to `sm` and tells the snapshotter, as the driver does. */
function applyPut(sm: KvStateMachine, snapshotter: Snapshotter, key: string, value: string): number {
  const data = encodeCommand({ op: 'put', key, value });
  sm.apply({ index: sm.lastApplied + 1, term: 1, type: 'command', data });
  snapshotter.maybeStart(sm, () => 1, data.byteLength);
  return data.byteLength;
}

const every = 10;
const bigValue = 'v'.repeat(256 * 1024);

test('snapshot cadence: by count while small, by bytes written once past the threshold', async () => {
  const saved: Snapshot[] = [];
  const snapshotter = snapshotterWith(every, async (snap) => void saved.push(snap));
  // The watch history would carry every 256 KiB value a second time: these sizes are the keys'.
  const sm = new KvStateMachine({ history: { maxEvents: 1 } });
  const taken: ReadySnapshot[] = [];

  /** Applies one put and lets any snapshot it starts finish. */
  async function put(key: string, value: string): Promise<void> {
    applyPut(sm, snapshotter, key, value);
    await snapshotter.idle();
    const r = snapshotter.takeReady();
    if (r !== null) taken.push(r);
  }

  // 40 values of 256 KiB: snapshots at 10, 20, 30, 40 entries; the last one is past 8 MiB.
  for (let i = 0; i < 40; i++) await put(`big/${i}`, bigValue);
  assert.deepEqual(
    taken.map((r) => r.snapshot.meta.index),
    [10, 20, 30, 40],
  );
  const last = taken.at(-1)!;
  assert.ok(last.snapshot.data.byteLength > sizeRuleFromBytes, `${last.snapshot.data.byteLength} bytes`);
  assert.equal(last.keys, 40);
  assert.ok(last.ms >= 0);
  assert.equal(saved.length, 4, 'each snapshot was written before it was handed over');

  // Many small writes: the count is reached again and again, the bytes are not.
  let since = 0;
  for (let i = 0; i < 200; i++) {
    await put(`small/${i}`, 'x');
    since += encodeCommand({ op: 'put', key: `small/${i}`, value: 'x' }).byteLength;
  }
  assert.equal(taken.length, 4, 'no snapshot for a few KiB of writes against a 10 MiB state');

  // Overwriting the big values: the next snapshot comes with the write that brings the bytes
  // applied since the last one to its size, not before.
  const lastBytes = last.snapshot.data.byteLength;
  for (let i = 0; taken.length === 4; i++) {
    assert.ok(since < lastBytes, `no snapshot although ${since} of ${lastBytes} bytes were written`);
    await put(`big/${i % 40}`, bigValue);
    since += encodeCommand({ op: 'put', key: `big/${i % 40}`, value: bigValue }).byteLength;
  }
  assert.ok(since >= lastBytes, `snapshot after ${since} of ${lastBytes} bytes`);
  assert.equal(taken[4]!.snapshot.meta.index, sm.lastApplied);
});

test('force(): the next maybeStart snapshots regardless of count and size, once', async () => {
  const snapshotter = snapshotterWith(1000, async () => {});
  const sm = new KvStateMachine();
  const apply = (key: string): void => void applyPut(sm, snapshotter, key, 'x');
  apply('a');
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady(), null, '1 entry of 1000: no snapshot');
  snapshotter.force();
  snapshotter.maybeStart(sm, () => 1, 0);
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady()?.snapshot.meta.index, 1);
  // Forced once: the rules apply again.
  apply('b');
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady(), null);
  // Forced with nothing applied since the last snapshot: nothing to do.
  snapshotter.force();
  snapshotter.maybeStart(sm, () => 1, 0);
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady()?.snapshot.meta.index, 2);
  snapshotter.force();
  snapshotter.maybeStart(sm, () => 1, 0);
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady(), null);
});

test('after a failed snapshot the count rule backs off, but force() still snapshots at once', async () => {
  let failNext = true;
  const failures: Error[] = [];
  const snapshotter = snapshotterWith(
    5,
    async () => {
      if (failNext) {
        failNext = false;
        throw new Error('ENOSPC: no space left on device');
      }
    },
    (e) => failures.push(e),
  );
  const sm = new KvStateMachine();
  const apply = async (key: string): Promise<ReadySnapshot | null> => {
    applyPut(sm, snapshotter, key, 'x');
    await snapshotter.idle();
    return snapshotter.takeReady();
  };
  for (let i = 1; i <= 4; i++) assert.equal(await apply(`k${i}`), null);
  assert.equal(await apply('k5'), null, 'the snapshot at 5 failed');
  assert.equal(failures.length, 1);
  // Backing off: not at 6..9.
  for (let i = 6; i <= 9; i++) assert.equal(await apply(`k${i}`), null, `no retry at ${i}`);
  // An operator's request is not held back by the failure.
  snapshotter.force();
  snapshotter.maybeStart(sm, () => 1, 0);
  await snapshotter.idle();
  assert.equal(snapshotter.takeReady()?.snapshot.meta.index, 9);
});

test('with the data kept in files, a snapshot is handed on as a reference once its file is written', async () => {
  const saved: Snapshot[] = [];
  const snapshotter = snapshotterWith(every, async (snap) => void saved.push(snap), undefined, true);
  const sm = new KvStateMachine();
  for (let i = 0; i < every; i++) applyPut(sm, snapshotter, `k${i}`, `value ${i}`);
  await snapshotter.idle();
  const r = snapshotter.takeReady();
  assert.ok(r !== null);
  assert.equal(saved.length, 1);
  const written = heldSnapshotData(saved[0]!);
  assert.ok(written !== null, 'the file got the bytes');
  assert.deepEqual(r.snapshot, {
    meta: saved[0]!.meta,
    data: { stored: true, byteLength: written.byteLength },
  });
  assert.equal(heldSnapshotData(r.snapshot), null, 'the snapshot handed on holds no bytes');
});

test('the size rule waits for no more than maxLogBytes of entries: the log held in memory stays bounded', async () => {
  const cap = 2 * 1024 * 1024;
  const snapshotter = snapshotterWith(every, async () => {}, undefined, false, cap);
  const sm = new KvStateMachine({ history: { maxEvents: 1 } });
  const taken: ReadySnapshot[] = [];
  let since = 0;
  const put = async (key: string): Promise<void> => {
    applyPut(sm, snapshotter, key, bigValue);
    since += encodeCommand({ op: 'put', key, value: bigValue }).byteLength;
    await snapshotter.idle();
    const r = snapshotter.takeReady();
    if (r !== null) {
      taken.push(r);
      since = 0;
    }
  };
  // Past 8 MiB of state, the count rule alone no longer decides.
  for (let i = 0; i < 40; i++) await put(`big/${i}`);
  const lastBytes = taken.at(-1)!.snapshot.data.byteLength;
  assert.ok(lastBytes > sizeRuleFromBytes && lastBytes > cap);
  const before = taken.length;
  // Overwrites: the next snapshot comes once the cap's bytes are applied, not the snapshot's size.
  for (let i = 0; taken.length === before; i++) {
    assert.ok(since < cap + bigValue.length * 2, `no snapshot after ${since} bytes against a cap of ${cap}`);
    await put(`big/${i % 40}`);
  }
  assert.ok(taken.length === before + 1);
});
