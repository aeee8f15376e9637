// Goal: snapshot files are all-or-nothing (a crash during a save leaves no partial file under the
// real name), any damage is detected on load, and pruning/quarantine keep the right files.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { HeldSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { CorruptionError, crc32c, errorCode, SimDisk, SnapshotStore } from '../../src/storage/index.js';
import { recordingLogger, settled } from './helpers.js';

const DIR = '/data/snap';
const quiet = recordingLogger();

function snap(index: number, term: number, size = 100): HeldSnapshot {
  const data = Uint8Array.from({ length: size }, (_, i) => (i + index) & 0xff);
  return { meta: { index, term, membership: initialMembership(['n1', 'n2', 'n3']) }, data };
}

async function storeWith(...snaps: HeldSnapshot[]): Promise<{ disk: SimDisk; store: SnapshotStore }> {
  const disk = new SimDisk(new Prng(9));
  const store = await SnapshotStore.open(disk, DIR, quiet);
  for (const s of snaps) await store.save(s);
  return { disk, store };
}

test('saved snapshots load back intact, listed newest first', async () => {
  const { disk, store } = await storeWith(snap(10, 1), snap(30, 2), snap(20, 2));
  assert.deepEqual(
    store.list().map((f) => f.name),
    [
      'snap-000000000000001e-0000000000000002.snap',
      'snap-0000000000000014-0000000000000002.snap',
      'snap-000000000000000a-0000000000000001.snap',
    ],
  );
  const reopened = await SnapshotStore.open(disk, DIR, quiet);
  assert.deepEqual(reopened.list(), store.list());
  assert.deepEqual(await reopened.load(reopened.list()[0]!), snap(30, 2));
  assert.deepEqual(await reopened.load(reopened.list()[2]!), snap(10, 1));
});

test('an empty snapshot round-trips too', async () => {
  const { store } = await storeWith(snap(5, 1, 0));
  assert.deepEqual(await store.load(store.list()[0]!), snap(5, 1, 0));
});

test('any damage is detected on load', async () => {
  const cases: [string, (disk: SimDisk, path: string, size: number) => Promise<void>, RegExp][] = [
    ['a flipped data byte', async (d, p, n) => d.corrupt(p, n - 10), /data checksum mismatch/],
    ['a flipped header byte', async (d, p) => d.corrupt(p, 20), /checksum mismatch/],
    ['a truncated file', async (d, p, n) => d.truncate(p, n - 1), /expected 100 data bytes, found 99/],
    ['an empty file', async (d, p) => d.truncate(p, 0), /incomplete frame header/],
  ];
  for (const [what, damage, why] of cases) {
    const { disk, store } = await storeWith(snap(10, 1));
    const f = store.list()[0]!;
    const path = store.pathOf(f);
    await damage(disk, path, (await disk.size(path))!);
    await assert.rejects(store.load(f), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, what);
      assert.equal(e.file, path);
      assert.match(e.reason, why, what);
      return true;
    });
  }
});

test('a file whose name disagrees with its header is refused', async () => {
  const { disk, store } = await storeWith(snap(10, 1));
  await disk.rename(`${DIR}/${store.list()[0]!.name}`, `${DIR}/snap-000000000000000b-0000000000000001.snap`);
  const reopened = await SnapshotStore.open(disk, DIR, quiet);
  await assert.rejects(
    reopened.load(reopened.list()[0]!),
    /header says index 10 term 1, unlike the file name/,
  );
});

test('a crash during a save leaves the old state or the whole new file, never a part', async () => {
  const seen = new Set<string>();
  for (let seed = 0; seed < 60; seed++) {
    const disk = new SimDisk(new Prng(seed));
    const store = await SnapshotStore.open(disk, DIR, quiet);
    await store.save(snap(10, 1));
    disk.holdSyncs();
    let saved = false;
    const p = store.save(snap(20, 1, 5000)).then(() => {
      saved = true;
    });
    const over = settled(p);
    // Let `seed % 3` of the save's two fsyncs (file, directory) complete, then crash.
    for (let i = 0; i < seed % 3; i++) {
      await Promise.race([disk.whenSyncsPending(1), over]);
      disk.releaseSyncs(1);
    }
    await Promise.race([disk.whenSyncsPending(1), over]);
    disk.crash();
    const after = await SnapshotStore.open(disk, DIR, quiet);
    const names = after.list().map((f) => f.index);
    seen.add(names.join(','));
    if (saved) assert.deepEqual(names, [20, 10]);
    for (const f of after.list())
      assert.deepEqual(await after.load(f), f.index === 20 ? snap(20, 1, 5000) : snap(10, 1));
    // No temp file is left behind.
    assert.ok((await disk.list(DIR)).every((n) => !n.endsWith('.tmp')));
  }
  assert.deepEqual([...seen].sort(), ['10', '20,10']);
});

test('prune keeps the newest, only among those at or below the limit', async () => {
  const { store } = await storeWith(snap(10, 1), snap(20, 1), snap(30, 1), snap(40, 1));
  assert.deepEqual(await store.prune(2, 30), ['snap-000000000000000a-0000000000000001.snap']);
  assert.deepEqual(
    store.list().map((f) => f.index),
    [40, 30, 20],
  );
  assert.deepEqual(await store.prune(1), [
    'snap-000000000000001e-0000000000000001.snap',
    'snap-0000000000000014-0000000000000001.snap',
  ]);
  assert.deepEqual(
    store.list().map((f) => f.index),
    [40],
  );
});

test('quarantine moves a damaged snapshot aside, kept for inspection', async () => {
  const { disk, store } = await storeWith(snap(10, 1), snap(20, 1));
  const broken = await store.quarantine(store.list()[0]!);
  assert.equal(broken, `${DIR}/snap-0000000000000014-0000000000000001.snap.broken`);
  const logger = recordingLogger();
  const reopened = await SnapshotStore.open(disk, DIR, logger);
  assert.deepEqual(
    reopened.list().map((f) => f.index),
    [10],
  );
  assert.ok((await disk.list(DIR)).includes('snap-0000000000000014-0000000000000001.snap.broken'));
  assert.deepEqual(logger.lines, []);
});

test('openData checks the header and reads the data by range, from a file a newer snapshot removed', async () => {
  const s10 = snap(10, 1, 1000);
  const { store } = await storeWith(s10);
  const file = await store.openData(10, 1);
  assert.deepEqual(file.meta, s10.meta);
  assert.equal(file.dataLength, 1000);
  assert.equal(file.dataCrc, crc32c(s10.data));
  await store.save(snap(20, 1));
  assert.deepEqual(await store.prune(1), ['snap-000000000000000a-0000000000000001.snap']);
  const parts: Uint8Array[] = [];
  for (let at = 0; at < 1000; at += 300) parts.push(await file.read(at, 300));
  assert.deepEqual(Buffer.concat(parts), Buffer.from(s10.data));
  await file.close();
  await assert.rejects(store.openData(10, 1), (e: unknown) => errorCode(e) === 'ENOENT');
});

test('openData refuses a damaged header or a file of the wrong length, and leaves the data to the reader', async () => {
  const cases: [string, (disk: SimDisk, path: string, size: number) => Promise<void>, RegExp | null][] = [
    ['a flipped header byte', async (d, p) => d.corrupt(p, 20), /checksum mismatch/],
    ['a flipped frame length', async (d, p) => d.corrupt(p, 0), /checksum mismatch/],
    ['a truncated file', async (d, p, n) => d.truncate(p, n - 1), /expected 100 data bytes, found 99/],
    ['an empty file', async (d, p) => d.truncate(p, 0), /incomplete frame header/],
    // The data's checksum is the reader's to check, as it streams.
    ['a flipped data byte', async (d, p, n) => d.corrupt(p, n - 10), null],
  ];
  for (const [what, damage, why] of cases) {
    const { disk, store } = await storeWith(snap(10, 1));
    const path = store.pathOf(store.list()[0]!);
    await damage(disk, path, (await disk.size(path))!);
    if (why === null) {
      const file = await store.openData(10, 1);
      assert.notEqual(crc32c(await file.read(0, 100)), file.dataCrc, what);
      await file.close();
      continue;
    }
    await assert.rejects(store.openData(10, 1), (e: unknown) => {
      assert.ok(e instanceof CorruptionError, what);
      assert.match(e.reason, why, what);
      return true;
    });
  }
});

test('saveParts writes the file save() writes for the parts joined, and it loads back whole', async () => {
  const disk = new SimDisk(new Prng(11));
  const whole = await SnapshotStore.open(disk, '/whole', quiet);
  const split = await SnapshotStore.open(disk, '/split', quiet);
  const data = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 31) & 0xff);
  const meta = { index: 7, term: 2, membership: initialMembership(['n1', 'n2', 'n3']) };
  const f1 = await whole.save({ meta, data });
  const f2 = await split.saveParts(meta, [data.subarray(0, 1), data.subarray(1, 4096), data.subarray(4096)]);
  disk.crash(); // only what was made durable is left
  assert.deepEqual(await disk.readFile(split.pathOf(f2)), await disk.readFile(whole.pathOf(f1)));
  const reopened = await SnapshotStore.open(disk, '/split', quiet);
  assert.deepEqual((await reopened.load(f2)).data, data);
});
