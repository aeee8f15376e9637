// The write-ahead log: append-only segment files of framed, checksummed records.
//
// save()/saveSnapshot() only encode records into a buffer; sync() writes everything buffered as
// one batch, closed by a batch-end record, and fdatasyncs once (group commit: every save made
// before the sync started rides on the same fsync; saves made while it runs go in the next).
// Replacing a suffix (entries[0].index ≤ last index) appends the new entries: on replay a later
// entry at index i supersedes everything from i on, so nothing is ever rewritten in place and a
// crash at any point leaves either the old or the new log (batches are applied whole on replay).
//
// A segment is cut between batches once it reaches segmentSize (so a segment can exceed the size
// by one batch). A new segment starts with a header (sequence, first index, term before it) and
// carries over the current hard state and snapshot marker, so older segments can be deleted once
// a snapshot covers them.

import { assert } from '../assert.js';
import { ByteWriter } from '../codec/index.js';
import type { Logger } from '../raft/config.js';
import { silentLogger } from '../raft/config.js';
import type { Entry, HardState } from '../raft/types.js';
import { emptyHardState } from '../raft/types.js';
import type { Disk, DiskFile } from './disk.js';
import { isNotFound, joinPath, listOrCreateDir } from './disk.js';
import { StorageError, WalFailedError } from './errors.js';
import { LogShape } from './log-shape.js';
import type { LogPosition } from './wal-record.js';
import {
  writeBatchEnd,
  writeEntry,
  writeHardState,
  writeSegmentHeader,
  writeSnapshotMarker,
} from './wal-record.js';
import type { SegmentInfo, TornTail } from './wal-replay.js';
import { parseSegmentName, replaySegments, segmentFileName } from './wal-replay.js';

export const DEFAULT_SEGMENT_SIZE = 64 * 1024 * 1024;

export interface WalOptions {
  /** Bytes after which a new segment is started (default 64 MiB). */
  readonly segmentSize?: number;
  readonly logger?: Logger;
  /**
   * Recovery keeps no entries at or below this index (default 0: it keeps every entry): they are
   * read and checked, and their terms give the log its shape, but their data is not held. A
   * node passes the index of its newest snapshot, which covers them; entriesAfter() reads them
   * again if recovery has to fall back to an older snapshot.
   */
  readonly keepEntriesAfter?: number;
}

/** What the WAL held when opened. */
export interface WalRecovery {
  readonly hardState: HardState;
  /** The latest snapshot marker, or null if none was saved. */
  readonly snapshot: LogPosition | null;
  /**
   * Entries after the latest snapshot marker (all entries held when there is none); with
   * keepEntriesAfter, only those after it.
   */
  readonly entries: readonly Entry[];
  /**
   * Everything the WAL can reconstruct, for falling back to an older snapshot: the log after
   * `base`, its last index and every term in it (termAt, null outside base … lastIndex), and the
   * entries held from `entriesFrom` on (base.index + 1, or keepEntriesAfter + 1 if that is later).
   */
  readonly log: {
    readonly base: LogPosition;
    readonly lastIndex: number;
    termAt(index: number): number | null;
    readonly entries: readonly Entry[];
    readonly entriesFrom: number;
  };
  /** The torn tail that recovery cut off, if any (also logged). */
  readonly tornTail: TornTail | null;
  /** Nothing was ever saved: no hard state, marker or entry. */
  readonly empty: boolean;
}

/** The state at a batch boundary: what a new segment's prologue must carry. */
interface Boundary {
  readonly lastIndex: number;
  readonly lastTerm: number;
  readonly hardState: HardState | null;
  readonly snapshot: LogPosition | null;
}

export class Wal {
  private readonly pending = new ByteWriter(64 * 1024);
  private pendingRecords = 0;
  /** Lowest index the buffered records touch (see SegmentInfo). */
  private pendingLow = Number.POSITIVE_INFINITY;
  private lastFlush: Promise<void> = Promise.resolve();
  /** A flush scheduled behind the running one that has not yet taken the buffer. */
  private queued: Promise<void> | null = null;
  private failure: StorageError | null = null;
  private durableBoundary: Boundary;

  private constructor(
    private readonly disk: Disk,
    private readonly dir: string,
    private readonly segmentSize: number,
    private readonly shape: LogShape,
    private hardState: HardState | null,
    private snapshot: LogPosition | null,
    private readonly segments: SegmentInfo[],
    private file: DiskFile,
    private fileSize: number,
    /** State as of the end of the last batch handed to a flush. */
    private boundary: Boundary,
  ) {
    this.durableBoundary = boundary;
  }

  /** Opens (creating if needed) the WAL in `dir` and recovers what it holds. */
  static async open(
    disk: Disk,
    dir: string,
    options: WalOptions = {},
  ): Promise<{ wal: Wal; recovery: WalRecovery }> {
    const logger = options.logger ?? silentLogger;
    const segmentSize = options.segmentSize ?? DEFAULT_SEGMENT_SIZE;
    assert(segmentSize > 0, 'segmentSize must be positive');
    const names = await listOrCreateDir(disk, dir);
    const found: SegmentInfo[] = [];
    for (const name of names) {
      const seg = parseSegmentName(name);
      if (seg === null) logger.log('warn', 'wal ignoring unknown file', { file: joinPath(dir, name) });
      else found.push({ ...seg, lowIndex: Number.POSITIVE_INFINITY });
    }
    found.sort((a, b) => a.seq - b.seq);
    const r =
      found.length > 0
        ? await replaySegments(disk, dir, found, logger, { keepEntriesAfter: options.keepEntriesAfter ?? 0 })
        : null;
    const shape = r?.shape;
    const segments = r?.segments ?? [];
    const boundary: Boundary = {
      lastIndex: shape?.lastIndex ?? 0,
      lastTerm: shape?.lastTerm ?? 0,
      hardState: r?.hardState ?? null,
      snapshot: r?.snapshot ?? null,
    };
    let file: DiskFile;
    let fileSize: number;
    if (segments.length === 0) {
      // Fresh, or the only segment was torn before its first batch completed: start over.
      const seg = { seq: 0, firstIndex: boundary.lastIndex + 1 };
      const created = await createSegment(disk, dir, seg.seq, boundary, new Uint8Array(0));
      segments.push({ name: created.name, ...seg, lowIndex: Number.POSITIVE_INFINITY });
      file = created.file;
      fileSize = created.size;
    } else {
      const last = segments[segments.length - 1]!;
      file = await disk.openAppend(joinPath(dir, last.name));
      fileSize = r!.lastSegmentSize;
    }
    const finalShape = shape ?? new LogShape({ index: 0, term: 0 });
    const wal = new Wal(
      disk,
      dir,
      segmentSize,
      finalShape,
      boundary.hardState,
      boundary.snapshot,
      segments,
      file,
      fileSize,
      boundary,
    );
    const base = finalShape.base;
    const entries = r?.entries ?? [];
    const entriesFrom = r?.entriesFrom ?? base.index + 1;
    const snap = boundary.snapshot;
    const after =
      snap !== null && snap.index >= entriesFrom ? entries.slice(snap.index + 1 - entriesFrom) : entries;
    return {
      wal,
      recovery: {
        hardState: boundary.hardState ?? emptyHardState,
        snapshot: snap,
        entries: after,
        log: {
          base,
          lastIndex: finalShape.lastIndex,
          termAt: (i) => finalShape.termAt(i),
          entries,
          entriesFrom,
        },
        tornTail: r?.tornTail ?? null,
        empty: boundary.hardState === null && snap === null && finalShape.lastIndex === 0,
      },
    };
  }

  get lastIndex(): number {
    return this.shape.lastIndex;
  }

  get lastTerm(): number {
    return this.shape.lastTerm;
  }

  /** The latest snapshot marker saved (durable or not). */
  get lastSnapshot(): LogPosition | null {
    return this.snapshot;
  }

  /** The latest snapshot marker whose batch is durable. */
  get durableSnapshot(): LogPosition | null {
    return this.durableBoundary.snapshot;
  }

  /**
   * The entries after `index` (which the log holds: base ≤ index ≤ last), read again from the
   * segments. For recovery only, before anything is saved: when it falls back to a snapshot older
   * than keepEntriesAfter, whose entries it did not keep.
   */
  async entriesAfter(index: number): Promise<Entry[]> {
    assert(
      this.pendingRecords === 0 && this.durableBoundary === this.boundary,
      'entriesAfter() is for recovery, before anything is saved',
    );
    const r = await replaySegments(this.disk, this.dir, this.segments, silentLogger, {
      keepEntriesAfter: index,
    });
    assert(r.entriesFrom === index + 1, () => `the WAL holds no entries from ${index + 1}`);
    return r.entries;
  }

  /** Segment file names, oldest first. */
  segmentNames(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Buffers entries (replacing any stored suffix from entries[0].index on) and, if given, the
   * hard state. Durable once a following sync() resolves.
   */
  save(entries: readonly Entry[], hardState: HardState | null): void {
    this.checkUsable();
    if (entries.length > 0) {
      const first = entries[0]!.index;
      const problem = this.shape.appendProblem(first);
      assert(problem === null, `WAL save: ${problem}`);
      const snap = this.snapshot?.index ?? 0;
      assert(first > snap, `WAL save: entry ${first} is covered by the snapshot at ${snap}`);
      for (let i = 1; i < entries.length; i++) {
        assert(entries[i]!.index === first + i, `WAL save: entries not contiguous at ${entries[i]!.index}`);
      }
    }
    for (const e of entries) {
      writeEntry(this.pending, e);
      this.shape.append(e.index, e.term);
    }
    if (entries.length > 0) this.pendingLow = Math.min(this.pendingLow, entries[0]!.index);
    if (hardState !== null) {
      writeHardState(this.pending, hardState);
      this.hardState = hardState;
    }
    this.pendingRecords += entries.length + (hardState === null ? 0 : 1);
  }

  /**
   * Buffers a marker saying a snapshot up to `p` was saved: the log up to p.index is covered by it
   * (and, if the log disagrees with it at p.index, the whole log is replaced by it).
   */
  saveSnapshot(p: LogPosition): void {
    this.checkUsable();
    const prev = this.snapshot?.index ?? 0;
    assert(p.index >= prev, `WAL saveSnapshot: ${p.index} is older than the saved snapshot ${prev}`);
    writeSnapshotMarker(this.pending, p);
    this.snapshot = p;
    if (this.shape.applySnapshot(p)) this.pendingLow = Math.min(this.pendingLow, p.index + 1);
    this.pendingRecords++;
  }

  /** Makes everything saved so far durable, with one fdatasync for all of it. */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.pendingRecords === 0) return this.lastFlush;
    if (this.queued !== null) return this.queued;
    const p = this.lastFlush.then(() => {
      this.queued = null;
      return this.flush();
    });
    this.queued = p;
    this.lastFlush = p;
    return p;
  }

  /**
   * Deletes the oldest segments whose entries all lie at or before `index`, which must not be past
   * the latest durable snapshot marker, and which no later record reaches back into (see
   * SegmentInfo). Returns the names removed.
   */
  async release(index: number): Promise<string[]> {
    this.checkUsable();
    const covered = this.durableBoundary.snapshot?.index ?? 0;
    assert(index <= covered, `WAL release(${index}) beyond the durable snapshot at ${covered}`);
    // Segments [0, cut] can go if segment cut+1 starts at or before index+1 (so everything before
    // it is covered) and no record from cut+1 on reaches back before that start.
    const segs = this.segments;
    let cut = -1;
    let low = Number.POSITIVE_INFINITY;
    const lowFrom: number[] = new Array(segs.length);
    for (let j = segs.length - 1; j >= 0; j--) {
      low = Math.min(low, segs[j]!.lowIndex);
      lowFrom[j] = low;
    }
    for (let k = 0; k + 1 < segs.length && segs[k + 1]!.firstIndex - 1 <= index; k++) {
      if (lowFrom[k + 1]! >= segs[k + 1]!.firstIndex) cut = k;
    }
    const removed: string[] = [];
    // Oldest first, so that a crash midway leaves a contiguous run of segments.
    for (let k = 0; k <= cut; k++) {
      const seg = segs.shift()!;
      try {
        await this.disk.remove(joinPath(this.dir, seg.name));
      } catch (e) {
        if (!isNotFound(e)) {
          segs.unshift(seg);
          throw e;
        }
      }
      removed.push(seg.name);
    }
    if (removed.length > 0) await this.disk.syncDir(this.dir);
    return removed;
  }

  /** Waits for running syncs, then closes the segment file. Unsynced saves are dropped. */
  async close(): Promise<void> {
    await this.lastFlush.catch(() => {});
    if (this.failure === null) this.failure = new StorageError('WAL is closed');
    await this.file.close().catch(() => {});
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
  }

  private async flush(): Promise<void> {
    // Everything up to the first await runs before any other save: the batch is exactly the
    // records buffered when this flush started.
    const before = this.boundary;
    writeBatchEnd(this.pending);
    const batch = this.pending.take();
    const low = this.pendingLow;
    this.pendingRecords = 0;
    this.pendingLow = Number.POSITIVE_INFINITY;
    const after: Boundary = {
      lastIndex: this.shape.lastIndex,
      lastTerm: this.shape.lastTerm,
      hardState: this.hardState,
      snapshot: this.snapshot,
    };
    this.boundary = after;
    try {
      if (this.fileSize >= this.segmentSize) {
        const seq = this.segments[this.segments.length - 1]!.seq + 1;
        const created = await createSegment(this.disk, this.dir, seq, before, batch);
        const old = this.file;
        this.file = created.file;
        this.fileSize = created.size;
        this.segments.push({ name: created.name, seq, firstIndex: before.lastIndex + 1, lowIndex: low });
        await old.close();
      } else {
        const seg = this.segments[this.segments.length - 1]!;
        seg.lowIndex = Math.min(seg.lowIndex, low);
        await this.file.append(batch);
        this.fileSize += batch.length;
        await this.file.sync();
      }
      this.durableBoundary = after;
    } catch (e) {
      this.failure = e instanceof WalFailedError ? e : new WalFailedError(e);
      throw this.failure;
    }
  }
}

/**
 * Creates segment `seq`, writes its prologue (header, carried-over hard state and snapshot marker,
 * closed as a batch of its own) followed by `batch`, and makes file and directory entry durable.
 */
async function createSegment(
  disk: Disk,
  dir: string,
  seq: number,
  before: Boundary,
  batch: Uint8Array,
): Promise<{ name: string; file: DiskFile; size: number }> {
  const w = new ByteWriter(256 + batch.length);
  writeSegmentHeader(w, { seq, firstIndex: before.lastIndex + 1, prevTerm: before.lastTerm });
  if (before.hardState !== null) writeHardState(w, before.hardState);
  if (before.snapshot !== null) writeSnapshotMarker(w, before.snapshot);
  writeBatchEnd(w);
  w.raw(batch);
  const bytes = w.take();
  const name = segmentFileName(seq, before.lastIndex + 1);
  const file = await disk.create(joinPath(dir, name));
  await file.append(bytes);
  await file.sync();
  await disk.syncDir(dir);
  return { name, file, size: bytes.length };
}
