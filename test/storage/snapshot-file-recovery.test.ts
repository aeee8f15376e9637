// Goal: with snapshotData 'file' (how a node opens its data dir), recovery checks the snapshot a
// window at a time and hands back a reference to its file instead of its bytes — never reading
// the file whole — and chooses exactly the snapshot, entries and hard state the default (bytes in
// memory) recovery chooses: falling back past a damaged snapshot, refusing with the same error,
// reading again the entries its first pass did not keep.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { HeldSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { type Disk, openStorage, SimDisk, type Storage, StorageError } from '../../src/storage/index.js';
import { entries, hs } from './helpers.js';

const DIR = '/var/raftkv/n1';
const ID = { clusterId: 'c-7f3a', nodeId: 'n1' };
const SMALL = { segmentSize: 200 };
const FILE = { ...SMALL, snapshotData: 'file' } as const;

function snap(index: number, term: number, bytes = 0): HeldSnapshot {
  const text = new TextEncoder().encode(`state@${index}`);
  const data = new Uint8Array(text.length + bytes);
  data.set(text);
  for (let i = text.length; i < data.length; i++) data[i] = i & 0xff;
  return { meta: { index, term, membership: initialMembership(['n1', 'n2', 'n3']) }, data };
}

async function workload(s: Storage, n: number, at: number[], bytes = 0): Promise<void> {
  for (let i = 1; i <= n; i += 5) {
    s.save(entries(i, Math.min(i + 4, n), 1), hs(1, Math.min(i + 4, n), 'n1'));
    await s.sync();
    for (const a of at) {
      if (a >= i && a <= i + 4) {
        await s.saveSnapshot(snap(a, 1, bytes));
        await s.sync();
        await s.compact();
      }
    }
  }
}

/** A copy of `disk`'s files under DIR, on a new disk (all of it durable). */
async function copyOf(disk: SimDisk): Promise<SimDisk> {
  const out = new SimDisk(new Prng(2));
  const copy = async (dir: string): Promise<void> => {
    await out.mkdir(dir);
    for (const name of await disk.list(dir)) {
      const path = `${dir}/${name}`;
      let size: number | null;
      try {
        size = await disk.size(path);
      } catch {
        await copy(path);
        continue;
      }
      if (size === null) continue;
      const f = await out.create(path);
      await f.append(await disk.readFile(path));
      await f.sync();
      await f.close();
    }
    await out.syncDir(dir);
  };
  await copy(DIR);
  return out;
}

/** The disk, refusing to read a snapshot file whole, and recording the largest read. */
function watched(disk: SimDisk): Disk & { largest: number } {
  const w = Object.create(disk) as Disk & { largest: number };
  w.largest = 0;
  w.readFile = async (path: string) => {
    assert.ok(!path.includes('/snap/'), `${path} read whole`);
    return disk.readFile(path);
  };
  w.openRead = async (path: string) => {
    const r = await disk.openRead(path);
    return {
      path: r.path,
      size: () => r.size(),
      read: async (offset: number, length: number) => {
        const got = await r.read(offset, length);
        if (path.includes('/snap/')) w.largest = Math.max(w.largest, got.length);
        return got;
      },
      close: () => r.close(),
    };
  };
  return w;
}

/** The data of the snapshot `s` refers to, read from its file. */
async function fileData(s: Storage): Promise<Uint8Array> {
  const meta = s.state.snapshot!.meta;
  const f = await s.snapshots.openData(meta.index, meta.term);
  try {
    return await f.read(0, f.dataLength);
  } finally {
    await f.close();
  }
}

/** openStorage with the bytes in memory and with the file, on copies of one disk: the same choice. */
async function bothWays(disk: SimDisk) {
  const memoryDisk = await copyOf(disk);
  const memory = await openStorage(memoryDisk, DIR, ID, SMALL);
  const fileDisk = await copyOf(disk);
  const file = await openStorage(watched(fileDisk), DIR, ID, FILE);
  const m = memory.state;
  const f = file.state;
  assert.deepStrictEqual(f.entries, m.entries);
  assert.deepStrictEqual(f.hardState, m.hardState);
  assert.deepStrictEqual(f.discardedSnapshots, m.discardedSnapshots);
  assert.deepStrictEqual(f.tornTail, m.tornTail);
  if (m.snapshot === null) {
    assert.equal(f.snapshot, null);
  } else {
    assert.deepStrictEqual(f.snapshot, {
      meta: m.snapshot.meta,
      data: { stored: true, byteLength: m.snapshot.data.byteLength },
    });
    assert.deepStrictEqual(await fileData(file), m.snapshot.data);
  }
  // The same files quarantined or removed.
  assert.deepStrictEqual(await fileDisk.list(`${DIR}/snap`), await memoryDisk.list(`${DIR}/snap`));
  await memory.close();
  await file.close();
  return f;
}

test('the snapshot is checked a window at a time and handed back as a reference to its file', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID, SMALL);
  await workload(s, 60, [15, 30, 45], 3 * 1024 * 1024);
  await s.close();
  const w = watched(disk);
  const again = await openStorage(w, DIR, ID, FILE);
  assert.deepStrictEqual(again.state.snapshot?.data, {
    stored: true,
    byteLength: snap(45, 1, 3 * 1024 * 1024).data.length,
  });
  assert.ok(w.largest <= 1024 * 1024, `largest read of a snapshot file: ${w.largest}`);
  assert.deepStrictEqual(await fileData(again), snap(45, 1, 3 * 1024 * 1024).data);
  assert.deepStrictEqual(again.state.entries, entries(46, 60, 1));
  await again.close();
});

test('chooses what the bytes-in-memory recovery chooses: newest, damaged data, damaged header, no bridge', async () => {
  const base = new SimDisk(new Prng(1));
  const s = await openStorage(base, DIR, ID, SMALL);
  await workload(s, 60, [15, 30, 45], 5000);
  await s.close();
  const newest = `${DIR}/snap/snap-000000000000002d-0000000000000001.snap`;

  const intact = await bothWays(base);
  assert.equal(intact.snapshot?.meta.index, 45);

  // Damage in the data (found by the checksum, at the end of the check) and in the header.
  for (const offset of [4000, 20]) {
    const disk = await copyOf(base);
    disk.corrupt(newest, offset);
    const r = await bothWays(disk);
    assert.equal(r.snapshot?.meta.index, 30);
    // Entries the first pass did not keep (it kept those after 45) were read again.
    assert.deepStrictEqual(r.entries, entries(31, 60, 1));
    assert.equal(r.discardedSnapshots[0]?.action, 'quarantined');
  }

  // Both damaged: the WAL no longer reaches back far enough; the same refusal either way.
  const disk = await copyOf(base);
  disk.corrupt(newest, 4000);
  disk.corrupt(`${DIR}/snap/snap-000000000000001e-0000000000000001.snap`, 4000);
  const refusal = async (options: typeof SMALL | typeof FILE) => {
    try {
      await openStorage(await copyOf(disk), DIR, ID, options);
    } catch (e) {
      assert.ok(e instanceof StorageError);
      return e.message;
    }
    assert.fail('opened');
  };
  const message = await refusal(SMALL);
  assert.match(message, /no usable snapshot/);
  assert.equal(await refusal(FILE), message);
});

test('every snapshot damaged, the whole WAL kept: it replays from the start, reading the entries again', async () => {
  const disk = new SimDisk(new Prng(1));
  const s = await openStorage(disk, DIR, ID);
  s.save(entries(1, 20, 1), hs(1, 20));
  await s.saveSnapshot(snap(10, 1));
  await s.sync();
  await s.close();
  disk.corrupt(`${DIR}/snap/snap-000000000000000a-0000000000000001.snap`, 30);
  const r = await bothWays(disk);
  assert.equal(r.snapshot, null);
  assert.deepStrictEqual(r.entries, entries(1, 20, 1));
});
