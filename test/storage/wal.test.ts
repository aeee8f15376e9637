// Goal: the WAL's normal operation — what is saved and synced is recovered exactly (entries,
// suffix replacements, hard state, snapshot markers, across segment cuts and releases), group
// commit takes one fdatasync per batch however many callers wait on it, and an I/O failure
// makes the WAL refuse further use instead of pretending.

import assert from 'node:assert/strict';
import { appendFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { AssertionError } from '../../src/assert.js';
import { Prng } from '../../src/random.js';
import { RealDisk, SimDisk, Wal, WalFailedError } from '../../src/storage/index.js';
import { entries, entry, hs, Oracle, settled, tempDir, viewOf } from './helpers.js';

const DIR = '/data/wal';

async function fresh(segmentSize?: number): Promise<{ disk: SimDisk; wal: Wal }> {
  const disk = new SimDisk(new Prng(1));
  const { wal } = await Wal.open(disk, DIR, { segmentSize });
  return { disk, wal };
}

async function reopen(disk: SimDisk, segmentSize?: number) {
  return Wal.open(disk, DIR, { segmentSize });
}

test('a fresh WAL recovers empty', async () => {
  const { disk, wal } = await fresh();
  await wal.close();
  const { recovery } = await reopen(disk);
  assert.equal(recovery.empty, true);
  assert.deepEqual(recovery.entries, []);
  assert.equal(recovery.snapshot, null);
  assert.deepEqual(recovery.hardState, { term: 0, votedFor: null, commitIndex: 0 });
  assert.equal(recovery.tornTail, null);
});

test('synced entries and hard state come back; later hard states win', async () => {
  const { disk, wal } = await fresh();
  wal.save(entries(1, 3, 1), hs(1, 0, 'n1'));
  await wal.sync();
  wal.save(entries(4, 5, 1), hs(1, 3, 'n1'));
  await wal.sync();
  await wal.close();
  const { recovery } = await reopen(disk);
  assert.deepEqual(recovery.entries, entries(1, 5, 1));
  assert.deepEqual(recovery.hardState, hs(1, 3, 'n1'));
  assert.equal(recovery.empty, false);
});

test('a save starting at or before the last index replaces the suffix from there', async () => {
  const { disk, wal } = await fresh();
  wal.save(entries(1, 10, 1), null);
  await wal.sync();
  wal.save(entries(6, 7, 2), hs(2, 5));
  await wal.sync();
  assert.equal(wal.lastIndex, 7);
  assert.equal(wal.lastTerm, 2);
  await wal.close();
  const { recovery, wal: again } = await reopen(disk);
  assert.deepEqual(recovery.entries, [...entries(1, 5, 1), ...entries(6, 7, 2)]);
  // And the recovered WAL keeps going from there.
  again.save(entries(8, 8, 2), null);
  await again.sync();
  await again.close();
  assert.deepEqual((await reopen(disk)).recovery.entries, [...entries(1, 5, 1), ...entries(6, 8, 2)]);
});

test('saves that would leave a gap or rewrite the snapshot are refused', async () => {
  const { wal } = await fresh();
  wal.save(entries(1, 3, 1), null);
  assert.throws(() => wal.save([entry(5, 1)], null), AssertionError);
  assert.throws(() => wal.save([entry(4, 1), entry(6, 1)], null), AssertionError);
  wal.saveSnapshot({ index: 2, term: 1 });
  assert.throws(() => wal.saveSnapshot({ index: 1, term: 1 }), AssertionError);
  assert.throws(() => wal.save([entry(2, 2)], null), AssertionError);
  await wal.sync();
});

test('snapshot markers: one the log agrees with keeps the entries after it', async () => {
  const { disk, wal } = await fresh();
  wal.save(entries(1, 10, 1), null);
  wal.saveSnapshot({ index: 6, term: 1 });
  await wal.sync();
  await wal.close();
  const { recovery } = await reopen(disk);
  assert.deepEqual(recovery.snapshot, { index: 6, term: 1 });
  assert.deepEqual(recovery.entries, entries(7, 10, 1));
  assert.deepEqual(recovery.log.base, { index: 0, term: 0 });
  assert.equal(recovery.log.entries.length, 10, 'earlier entries kept for falling back to an older snapshot');
});

test('snapshot markers: one the log disagrees with replaces the whole log', async () => {
  const { disk, wal } = await fresh();
  wal.save(entries(1, 10, 1), null);
  wal.saveSnapshot({ index: 8, term: 3 });
  wal.save(entries(9, 9, 3), hs(3, 9));
  wal.saveSnapshot({ index: 50, term: 3 });
  await wal.sync();
  await wal.close();
  const { recovery } = await reopen(disk);
  assert.deepEqual(recovery.snapshot, { index: 50, term: 3 });
  assert.deepEqual(recovery.entries, []);
  assert.deepEqual(recovery.log.base, { index: 50, term: 3 });
});

test('segments are cut at the size limit, named to sort, and replay across them', async () => {
  const { disk, wal } = await fresh(300);
  const oracle = new Oracle();
  for (let i = 1; i <= 40; i++) {
    const es = [entry(i, 1 + Math.floor(i / 10))];
    wal.save(es, hs(1 + Math.floor(i / 10), i - 1));
    oracle.append(es);
    oracle.hardState = hs(1 + Math.floor(i / 10), i - 1);
    await wal.sync();
  }
  const names = wal.segmentNames();
  assert.ok(names.length > 3, `${names.length} segments`);
  assert.deepEqual([...names].sort(), names);
  assert.deepEqual(await disk.list(DIR), names);
  await wal.close();
  assert.deepEqual(viewOf((await reopen(disk, 300)).recovery), oracle.view());
});

test('release deletes only segments wholly covered by a durable snapshot marker', async () => {
  const { disk, wal } = await fresh(200);
  for (let i = 1; i <= 30; i++) {
    wal.save([entry(i, 1)], null);
    await wal.sync();
  }
  await assert.rejects(wal.release(10), AssertionError, 'no durable marker yet');
  wal.saveSnapshot({ index: 20, term: 1 });
  await wal.sync();
  const before = wal.segmentNames();
  const removed = await wal.release(20);
  assert.ok(removed.length > 0);
  assert.deepEqual(wal.segmentNames(), before.slice(removed.length));
  await wal.close();
  const { recovery } = await reopen(disk, 200);
  assert.ok(recovery.log.base.index <= 20, 'the WAL still reaches back to the snapshot');
  assert.deepEqual(recovery.snapshot, { index: 20, term: 1 });
  assert.deepEqual(recovery.entries, entries(21, 30, 1));
});

test('a segment whose records reach back before its start keeps its predecessor', async () => {
  const { disk, wal } = await fresh(120);
  wal.save([entry(1, 1, 'x'.repeat(21)), entry(2, 1, 'x'.repeat(21))], null);
  await wal.sync();
  // The next batch opens segment 1 (first index 3) but replaces entry 2, then a leader's
  // snapshot at 2 replaces the log: replaying segment 1 alone could not reproduce that.
  wal.save([entry(2, 2)], null);
  wal.saveSnapshot({ index: 2, term: 3 });
  await wal.sync();
  assert.equal(wal.segmentNames().length, 2);
  assert.deepEqual(await wal.release(2), []);
  // Once a later segment starts cleanly after the snapshot, both older ones can go.
  for (let i = 3; i <= 12; i++) {
    wal.save([entry(i, 3, 'y'.repeat(30))], null);
    await wal.sync();
  }
  wal.saveSnapshot({ index: 12, term: 3 });
  await wal.sync();
  const removed = await wal.release(12);
  assert.ok(removed.includes('wal-0000000000000000-0000000000000001.log'));
  assert.ok(removed.includes('wal-0000000000000001-0000000000000003.log'));
  await wal.close();
  const { recovery } = await reopen(disk, 120);
  assert.deepEqual(recovery.snapshot, { index: 12, term: 3 });
  assert.deepEqual(recovery.entries, []);
});

test('the hard state and marker survive the release of the segments that held them', async () => {
  const { disk, wal } = await fresh(150);
  wal.save(entries(1, 5, 1), hs(1, 5, 'n2'));
  wal.saveSnapshot({ index: 5, term: 1 });
  await wal.sync();
  for (let i = 6; i <= 25; i++) {
    wal.save([entry(i, 1)], null);
    await wal.sync();
  }
  wal.saveSnapshot({ index: 25, term: 1 });
  await wal.sync();
  assert.ok((await wal.release(25)).length > 0);
  await wal.close();
  const { recovery } = await reopen(disk, 150);
  assert.deepEqual(recovery.hardState, hs(1, 5, 'n2'));
  assert.deepEqual(recovery.snapshot, { index: 25, term: 1 });
});

test('group commit: saves made while a sync runs share the next fdatasync', async () => {
  const { disk, wal } = await fresh();
  const base = disk.stats.fileSyncs;
  disk.holdSyncs();
  wal.save([entry(1, 1)], null);
  const first = wal.sync();
  await disk.whenSyncsPending(1);
  // 50 proposers arrive while the first fsync is in flight.
  const waiting: Promise<void>[] = [];
  for (let i = 2; i <= 51; i++) {
    wal.save([entry(i, 1)], null);
    waiting.push(wal.sync());
  }
  assert.equal(disk.stats.fileSyncs - base, 1);
  disk.resumeSyncs();
  await first;
  await Promise.all(waiting);
  assert.equal(disk.stats.fileSyncs - base, 2, 'one fdatasync for the first batch, one for the other 50');
  // With nothing new saved, sync() costs nothing.
  await wal.sync();
  assert.equal(disk.stats.fileSyncs - base, 2);
});

test('sync resolves only after the fdatasync completes', async () => {
  const { disk, wal } = await fresh();
  disk.holdSyncs();
  wal.save([entry(1, 1)], null);
  let done = false;
  const p = wal.sync().then(() => {
    done = true;
  });
  await disk.whenSyncsPending(1);
  assert.equal(done, false);
  disk.releaseSyncs();
  await p;
  assert.equal(done, true);
});

test('after a failed fdatasync the WAL refuses all further use', async () => {
  const { disk, wal } = await fresh();
  wal.save([entry(1, 1)], null);
  await wal.sync();
  disk.failNext('sync');
  wal.save([entry(2, 1)], null);
  await assert.rejects(wal.sync(), WalFailedError);
  assert.throws(() => wal.save([entry(3, 1)], null), WalFailedError);
  await assert.rejects(wal.sync(), WalFailedError);
  await wal.close();
  // Reopening recovers what is on disk: entry 2 was written, so it may be there; 1 must be.
  const { recovery } = await reopen(disk);
  assert.deepEqual(recovery.entries[0], entry(1, 1));
});

test('a failed write poisons the syncs queued behind it too', async () => {
  const { disk, wal } = await fresh();
  disk.holdSyncs();
  wal.save([entry(1, 1)], null);
  const first = wal.sync();
  await disk.whenSyncsPending(1);
  wal.save([entry(2, 1)], null);
  const second = wal.sync();
  disk.failNext('append');
  disk.resumeSyncs();
  await first;
  await assert.rejects(second, WalFailedError);
  await settled(wal.close());
});

test('on a real disk: segments, recovery and torn-tail repair work the same', async () => {
  const tmp = await tempDir('wal');
  try {
    const dir = join(tmp.path, 'wal');
    const disk = new RealDisk();
    const { wal } = await Wal.open(disk, dir, { segmentSize: 300 });
    for (let i = 1; i <= 30; i += 3) {
      wal.save(entries(i, i + 2, 1), hs(1, i));
      await wal.sync();
    }
    const names = wal.segmentNames();
    assert.ok(names.length > 2);
    assert.deepEqual(await readdir(dir), names);
    await wal.close();
    // A write torn by a power loss: half a record at the end of the last segment.
    await appendFile(join(dir, names.at(-1)!), new Uint8Array([40, 0, 0, 0, 9, 9, 9]));
    const { wal: again, recovery } = await Wal.open(disk, dir, { segmentSize: 300 });
    assert.equal(recovery.tornTail?.droppedBytes, 7);
    assert.deepEqual(recovery.entries, entries(1, 30, 1));
    assert.deepEqual(recovery.hardState, hs(1, 28));
    await again.close();
  } finally {
    await tmp.cleanup();
  }
});
