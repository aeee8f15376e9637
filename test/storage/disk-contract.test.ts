// Goal: RealDisk and SimDisk honour the same Disk contract, so what the storage tests prove on
// SimDisk holds on the real file system. One suite, run against both implementations.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Prng } from '../../src/random.js';
import { type Disk, errorCode, joinPath, RealDisk, SimDisk } from '../../src/storage/index.js';
import { tempDir } from './helpers.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.equal(errorCode(e), code);
    return true;
  });
}

interface Subject {
  readonly name: string;
  setup(): Promise<{ disk: Disk; root: string }>;
  teardown(): Promise<void>;
}

let realCleanup: (() => Promise<void>) | null = null;
const subjects: Subject[] = [
  {
    name: 'RealDisk',
    async setup() {
      const t = await tempDir('disk');
      realCleanup = t.cleanup;
      return { disk: new RealDisk(), root: t.path };
    },
    async teardown() {
      await realCleanup?.();
    },
  },
  {
    name: 'SimDisk',
    async setup() {
      const disk = new SimDisk(new Prng(1));
      await disk.mkdir('/tmp/sim');
      return { disk, root: '/tmp/sim' };
    },
    async teardown() {},
  },
];

for (const subject of subjects) {
  describe(`Disk contract: ${subject.name}`, () => {
    let disk: Disk;
    let root: string;
    let n = 0;
    // Each test works in its own subdirectory of one root.
    const fresh = async (): Promise<string> => {
      const dir = joinPath(root, `t${n++}`);
      await disk.mkdir(dir);
      return dir;
    };
    before(async () => {
      ({ disk, root } = await subject.setup());
    });
    after(() => subject.teardown());

    test('mkdir is recursive and idempotent; list is sorted', async () => {
      const dir = await fresh();
      await disk.mkdir(joinPath(dir, 'a/b/c'));
      await disk.mkdir(joinPath(dir, 'a/b'));
      for (const name of ['zeta', 'alpha', 'mid']) await (await disk.create(joinPath(dir, name))).close();
      assert.deepEqual(await disk.list(dir), ['a', 'alpha', 'mid', 'zeta']);
      assert.deepEqual(await disk.list(joinPath(dir, 'a/b')), ['c']);
      await rejectsWith(disk.list(joinPath(dir, 'missing')), 'ENOENT');
    });

    test('create is exclusive and needs its directory', async () => {
      const dir = await fresh();
      const f = await disk.create(joinPath(dir, 'x'));
      await f.close();
      await rejectsWith(disk.create(joinPath(dir, 'x')), 'EEXIST');
      await rejectsWith(disk.create(joinPath(dir, 'nodir/x')), 'ENOENT');
    });

    test('appends read back whole and by range; size follows', async () => {
      const dir = await fresh();
      const path = joinPath(dir, 'f');
      assert.equal(await disk.size(path), null);
      const f = await disk.create(path);
      await f.append(enc('hello '));
      await f.append(enc('world'));
      await f.sync();
      await f.close();
      assert.equal(dec(await disk.readFile(path)), 'hello world');
      assert.equal(await disk.size(path), 11);
      assert.equal(dec(await disk.read(path, 6, 5)), 'world');
      assert.equal(dec(await disk.read(path, 8, 100)), 'rld');
      assert.equal((await disk.read(path, 50, 10)).length, 0);
      await rejectsWith(disk.readFile(joinPath(dir, 'missing')), 'ENOENT');
    });

    test('openAppend continues at the end of an existing file', async () => {
      const dir = await fresh();
      const path = joinPath(dir, 'f');
      const f = await disk.create(path);
      await f.append(enc('abc'));
      await f.close();
      const g = await disk.openAppend(path);
      await g.append(enc('def'));
      await g.sync();
      await g.close();
      assert.equal(dec(await disk.readFile(path)), 'abcdef');
      await rejectsWith(disk.openAppend(joinPath(dir, 'missing')), 'ENOENT');
    });

    test('truncate shortens, and appends continue from the new end', async () => {
      const dir = await fresh();
      const path = joinPath(dir, 'f');
      const f = await disk.create(path);
      await f.append(enc('0123456789'));
      await f.close();
      await disk.truncate(path, 4);
      assert.equal(await disk.size(path), 4);
      const g = await disk.openAppend(path);
      await g.append(enc('xy'));
      await g.close();
      assert.equal(dec(await disk.readFile(path)), '0123xy');
    });

    test('rename replaces the target; remove deletes', async () => {
      const dir = await fresh();
      for (const [name, text] of [
        ['a', 'new'],
        ['b', 'old'],
      ] as const) {
        const f = await disk.create(joinPath(dir, name));
        await f.append(enc(text));
        await f.close();
      }
      await disk.rename(joinPath(dir, 'a'), joinPath(dir, 'b'));
      await disk.syncDir(dir);
      assert.deepEqual(await disk.list(dir), ['b']);
      assert.equal(dec(await disk.readFile(joinPath(dir, 'b'))), 'new');
      await rejectsWith(disk.rename(joinPath(dir, 'a'), joinPath(dir, 'c')), 'ENOENT');
      await disk.remove(joinPath(dir, 'b'));
      assert.deepEqual(await disk.list(dir), []);
      await rejectsWith(disk.remove(joinPath(dir, 'b')), 'ENOENT');
    });

    test('a file open for reading reads by range, and still reads after its name is removed or replaced', async () => {
      const dir = await fresh();
      const path = joinPath(dir, 'f');
      const f = await disk.create(path);
      await f.append(enc('hello world'));
      await f.sync();
      await f.close();
      await rejectsWith(disk.openRead(joinPath(dir, 'missing')), 'ENOENT');
      const r = await disk.openRead(path);
      assert.equal(r.path, path);
      assert.equal(await r.size(), 11);
      assert.equal(dec(await r.read(6, 5)), 'world');
      assert.equal(dec(await r.read(8, 100)), 'rld');
      assert.equal((await r.read(50, 10)).length, 0);
      // A newer file takes the name, then the name goes: the open file is still the old one.
      const g = await disk.create(joinPath(dir, 'g'));
      await g.append(enc('other'));
      await g.close();
      await disk.rename(joinPath(dir, 'g'), path);
      await disk.remove(path);
      await disk.syncDir(dir);
      assert.deepEqual(await disk.list(dir), []);
      assert.equal(dec(await r.read(0, 11)), 'hello world');
      await r.close();
      await assert.rejects(r.read(0, 1));
    });

    test('a closed file cannot be written', async () => {
      const dir = await fresh();
      const f = await disk.create(joinPath(dir, 'f'));
      await f.close();
      await assert.rejects(f.append(enc('late')));
    });

    test('binary content survives unchanged', async () => {
      const dir = await fresh();
      const path = joinPath(dir, 'bin');
      const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 31 + 7) & 0xff);
      const f = await disk.create(path);
      await f.append(data);
      await f.sync();
      await f.close();
      await disk.syncDir(dir);
      assert.deepEqual(await disk.readFile(path), data);
      assert.deepEqual(await disk.read(path, 65_530, 10), data.subarray(65_530, 65_540));
    });
  });
}
