// Goal: recovery reads a WAL segment a window at a time, never the whole file, and that changes
// nothing it finds: for any window size — records cut by a window's end, records larger than a
// window, damage anywhere — replay returns what a replay of the whole file at once returns (the
// same log, hard state, marker, torn tail, or the same error). Entries a snapshot covers
// (keepEntriesAfter) are checked but not kept, and Wal.entriesAfter reads them again.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Entry } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { CorruptionError, joinPath, SimDisk, Wal } from '../../src/storage/index.js';
import { parseSegmentName, replaySegments } from '../../src/storage/wal-replay.js';
import { entries, hs, recordingLogger } from './helpers.js';

const DIR = '/data/wal';

/** A whole segment in one window: the replay as it was before windows. */
const WHOLE = 1 << 30;

function bigEntry(index: number, term: number, bytes: number): Entry {
  const data = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) data[i] = (index * 31 + i) & 0xff;
  return { index, term, type: 'command', data };
}

/**
 * The files of a WAL written with `seed`: small segments, entries of 0 to 3000 bytes (some larger
 * than the windows tried), suffix replacements, hard states and snapshot markers.
 */
async function walImage(seed: number): Promise<Map<string, Uint8Array>> {
  const rng = new Prng(seed);
  const disk = new SimDisk(new Prng(seed + 1));
  const { wal } = await Wal.open(disk, DIR, { segmentSize: 2000 + rng.int(0, 6000) });
  let last = 0;
  let term = 1;
  let snap = 0;
  /** terms[i]: the term of entry i. */
  const terms: number[] = [0];
  for (let b = 0; b < 8 + rng.int(0, 12); b++) {
    const roll = rng.int(0, 10);
    if (roll === 0 && last > snap) {
      snap = snap + 1 + rng.int(0, last - snap - 1);
      wal.saveSnapshot({ index: snap, term: terms[snap]! });
    } else {
      // Now and then a later term replaces a suffix (never below the snapshot).
      const from = roll === 1 && last > snap + 1 ? last - rng.int(0, last - snap - 1) : last + 1;
      if (from <= last) term++;
      const n = 1 + rng.int(0, 6);
      const es: Entry[] = [];
      for (let i = 0; i < n; i++) {
        es.push(bigEntry(from + i, term, rng.int(0, 10) === 0 ? 3000 : rng.int(0, 120)));
        terms[from + i] = term;
      }
      wal.save(es, rng.int(0, 2) === 0 ? hs(term, Math.max(0, from - 1)) : null);
      last = from + n - 1;
    }
    await wal.sync();
  }
  const names = wal.segmentNames();
  await wal.close();
  const files = new Map<string, Uint8Array>();
  for (const name of names) files.set(name, await disk.readFile(joinPath(DIR, name)));
  return files;
}

/** `files` with one kind of damage, in a segment and at a byte chosen by `rng`. */
function damaged(files: Map<string, Uint8Array>, rng: Prng): Map<string, Uint8Array> {
  const out = new Map(files);
  const names = [...files.keys()];
  // Mostly the last segment, where damage can be a torn tail.
  const name = rng.int(0, 3) === 0 ? names[rng.int(0, names.length - 1)]! : names.at(-1)!;
  const bytes = files.get(name)!;
  const at = rng.int(0, bytes.length - 1);
  switch (rng.int(0, 3)) {
    case 0: {
      const b = bytes.slice();
      b[at]! ^= 1 << rng.int(0, 7);
      out.set(name, b);
      break;
    }
    case 1:
      out.set(name, bytes.slice(0, at));
      break;
    case 2: {
      const b = new Uint8Array(bytes.length + 1 + rng.int(0, 40));
      b.set(bytes);
      out.set(name, b);
      break;
    }
    default:
      out.set(name, Uint8Array.of(...bytes.subarray(0, at), ...new Uint8Array(bytes.length - at)));
  }
  return out;
}

/** What a replay found, in comparable form (entry data as hex), or the error it stopped with. */
type Replayed =
  | {
      readonly hardState: unknown;
      readonly snapshot: unknown;
      readonly base: { readonly index: number; readonly term: number };
      readonly last: number;
      readonly entriesFrom: number;
      readonly entries: readonly string[];
      readonly segments: unknown;
      readonly lastSegmentSize: number;
      readonly tornTail: unknown;
      readonly sizes: readonly (number | null)[];
    }
  | { readonly error: string };

/** Replays `files` on a fresh disk. */
async function replay(
  files: Map<string, Uint8Array>,
  windowBytes: number,
  keepEntriesAfter = 0,
): Promise<Replayed> {
  const disk = new SimDisk(new Prng(1));
  await disk.mkdir(DIR);
  for (const [name, bytes] of files) {
    const f = await disk.create(joinPath(DIR, name));
    await f.append(bytes);
    await f.sync();
    await f.close();
  }
  await disk.syncDir(DIR);
  const segments = [...files.keys()].map((n) => parseSegmentName(n)!).sort((a, b) => a.seq - b.seq);
  try {
    const r = await replaySegments(disk, DIR, segments, recordingLogger(), { windowBytes, keepEntriesAfter });
    return {
      hardState: r.hardState,
      snapshot: r.snapshot,
      base: r.shape.base,
      last: r.shape.lastIndex,
      entriesFrom: r.entriesFrom,
      entries: r.entries.map((e) => `${e.index}/${e.term}/${Buffer.from(e.data).toString('hex')}`),
      segments: r.segments,
      lastSegmentSize: r.lastSegmentSize,
      tornTail: r.tornTail,
      sizes: await Promise.all([...files.keys()].map((n) => disk.size(joinPath(DIR, n)))),
    };
  } catch (e) {
    assert.ok(e instanceof CorruptionError, `only CorruptionError, got ${String(e)}`);
    return { error: e.message };
  }
}

test('any window size replays what a replay of whole segments does, damaged or not', async () => {
  const rng = new Prng(42);
  for (let seed = 1; seed <= 60; seed++) {
    const intact = await walImage(seed);
    for (const files of [intact, damaged(intact, rng), damaged(intact, rng)]) {
      const expected = await replay(files, WHOLE);
      for (const windowBytes of [1, 12, 13, 100, 1000, 4096]) {
        assert.deepStrictEqual(
          await replay(files, windowBytes),
          expected,
          `seed ${seed}, window ${windowBytes}`,
        );
      }
    }
  }
});

test('entries at or below keepEntriesAfter are checked, not kept; the rest are as a full replay has them', async () => {
  for (let seed = 100; seed < 130; seed++) {
    const files = await walImage(seed);
    const full = await replay(files, WHOLE);
    assert.ok(!('error' in full));
    const keeps: number[] = [1, 5, Math.floor(full.last / 2), full.last, full.last + 10];
    for (const keep of keeps) {
      const r = await replay(files, 64, keep);
      assert.ok(!('error' in r));
      const from: number = Math.max(full.base.index, keep) + 1;
      assert.equal(r.entriesFrom, from);
      assert.deepStrictEqual(r.entries, full.entries.slice(Math.max(0, from - full.entriesFrom)));
      // Everything else is the full replay's: the shape (terms) of the whole log included.
      assert.deepStrictEqual({ ...r, entries: [], entriesFrom: 0 }, { ...full, entries: [], entriesFrom: 0 });
    }
  }
});

test('a record larger than the window is read whole, and what it pins is only its window', async () => {
  const disk = new SimDisk(new Prng(3));
  const { wal } = await Wal.open(disk, DIR);
  const big = bigEntry(2, 1, 3 * 1024 * 1024);
  wal.save([bigEntry(1, 1, 10), big, bigEntry(3, 1, 10)], hs(1, 3));
  await wal.sync();
  await wal.close();
  const { wal: again, recovery } = await Wal.open(disk, DIR);
  assert.deepStrictEqual(recovery.entries, [bigEntry(1, 1, 10), big, bigEntry(3, 1, 10)]);
  // Entries are views into the window they were read in, not into the whole segment.
  for (const e of recovery.entries) assert.ok(e.data.buffer.byteLength <= 4 * 1024 * 1024);
  assert.ok(recovery.entries[0]!.data.buffer.byteLength <= 1024 * 1024 + 64);
  await again.close();
});

test('Wal.open keeps no entry the newest snapshot covers, and entriesAfter reads them again', async () => {
  const disk = new SimDisk(new Prng(4));
  const { wal } = await Wal.open(disk, DIR, { segmentSize: 300 });
  for (let b = 0; b < 10; b++) {
    wal.save(entries(b * 5 + 1, b * 5 + 5, 1), hs(1, b * 5 + 5));
    await wal.sync();
  }
  wal.saveSnapshot({ index: 20, term: 1 });
  await wal.sync();
  await wal.close();
  const { wal: w, recovery } = await Wal.open(disk, DIR, { keepEntriesAfter: 35 });
  assert.deepStrictEqual(recovery.log.entries, entries(36, 50, 1));
  assert.equal(recovery.log.entriesFrom, 36);
  assert.equal(recovery.log.lastIndex, 50);
  assert.equal(recovery.log.termAt(20), 1);
  assert.equal(recovery.log.termAt(51), null);
  // The marker at 20 is older than what is kept: entries holds what is kept after it.
  assert.deepStrictEqual(recovery.entries, entries(36, 50, 1));
  assert.deepStrictEqual(await w.entriesAfter(20), entries(21, 50, 1));
  assert.equal(recovery.log.base.index, 0);
  assert.deepStrictEqual(await w.entriesAfter(0), entries(1, 50, 1));
  await w.close();
});
