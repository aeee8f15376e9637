// Goal: openStorage ties a data dir to one node — it bootstraps once, refuses another node's or
// cluster's dir and dirs whose identity or WAL went missing — and it starts from the newest
// usable snapshot: falling back to an older one when the newest is damaged and the WAL covers
// the gap, refusing with a clear error when it does not. compact() prunes snapshots and WAL
// segments without ever leaving the dir unrecoverable.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { HeldSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import {
  CorruptionError,
  IdentityMismatchError,
  openStorage,
  SimDisk,
  type Storage,
  StorageError,
} from '../../src/storage/index.js';
import { crashAfterSyncs, entries, hs, recordingLogger } from './helpers.js';

const DIR = '/var/raftkv/n1';
const ID = { clusterId: 'c-7f3a', nodeId: 'n1' };
const SMALL = { segmentSize: 200 };

function snap(index: number, term: number): HeldSnapshot {
  return {
    meta: { index, term, membership: initialMembership(['n1', 'n2', 'n3']) },
    data: new TextEncoder().encode(`state@${index}`),
  };
}

/** Appends entries 1..n (term 1) in batches of 5 and takes a snapshot at each index in `at`. */
async function workload(s: Storage, n: number, at: number[]): Promise<void> {
  for (let i = 1; i <= n; i += 5) {
    s.save(entries(i, Math.min(i + 4, n), 1), hs(1, Math.min(i + 4, n), 'n1'));
    await s.sync();
    for (const a of at) {
      if (a >= i && a <= i + 4) {
        await s.saveSnapshot(snap(a, 1));
        await s.sync();
        await s.compact();
      }
    }
  }
}

test('a new data dir is bootstrapped once and reopens as itself', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  assert.equal(s.state.bootstrapped, true);
  assert.deepEqual(await disk.list(DIR), ['IDENTITY', 'snap', 'wal']);
  s.save(entries(1, 3, 1), hs(1, 2, 'n1'));
  await s.sync();
  await s.close();
  const again = await openStorage(disk, DIR, ID);
  assert.equal(again.state.bootstrapped, false);
  assert.deepEqual(again.state.entries, entries(1, 3, 1));
  assert.deepEqual(again.state.hardState, hs(1, 2, 'n1'));
  assert.equal(again.state.snapshot, null);
  await again.close();
});

test('a bootstrap survives a crash right after it', async () => {
  for (let seed = 0; seed < 20; seed++) {
    const disk = new SimDisk(new Prng(seed));
    await (await openStorage(disk, DIR, ID)).close();
    disk.crash();
    const s = await openStorage(disk, DIR, ID);
    assert.equal(s.state.bootstrapped, false, `seed ${seed}`);
    await s.close();
  }
});

test('a crash in the middle of bootstrapping leaves a dir that bootstraps again', async () => {
  for (let k = 0; k < 12; k++) {
    const disk = new SimDisk(new Prng(k));
    // Let k of the bootstrap's fsyncs complete, then crash.
    await crashAfterSyncs(disk, () => openStorage(disk, DIR, ID).then((s) => s.close()), k);
    const s = await openStorage(disk, DIR, ID);
    s.save(entries(1, 1, 1), null);
    await s.sync();
    await s.close();
    assert.deepEqual((await openStorage(disk, DIR, ID)).state.entries, entries(1, 1, 1));
  }
});

test('another node or cluster is refused', async () => {
  const disk = new SimDisk(new Prng(1));
  await (await openStorage(disk, DIR, ID)).close();
  await assert.rejects(
    openStorage(disk, DIR, { clusterId: 'c-7f3a', nodeId: 'n2' }),
    (e: unknown) =>
      e instanceof IdentityMismatchError &&
      /belongs to node "n1" of cluster "c-7f3a", not "n2"/.test(e.message),
  );
  await assert.rejects(
    openStorage(disk, DIR, { clusterId: 'other', nodeId: 'n1' }),
    (e: unknown) =>
      e instanceof IdentityMismatchError && /belongs to cluster "c-7f3a", not "other"/.test(e.message),
  );
});

test('a dir with data but no identity, or an identity but no WAL, is refused', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  s.save(entries(1, 2, 1), null);
  await s.sync();
  await s.close();
  await disk.remove(`${DIR}/IDENTITY`);
  await assert.rejects(
    openStorage(disk, DIR, ID),
    (e: unknown) => e instanceof StorageError && /no IDENTITY/.test(e.message),
  );

  const other = new SimDisk(new Prng(1));
  await (await openStorage(other, DIR, ID)).close();
  for (const name of await other.list(`${DIR}/wal`)) await other.remove(`${DIR}/wal/${name}`);
  await assert.rejects(openStorage(other, DIR, ID), CorruptionError);
});

test('starts from the newest snapshot; compact keeps two and the WAL back to the older', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID, SMALL);
  await workload(s, 60, [15, 30, 45]);
  assert.deepEqual(
    s.snapshots.list().map((f) => f.index),
    [45, 30],
  );
  await s.close();
  const again = await openStorage(disk, DIR, ID, SMALL);
  assert.deepEqual(again.state.snapshot, snap(45, 1));
  assert.deepEqual(again.state.entries, entries(46, 60, 1));
  assert.deepEqual(again.state.hardState, hs(1, 60, 'n1'));
  const first = (await disk.list(`${DIR}/wal`))[0]!;
  const firstIndex = Number.parseInt(first.slice(21, 37), 16);
  assert.ok(
    firstIndex > 1 && firstIndex <= 31,
    `oldest segment starts at ${firstIndex}: released up to 30 only`,
  );
  await again.close();
});

test('a damaged newest snapshot falls back to the older one the WAL still covers', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID, SMALL);
  await workload(s, 60, [15, 30, 45]);
  await s.close();
  const newest = `${DIR}/snap/snap-000000000000002d-0000000000000001.snap`;
  disk.corrupt(newest, 30);
  const logger = recordingLogger();
  const again = await openStorage(disk, DIR, ID, { ...SMALL, logger });
  assert.deepEqual(again.state.snapshot, snap(30, 1));
  assert.deepEqual(again.state.entries, entries(31, 60, 1));
  assert.equal(again.state.discardedSnapshots.length, 1);
  assert.equal(again.state.discardedSnapshots[0]!.action, 'quarantined');
  assert.ok((await disk.list(`${DIR}/snap`)).includes('snap-000000000000002d-0000000000000001.snap.broken'));
  assert.ok(logger.lines.some((l) => l.level === 'warn' && l.fields.file === newest));
  await again.close();
});

test('a damaged snapshot the WAL cannot bridge is refused, and nothing is touched', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID, { ...SMALL, keepSnapshots: 1 });
  await workload(s, 60, [15, 30, 45]);
  await s.close();
  const before = await disk.list(`${DIR}/snap`);
  assert.deepEqual(before, ['snap-000000000000002d-0000000000000001.snap']);
  disk.corrupt(`${DIR}/snap/${before[0]}`, 40);
  await assert.rejects(openStorage(disk, DIR, ID, SMALL), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.match(e.message, /no usable snapshot in \/var\/raftkv\/n1\/snap: the WAL starts after index \d+/);
    assert.match(e.message, /snap-000000000000002d-0000000000000001\.snap: corrupt .* checksum mismatch/);
    return true;
  });
  assert.deepEqual(await disk.list(`${DIR}/snap`), before);
});

test('with every snapshot damaged but the whole WAL kept, it replays from the start', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  s.save(entries(1, 20, 1), hs(1, 20));
  await s.saveSnapshot(snap(10, 1));
  await s.sync();
  await s.close();
  disk.corrupt(`${DIR}/snap/snap-000000000000000a-0000000000000001.snap`, 5);
  const again = await openStorage(disk, DIR, ID);
  assert.equal(again.state.snapshot, null);
  assert.deepEqual(again.state.entries, entries(1, 20, 1));
  await again.close();
});

test('a snapshot install that was never acknowledged is undone', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  s.save(entries(1, 5, 1), hs(1, 3));
  await s.sync();
  // A leader's snapshot far ahead, in a new term: the file is saved, then the crash comes
  // before the batch with its marker is synced.
  await s.saveSnapshot(snap(100, 2));
  s.save([], hs(2, 100));
  disk.crash({ tear: false });
  const logger = recordingLogger();
  const again = await openStorage(disk, DIR, ID, { logger });
  assert.equal(again.state.snapshot, null);
  assert.deepEqual(again.state.entries, entries(1, 5, 1));
  assert.deepEqual(again.state.hardState, hs(1, 3));
  assert.deepEqual(
    again.state.discardedSnapshots.map((d) => [d.name, d.action]),
    [['snap-0000000000000064-0000000000000002.snap', 'removed']],
  );
  assert.deepEqual(await disk.list(`${DIR}/snap`), []);
  await again.close();
});

test('an acknowledged snapshot install replaces the log', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  s.save(entries(1, 5, 1), hs(1, 3));
  await s.sync();
  await s.saveSnapshot(snap(100, 2));
  s.save(entries(101, 102, 2), hs(2, 100));
  await s.sync();
  await s.close();
  const again = await openStorage(disk, DIR, ID);
  assert.deepEqual(again.state.snapshot, snap(100, 2));
  assert.deepEqual(again.state.entries, entries(101, 102, 2));
  assert.deepEqual(again.state.hardState, hs(2, 100));
  await again.close();
});
