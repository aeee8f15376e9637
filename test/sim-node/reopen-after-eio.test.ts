// Goal: the regression the node-level simulator found (its seeds 71, 81, 86 and 88 before the fix),
// pinned down without the simulator. A failed fsync stops the node; its successor, started on the
// same machine without a power loss, reads the unsynced tail back from the page cache and builds
// on it — acknowledging it, voting from it, cutting a new segment after it. Recovery must make
// what it replayed durable first: otherwise a later power loss takes back what the node already
// acted on, or tears a segment that is no longer the last one, and the node refuses to start.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry, HardState } from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';
import { openStorage, SimDisk } from '../../src/storage/index.js';

const DIR = 'data';
const ID = { clusterId: 'c', nodeId: 'n1' };

function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) {
    out.push({ index: i, term, type: 'command', data: new TextEncoder().encode(`e${i}`) });
  }
  return out;
}

function hs(term: number, votedFor: string | null): HardState {
  return { term, votedFor, commitIndex: 0 };
}

test('what a restart after a failed fsync recovers stays recovered after a power loss', async () => {
  const disk = new SimDisk(new Prng(7));
  const first = await openStorage(disk, DIR, ID);
  first.save(entries(1, 3, 1), hs(1, 'n1'));
  await first.sync();
  first.save(entries(4, 5, 2), hs(2, 'n2'));
  disk.failNext('sync');
  await assert.rejects(first.sync());
  await first.close();

  // The process restarts; the machine did not crash: the page cache still holds entries 4..5.
  const second = await openStorage(disk, DIR, ID);
  assert.equal(second.state.entries.length, 5);
  assert.deepEqual(second.state.hardState, hs(2, 'n2'));
  await second.close();

  // Power loss: only what was fsynced survives. The second process trusted term 2, its vote
  // and entries 4..5 — they must still be there.
  disk.crash({ tear: false });
  const third = await openStorage(disk, DIR, ID);
  assert.deepEqual(third.state.hardState, hs(2, 'n2'));
  assert.deepEqual(
    third.state.entries.map((e) => e.index),
    [1, 2, 3, 4, 5],
  );
  await third.close();
});

test('a segment cut after a restart from an unsynced tail leaves no torn middle segment', async () => {
  const disk = new SimDisk(new Prng(8));
  const options = { segmentSize: 256 };
  const first = await openStorage(disk, DIR, ID, options);
  first.save(entries(1, 2, 1), hs(1, 'n1'));
  await first.sync();
  first.save(entries(3, 12, 1), null);
  disk.failNext('sync');
  await assert.rejects(first.sync());
  await first.close();

  // The successor appends past the segment size, so its next batch starts a new segment.
  const second = await openStorage(disk, DIR, ID, options);
  assert.equal(second.state.entries.length, 12);
  second.save(entries(13, 14, 1), null);
  await second.sync();
  second.save(entries(15, 16, 1), null);
  await second.sync();
  await second.close();
  assert.ok((await disk.list(`${DIR}/wal`)).length >= 2, 'the workload cut a new segment');

  disk.crash({ tear: true });
  const third = await openStorage(disk, DIR, ID, options);
  assert.deepEqual(
    third.state.entries.map((e) => e.index),
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
  await third.close();
});
