// Goal: the disk of fault injection's diskDelayMs (src/storage/delaying-disk.ts) adds the delay in
// force to every fsync — of a file and of a directory — read at each one, and nothing to any other
// operation; what it wraps still gets every call. On the simulated disk, with a recording sleep.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../src/random.js';
import { DelayingDisk, SimDisk } from '../../src/storage/index.js';

test('every fsync waits the delay in force at that moment; nothing else does', async () => {
  const slept: number[] = [];
  let delay = 0;
  const disk = new DelayingDisk(
    new SimDisk(new Prng(7)),
    () => delay,
    async (ms) => {
      slept.push(ms);
    },
  );
  await disk.mkdir('/d');
  const f = await disk.create('/d/a');
  await f.append(new Uint8Array([1, 2, 3]));
  await f.sync();
  await disk.syncDir('/d');
  assert.deepEqual(slept, [], 'no delay set: no wait');

  delay = 250;
  await f.append(new Uint8Array([4]));
  await f.sync();
  await disk.syncDir('/d');
  await disk.rename('/d/a', '/d/b');
  const g = await disk.openAppend('/d/b');
  delay = 40;
  await g.sync();
  assert.deepEqual(slept, [250, 250, 40]);
  assert.deepEqual([...(await disk.readFile('/d/b'))], [1, 2, 3, 4]);
  assert.deepEqual(await disk.list('/d'), ['b']);
  await f.close();
  await g.close();
});
