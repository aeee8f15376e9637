// Goal: SimDisk's crash model is the adversary the recovery tests rely on — synced data always
// survives, unsynced data survives at most as a prefix (possibly zero-filled), unsynced directory
// changes survive as an in-order prefix — and it is deterministic for a seed. Also its test
// controls: held syncs, injected failures, dead handles after a crash.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { Prng } from '../../src/random.js';
import { SimDisk } from '../../src/storage/index.js';

const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

async function syncedFile(disk: SimDisk, path: string, content: Uint8Array): Promise<void> {
  const f = await disk.create(path);
  await f.append(content);
  await f.sync();
  await f.close();
}

test('a crash keeps synced bytes and at most a prefix of unsynced ones', async () => {
  await fc.assert(
    fc.asyncProperty(fc.integer(), fc.integer({ min: 1, max: 200 }), async (seed, extra) => {
      const disk = new SimDisk(new Prng(seed));
      await disk.mkdir('/d');
      await disk.syncDir('/');
      const f = await disk.create('/d/f');
      await disk.syncDir('/d');
      await f.append(bytes(100, 1));
      await f.sync();
      await f.append(bytes(extra, 2));
      disk.crash();
      const after = await disk.readFile('/d/f');
      assert.ok(after.length >= 100 && after.length <= 100 + extra);
      assert.deepEqual(after.subarray(0, 100), bytes(100, 1));
      // What survives of the unsynced write is its prefix, or zeros where the data never landed.
      const tail = after.subarray(100);
      const firstZero = tail.indexOf(0);
      const real = firstZero < 0 ? tail : tail.subarray(0, firstZero);
      assert.ok(real.every((b) => b === 2));
      assert.ok(tail.subarray(real.length).every((b) => b === 0));
    }),
  );
});

test('tear: false keeps exactly what was synced', async () => {
  const disk = new SimDisk(new Prng(7));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  await syncedFile(disk, '/d/f', bytes(10, 1));
  await disk.syncDir('/d');
  const f = await disk.openAppend('/d/f');
  await f.append(bytes(10, 2));
  await (await disk.create('/d/g')).close();
  disk.crash({ tear: false });
  assert.deepEqual(await disk.readFile('/d/f'), bytes(10, 1));
  assert.deepEqual(await disk.list('/d'), ['f']);
});

test('directory changes survive only once the directory is synced', async () => {
  const outcomes = new Set<string>();
  for (let seed = 0; seed < 40; seed++) {
    const disk = new SimDisk(new Prng(seed));
    await disk.mkdir('/d');
    await disk.syncDir('/');
    await syncedFile(disk, '/d/a', bytes(1, 1));
    await syncedFile(disk, '/d/b', bytes(1, 2));
    await disk.syncDir('/d');
    // Unsynced: remove a, then rename b to c. A crash keeps a prefix of these, in order.
    await disk.remove('/d/a');
    await disk.rename('/d/b', '/d/c');
    disk.crash();
    const names = (await disk.list('/d')).join(',');
    assert.ok(['a,b', 'b', 'c'].includes(names), names);
    outcomes.add(names);
  }
  assert.equal(outcomes.size, 3, 'every prefix occurs for some seed');

  const disk = new SimDisk(new Prng(1));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  await syncedFile(disk, '/d/a', bytes(1, 1));
  await disk.rename('/d/a', '/d/z');
  await disk.syncDir('/d');
  disk.crash();
  assert.deepEqual(await disk.list('/d'), ['z']);
});

test('a file whose directory entry was never synced may vanish, data and all', async () => {
  const kept = new Set<boolean>();
  for (let seed = 0; seed < 20; seed++) {
    const disk = new SimDisk(new Prng(seed));
    await disk.mkdir('/d');
    await disk.syncDir('/');
    await syncedFile(disk, '/d/f', bytes(5, 1));
    disk.crash();
    kept.add((await disk.size('/d/f')) === 5);
  }
  assert.deepEqual([...kept].sort(), [false, true]);
});

test('the same seed gives the same crash', async () => {
  const run = async (seed: number): Promise<Uint8Array> => {
    const disk = new SimDisk(new Prng(seed));
    await disk.mkdir('/d');
    await disk.syncDir('/');
    const f = await disk.create('/d/f');
    await disk.syncDir('/d');
    await f.append(Uint8Array.from({ length: 500 }, (_, i) => i & 0xff));
    disk.crash();
    return disk.readFile('/d/f');
  };
  assert.deepEqual(await run(42), await run(42));
});

test('held syncs complete only when released, in order', async () => {
  const disk = new SimDisk(new Prng(3));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  const f = await disk.create('/d/f');
  await disk.syncDir('/d');
  disk.holdSyncs();
  await f.append(bytes(4, 1));
  let done = false;
  const p = f.sync().then(() => {
    done = true;
  });
  await disk.whenSyncsPending(1);
  assert.equal(done, false);
  // Written after the sync was issued: not covered by it.
  await f.append(bytes(4, 2));
  assert.equal(disk.releaseSyncs(), 1);
  await p;
  assert.equal(done, true);
  disk.crash({ tear: false });
  assert.deepEqual(await disk.readFile('/d/f'), bytes(4, 1));
});

test('a crash rejects held syncs and loses what they covered', async () => {
  const disk = new SimDisk(new Prng(3));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  const f = await disk.create('/d/f');
  await disk.syncDir('/d');
  disk.holdSyncs();
  await f.append(bytes(4, 1));
  const p = f.sync();
  await disk.whenSyncsPending(1);
  disk.crash({ tear: false });
  await assert.rejects(p, /crashed/);
  assert.equal((await disk.readFile('/d/f')).length, 0);
});

test('handles opened before a crash are dead after it', async () => {
  const disk = new SimDisk(new Prng(3));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  const f = await disk.create('/d/f');
  await disk.syncDir('/d');
  disk.crash();
  await assert.rejects(f.append(bytes(1, 1)), /before a crash/);
  await assert.rejects(f.sync(), /before a crash/);
});

test('injected failures hit the next operations of that kind only', async () => {
  const disk = new SimDisk(new Prng(3));
  await disk.mkdir('/d');
  const f = await disk.create('/d/f');
  disk.failNext('sync');
  disk.failNext('append', 2);
  await assert.rejects(f.append(bytes(1, 1)), /EIO/);
  await assert.rejects(f.append(bytes(1, 1)), /EIO/);
  await f.append(bytes(1, 1));
  await assert.rejects(f.sync(), /EIO/);
  await f.sync();
  assert.equal(disk.stats.fileSyncs, 1);
});

test('truncate after a sync is not durable until the next sync', async () => {
  const disk = new SimDisk(new Prng(3));
  await disk.mkdir('/d');
  await disk.syncDir('/');
  await syncedFile(disk, '/d/f', bytes(10, 1));
  await disk.syncDir('/d');
  await disk.truncate('/d/f', 3);
  disk.crash();
  assert.equal(await disk.size('/d/f'), 10);
  await disk.truncate('/d/f', 3);
  const f = await disk.openAppend('/d/f');
  await f.sync();
  disk.crash();
  assert.equal(await disk.size('/d/f'), 3);
});
