// Goal: recovery tells a torn tail from corruption. A partial or unfinished write at the very end
// of the last segment is cut off, logged and reported, and the WAL carries on; damage anywhere
// else (or followed by intact records) stops recovery with an error naming the file and byte
// offset, and nothing is dropped.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../src/random.js';
import { CorruptionError, joinPath, SimDisk, Wal } from '../../src/storage/index.js';
import { encodeWalRecords } from '../../src/storage/wal-record.js';
import { entries, entry, hs, recordingLogger } from './helpers.js';

const DIR = '/data/wal';

/** A WAL with three synced batches (entries 1-3, 4-6, 7-9); returns the batch boundaries. */
async function threeBatches(segmentSize?: number) {
  const disk = new SimDisk(new Prng(5));
  const { wal } = await Wal.open(disk, DIR, { segmentSize });
  const ends: number[] = [];
  for (let b = 0; b < 3; b++) {
    wal.save(entries(b * 3 + 1, b * 3 + 3, 1), hs(1, b * 3));
    await wal.sync();
    const last = wal.segmentNames().at(-1)!;
    ends.push((await disk.size(joinPath(DIR, last)))!);
  }
  const segment = joinPath(DIR, wal.segmentNames().at(-1)!);
  await wal.close();
  return { disk, segment, ends };
}

async function appendRaw(disk: SimDisk, path: string, bytes: Uint8Array): Promise<void> {
  const f = await disk.openAppend(path);
  await f.append(bytes);
  await f.sync();
  await f.close();
}

async function expectTorn(disk: SimDisk, segment: string, keptSize: number, expectEntries = 9) {
  const logger = recordingLogger();
  const { wal, recovery } = await Wal.open(disk, DIR, { logger });
  assert.ok(recovery.tornTail !== null, 'torn tail reported');
  assert.equal(recovery.tornTail.file, segment);
  assert.equal(recovery.tornTail.offset, keptSize);
  assert.equal(await disk.size(segment), keptSize, 'truncated on disk');
  assert.deepEqual(recovery.entries, entries(1, expectEntries, 1));
  assert.ok(
    logger.lines.some(
      (l) => l.level === 'warn' && l.event.startsWith('wal torn') && l.fields.file === segment,
    ),
  );
  // The WAL carries on, and the next recovery is clean.
  wal.save([entry(expectEntries + 1, 1)], null);
  await wal.sync();
  await wal.close();
  const again = await Wal.open(disk, DIR);
  assert.equal(again.recovery.tornTail, null);
  assert.deepEqual(again.recovery.entries, entries(1, expectEntries + 1, 1));
  await again.wal.close();
  return recovery.tornTail;
}

async function expectCorrupt(disk: SimDisk, file: string, offset: number, why: RegExp): Promise<void> {
  await assert.rejects(Wal.open(disk, DIR), (e: unknown) => {
    assert.ok(e instanceof CorruptionError, String(e));
    assert.equal(e.file, file);
    assert.equal(e.offset, offset);
    assert.match(e.message, new RegExp(`${file.replaceAll('.', '\\.')} at byte ${offset}`));
    assert.match(e.reason, why);
    return true;
  });
}

test('a record cut off mid-write is a torn tail', async () => {
  const { disk, segment, ends } = await threeBatches();
  const rec = encodeWalRecords([{ kind: 'entry', entry: entry(10, 1, 'x'.repeat(40)) }]);
  await appendRaw(disk, segment, rec.subarray(0, 30));
  const torn = await expectTorn(disk, segment, ends[2]!);
  assert.equal(torn.droppedBytes, 30);
  assert.match(torn.problem, /runs past end of file/);
});

test('a header cut off mid-write is a torn tail', async () => {
  const { disk, segment, ends } = await threeBatches();
  await appendRaw(disk, segment, encodeWalRecords([{ kind: 'batchEnd' }]).subarray(0, 7));
  await expectTorn(disk, segment, ends[2]!);
});

test('whole records without their batch end were never acknowledged: cut', async () => {
  const { disk, segment, ends } = await threeBatches();
  await appendRaw(
    disk,
    segment,
    encodeWalRecords([
      { kind: 'entry', entry: entry(10, 1) },
      { kind: 'hardState', hardState: hs(2, 9) },
    ]),
  );
  const torn = await expectTorn(disk, segment, ends[2]!);
  assert.match(torn.problem, /no batch-end/);
});

test('a tail of zeros (size persisted before data) is a torn tail', async () => {
  const { disk, segment, ends } = await threeBatches();
  await appendRaw(disk, segment, new Uint8Array(700));
  await expectTorn(disk, segment, ends[2]!);
});

test('a final record whose data never landed (zeroed payload) is a torn tail', async () => {
  const { disk, segment, ends } = await threeBatches();
  const rec = encodeWalRecords([{ kind: 'entry', entry: entry(10, 1, 'y'.repeat(64)) }]);
  rec.fill(0, 20);
  await appendRaw(disk, segment, rec);
  await expectTorn(disk, segment, ends[2]!);
});

test('a new segment torn before its first batch completed is removed', async () => {
  const { disk, ends } = await threeBatches();
  const extra = joinPath(DIR, 'wal-0000000000000001-000000000000000a.log');
  const f = await disk.create(extra);
  await f.append(
    encodeWalRecords([{ kind: 'segment', header: { seq: 1, firstIndex: 10, prevTerm: 1 } }]).subarray(0, 9),
  );
  await f.sync();
  await f.close();
  const { recovery, wal } = await Wal.open(disk, DIR);
  assert.equal(recovery.tornTail?.removed, true);
  assert.equal(recovery.tornTail?.file, extra);
  assert.deepEqual(await disk.list(DIR), ['wal-0000000000000000-0000000000000001.log']);
  assert.deepEqual(recovery.entries, entries(1, 9, 1));
  assert.ok(ends[2]! > 0);
  await wal.close();
});

test('an empty new segment (created, nothing written before the crash) is removed', async () => {
  const { disk } = await threeBatches();
  const extra = joinPath(DIR, 'wal-0000000000000001-000000000000000a.log');
  await (await disk.create(extra)).close();
  const { recovery, wal } = await Wal.open(disk, DIR);
  assert.deepEqual(recovery.tornTail, {
    file: extra,
    offset: 0,
    droppedBytes: 0,
    removed: true,
    problem: 'empty segment',
  });
  // The WAL cuts a fresh segment 1 later and replays cleanly across it.
  wal.save([entry(10, 1)], null);
  await wal.sync();
  await wal.close();
  assert.deepEqual((await Wal.open(disk, DIR)).recovery.entries, entries(1, 10, 1));
});

test('a bad checksum followed by intact records is corruption, not a torn tail', async () => {
  const { disk, segment, ends } = await threeBatches();
  // Damage the data of the first record of the second batch.
  disk.corrupt(segment, ends[0]! + 15);
  await expectCorrupt(disk, segment, ends[0]!, /record checksum mismatch; an intact record follows/);
});

test('a damaged length field in the middle is corruption', async () => {
  const { disk, segment, ends } = await threeBatches();
  disk.corrupt(segment, ends[1]! + 2, 0x40);
  await expectCorrupt(disk, segment, ends[1]!, /header checksum/);
});

test('damage in the very last record of the last segment is still corruption if intact records follow', async () => {
  const { disk, segment } = await threeBatches();
  await appendRaw(
    disk,
    segment,
    encodeWalRecords([{ kind: 'entry', entry: entry(10, 1) }, { kind: 'batchEnd' }]),
  );
  const size = (await disk.size(segment))!;
  const rec = encodeWalRecords([{ kind: 'entry', entry: entry(10, 1) }]);
  disk.corrupt(segment, size - 13 - rec.length + 14);
  await expectCorrupt(disk, segment, size - 13 - rec.length, /intact record follows/);
});

test('damage at the tail of a segment that is not the last is corruption', async () => {
  const disk = new SimDisk(new Prng(5));
  const { wal } = await Wal.open(disk, DIR, { segmentSize: 100 });
  for (let i = 1; i <= 6; i++) {
    wal.save([entry(i, 1)], null);
    await wal.sync();
  }
  const names = wal.segmentNames();
  await wal.close();
  assert.ok(names.length >= 3);
  const first = joinPath(DIR, names[0]!);
  const size = (await disk.size(first))!;
  // The batch-end record (13 bytes) closing the segment's last batch.
  disk.corrupt(first, size - 1);
  await expectCorrupt(disk, first, size - 13, /not the last segment/);
});

test('a missing segment in the middle is corruption', async () => {
  const disk = new SimDisk(new Prng(5));
  const { wal } = await Wal.open(disk, DIR, { segmentSize: 100 });
  for (let i = 1; i <= 6; i++) {
    wal.save([entry(i, 1)], null);
    await wal.sync();
  }
  const names = wal.segmentNames();
  await wal.close();
  await disk.remove(joinPath(DIR, names[1]!));
  await assert.rejects(Wal.open(disk, DIR), (e: unknown) => {
    assert.ok(e instanceof CorruptionError);
    assert.match(e.message, /segment 1 is missing/);
    return true;
  });
});

test('a segment that does not continue the previous one is corruption', async () => {
  const disk = new SimDisk(new Prng(5));
  const { wal } = await Wal.open(disk, DIR);
  wal.save(entries(1, 3, 1), null);
  await wal.sync();
  await wal.close();
  // A hand-made segment 1 that claims to start at index 10.
  const f = await disk.create(joinPath(DIR, 'wal-0000000000000001-000000000000000a.log'));
  await f.append(
    encodeWalRecords([
      { kind: 'segment', header: { seq: 1, firstIndex: 10, prevTerm: 1 } },
      { kind: 'batchEnd' },
    ]),
  );
  await f.close();
  await assert.rejects(
    Wal.open(disk, DIR),
    /continues from index 9 term 1, but the segments before it end at index 3/,
  );
});

test('entries that leave a gap are corruption', async () => {
  const disk = new SimDisk(new Prng(5));
  const { wal } = await Wal.open(disk, DIR);
  wal.save(entries(1, 3, 1), null);
  await wal.sync();
  await wal.close();
  const segment = joinPath(DIR, 'wal-0000000000000000-0000000000000001.log');
  const at = (await disk.size(segment))!;
  await appendRaw(
    disk,
    segment,
    encodeWalRecords([{ kind: 'entry', entry: entry(7, 1) }, { kind: 'batchEnd' }]),
  );
  await expectCorrupt(disk, segment, at, /leaves a gap after last index 3/);
});
