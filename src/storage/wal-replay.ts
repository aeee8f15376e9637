// Recovery of the WAL: reads every segment in order, verifies every checksum and rebuilds the
// hard state, the latest snapshot marker and the log. A segment is read a window (1 MiB) at a
// time, never whole, and the entries kept are views into their window; entries at or below
// keepEntriesAfter (the newest snapshot's index) are checked and shape the log, but not kept.
//
// Records are applied a batch at a time: a batch (everything one sync() wrote) ends with a
// batch-end record, and records after the last batch end were never acknowledged. Segments are
// cut only between batches, after the previous segment was fsynced, so a write can only have
// been torn in the last segment. Damage is therefore judged like this:
//  - last segment, and nothing intact follows the damage (an incomplete header, a record that
//    runs past the end of the file, a bad checksum on the final record, zeros...): a torn tail.
//    The file is truncated at the end of its last complete batch (or removed if it holds none),
//    and the truncation is logged and reported, never hidden.
//  - anything else (a bad record in an earlier segment, or followed by intact records, a missing
//    segment, entries that leave a gap): corruption. Recovery stops with a CorruptionError
//    naming the file and byte offset; no data is dropped.

import { CodecError, u32leAt } from '../codec/index.js';
import type { Logger } from '../raft/config.js';
import type { Entry, HardState } from '../raft/types.js';
import type { Disk } from './disk.js';
import { joinPath } from './disk.js';
import { CorruptionError } from './errors.js';
import { FRAME_HEADER_SIZE, findFrameAfter, headerCrc, readFrame } from './frame.js';
import { LogShape } from './log-shape.js';
import type { LogPosition, WalRecord } from './wal-record.js';
import { decodeWalEntryPosition, decodeWalRecord } from './wal-record.js';

export interface SegmentName {
  readonly name: string;
  readonly seq: number;
  readonly firstIndex: number;
}

/**
 * A segment and the lowest log index its records touch: an entry's index, or index+1 for a
 * snapshot marker that replaced the log. A replacement or snapshot install can reach back below
 * the segment's firstIndex; the segments before it may only be deleted once no later segment
 * does, or a replay starting after them would not see what those records replaced.
 */
export interface SegmentInfo extends SegmentName {
  lowIndex: number;
}

const SEGMENT_RE = /^wal-([0-9a-f]{16})-([0-9a-f]{16})\.log$/;

/** Fixed-width hex so that names sort by sequence number. */
export function segmentFileName(seq: number, firstIndex: number): string {
  return `wal-${seq.toString(16).padStart(16, '0')}-${firstIndex.toString(16).padStart(16, '0')}.log`;
}

export function parseSegmentName(name: string): SegmentName | null {
  const m = SEGMENT_RE.exec(name);
  if (m === null) return null;
  return { name, seq: Number.parseInt(m[1]!, 16), firstIndex: Number.parseInt(m[2]!, 16) };
}

/** What recovery cut off the end of the last segment. */
export interface TornTail {
  readonly file: string;
  /** Length the file was truncated to (0 with `removed`). */
  readonly offset: number;
  readonly droppedBytes: number;
  /** The segment held no complete batch and was removed. */
  readonly removed: boolean;
  readonly problem: string;
}

export interface ReplayResult {
  readonly hardState: HardState | null;
  readonly snapshot: LogPosition | null;
  readonly shape: LogShape;
  /** The log held from entriesFrom to shape.lastIndex (see ReplayOptions.keepEntriesAfter). */
  readonly entries: Entry[];
  /** The index of entries[0]: shape.base.index + 1, or keepEntriesAfter + 1 if that is later. */
  readonly entriesFrom: number;
  /** Segments left after any torn-tail repair, oldest first. */
  readonly segments: SegmentInfo[];
  readonly lastSegmentSize: number;
  readonly tornTail: TornTail | null;
}

export interface ReplayOptions {
  /**
   * Entries at or below this index are checked and give the log its shape (their terms), but are
   * not kept: recovery passes the newest snapshot's index, which covers them (default 0: keep all).
   */
  readonly keepEntriesAfter?: number;
  /** Bytes read from a segment at a time (a record larger than that is read whole). */
  readonly windowBytes?: number;
}

/** Segments are read a window of this size at a time. */
export const REPLAY_WINDOW_BYTES = 1024 * 1024;

/** An entry read for its position only (keepEntriesAfter covers it). */
interface PositionRecord {
  readonly kind: 'position';
  readonly position: LogPosition;
}

interface Pending {
  readonly rec: WalRecord | PositionRecord;
  readonly offset: number;
}

class Replayer {
  hardState: HardState | null = null;
  snapshot: LogPosition | null = null;
  shape: LogShape | null = null;
  /** The log from entriesFrom() to shape.lastIndex. */
  entries: Entry[] = [];
  /** Lowest index touched by the records applied from the current segment. */
  lowIndex = Number.POSITIVE_INFINITY;

  constructor(readonly keepAfter: number) {}

  /** The index of entries[0]. */
  entriesFrom(): number {
    return Math.max(this.shape?.base.index ?? 0, this.keepAfter) + 1;
  }

  applyBatch(seg: SegmentName, path: string, batch: readonly Pending[], atStart: boolean): void {
    let expectHeader = atStart;
    for (const { rec, offset } of batch) {
      if (expectHeader !== (rec.kind === 'segment')) {
        throw new CorruptionError(
          path,
          offset,
          expectHeader ? 'segment does not start with a segment header' : 'segment header inside a segment',
        );
      }
      expectHeader = false;
      switch (rec.kind) {
        case 'segment':
          this.startSegment(seg, path, offset, rec.header);
          break;
        case 'hardState':
          this.hardState = rec.hardState;
          break;
        case 'snapshot':
          this.snapshot = rec.snapshot;
          if (this.shape!.applySnapshot(rec.snapshot)) {
            this.entries = [];
            this.lowIndex = Math.min(this.lowIndex, rec.snapshot.index + 1);
          }
          break;
        case 'entry':
        case 'position': {
          const { index, term } = rec.kind === 'entry' ? rec.entry : rec.position;
          const shape = this.shape!;
          const problem = shape.appendProblem(index);
          if (problem !== null) throw new CorruptionError(path, offset, problem);
          shape.append(index, term);
          if (rec.kind === 'entry' && index > this.keepAfter) {
            // Replaces everything from index on; entriesFrom() ≤ index ≤ what is held + 1.
            this.entries.length = index - this.entriesFrom();
            this.entries.push(rec.entry);
          } else {
            // At or below keepAfter: none of what is held (all after keepAfter) survives it.
            this.entries.length = 0;
          }
          this.lowIndex = Math.min(this.lowIndex, index);
          break;
        }
        case 'batchEnd':
          break;
      }
    }
  }

  private startSegment(
    seg: SegmentName,
    path: string,
    offset: number,
    h: { seq: number; firstIndex: number; prevTerm: number },
  ): void {
    if (h.seq !== seg.seq || h.firstIndex !== seg.firstIndex) {
      throw new CorruptionError(
        path,
        offset,
        `header says segment ${h.seq} from index ${h.firstIndex}, the file name says ${seg.seq} from ${seg.firstIndex}`,
      );
    }
    if (this.shape === null) {
      this.shape = new LogShape({ index: h.firstIndex - 1, term: h.prevTerm });
      return;
    }
    if (this.shape.lastIndex !== h.firstIndex - 1 || this.shape.lastTerm !== h.prevTerm) {
      throw new CorruptionError(
        path,
        offset,
        `segment continues from index ${h.firstIndex - 1} term ${h.prevTerm}, ` +
          `but the segments before it end at index ${this.shape.lastIndex} term ${this.shape.lastTerm}`,
      );
    }
  }
}

/** What reading one segment found: its records applied batch by batch, and where it stopped. */
interface SegmentScan {
  readonly size: number;
  /** End of the last complete batch. */
  readonly lastEnd: number;
  /** Records after the last batch end (never applied). */
  readonly batch: readonly Pending[];
  readonly damage: { readonly offset: number; readonly problem: string } | null;
  /** Offset of an intact frame after the damage, or -1 (only looked for in the last segment). */
  readonly intactAfter: number;
}

/**
 * Reads one segment a window at a time — never the whole file at once — verifying every frame
 * and applying each complete batch to `r`. Kept entries are views into the window they were read
 * in (a window is a fresh buffer: what it holds is only the entries' and theirs), so that the
 * entries recovery keeps cost their own bytes and no copy.
 */
async function scanSegment(
  disk: Disk,
  path: string,
  seg: SegmentName,
  r: Replayer,
  isLast: boolean,
  windowBytes: number,
): Promise<SegmentScan> {
  const reader = await disk.openRead(path);
  try {
    const size = await reader.size();
    let buf: Uint8Array = new Uint8Array(0);
    let base = 0;
    let off = 0;
    let lastEnd = 0;
    let batch: Pending[] = [];
    let damage: { offset: number; problem: string; resumeAt: number | null } | null = null;
    while (off < size) {
      let f = readFrame(buf, off - base);
      while (!f.ok && f.resumeAt === null && base + buf.length < size) {
        // The window ends inside this frame: read on from its start, enough to hold it whole
        // once its header is in (at most twice: for the header, then for the whole frame).
        const want = Math.max(windowBytes, FRAME_HEADER_SIZE, frameBytesAt(buf, off - base));
        buf = await reader.read(off, want);
        base = off;
        f = readFrame(buf, 0);
      }
      if (!f.ok) {
        damage = {
          offset: off,
          problem: f.problem,
          resumeAt: f.resumeAt === null ? null : base + f.resumeAt,
        };
        break;
      }
      let rec: WalRecord | PositionRecord;
      try {
        const position = r.keepAfter > 0 ? decodeWalEntryPosition(f.payload) : null;
        rec =
          position !== null && position.index <= r.keepAfter
            ? { kind: 'position', position }
            : decodeWalRecord(f.payload, 'view');
      } catch (e) {
        if (!(e instanceof CodecError)) throw e;
        // Its checksum matched, so this is no torn write: a format or version mismatch.
        throw new CorruptionError(path, off, `undecodable record: ${e.message}`);
      }
      batch.push({ rec, offset: off });
      off = base + f.end;
      if (rec.kind === 'batchEnd') {
        r.applyBatch(seg, path, batch, lastEnd === 0);
        batch = [];
        lastEnd = off;
      }
    }
    let intactAfter = -1;
    if (isLast && damage?.resumeAt != null) {
      // Rare (damage in the last segment): the rest of the file is read whole to look for an
      // intact record after it.
      const rest = await reader.read(damage.resumeAt, size - damage.resumeAt);
      const at = findFrameAfter(rest, 0);
      if (at >= 0) intactAfter = damage.resumeAt + at;
    }
    return { size, lastEnd, batch, damage, intactAfter };
  } finally {
    await reader.close();
  }
}

/** The length of the frame at `at` in `buf` if its header is there and intact, else 0. */
function frameBytesAt(buf: Uint8Array, at: number): number {
  if (buf.length - at < FRAME_HEADER_SIZE) return 0;
  if (headerCrc(buf, at) !== u32leAt(buf, at + 8)) return 0;
  return FRAME_HEADER_SIZE + u32leAt(buf, at);
}

/**
 * Replays `segments` (sorted by seq, at least one) from `dir`, repairing a torn tail in place.
 */
export async function replaySegments(
  disk: Disk,
  dir: string,
  segments: readonly SegmentName[],
  logger: Logger,
  options: ReplayOptions = {},
): Promise<ReplayResult> {
  for (let i = 1; i < segments.length; i++) {
    if (segments[i]!.seq !== segments[i - 1]!.seq + 1) {
      throw new CorruptionError(
        joinPath(dir, segments[i]!.name),
        null,
        `WAL segment ${segments[i - 1]!.seq + 1} is missing (found ${segments[i - 1]!.name} then ${segments[i]!.name})`,
      );
    }
  }
  const windowBytes = options.windowBytes ?? REPLAY_WINDOW_BYTES;
  const r = new Replayer(options.keepEntriesAfter ?? 0);
  const sizes: number[] = [];
  const kept: SegmentInfo[] = [];
  let torn: TornTail | null = null;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const path = joinPath(dir, seg.name);
    const isLast = i === segments.length - 1;
    r.lowIndex = Number.POSITIVE_INFINITY;
    const { size, lastEnd, batch, damage, intactAfter } = await scanSegment(
      disk,
      path,
      seg,
      r,
      isLast,
      windowBytes,
    );
    sizes.push(size);
    kept.push({ ...seg, lowIndex: r.lowIndex });
    // A segment needs at least its prologue batch: an empty file is a cut that never completed.
    if (damage === null && batch.length === 0 && lastEnd > 0) continue;
    const at = damage?.offset ?? batch[0]?.offset ?? 0;
    const problem =
      damage?.problem ?? (batch.length > 0 ? 'the last batch has no batch-end record' : 'empty segment');
    if (!isLast) {
      throw new CorruptionError(path, at, `${problem} (not the last segment, so not a torn write)`);
    }
    if (intactAfter >= 0) {
      throw new CorruptionError(
        path,
        at,
        `${problem}; an intact record follows at byte ${intactAfter}, so this is not a torn write`,
      );
    }
    torn = {
      file: path,
      offset: lastEnd,
      droppedBytes: size - lastEnd,
      removed: lastEnd === 0,
      problem,
    };
  }

  if (torn !== null) {
    if (torn.removed) {
      await disk.remove(torn.file);
      await disk.syncDir(dir);
      kept.pop();
      sizes.pop();
    } else {
      await disk.truncate(torn.file, torn.offset);
      const f = await disk.openAppend(torn.file);
      await f.sync();
      await f.close();
      sizes[sizes.length - 1] = torn.offset;
    }
    logger.log('warn', torn.removed ? 'wal torn segment removed' : 'wal torn tail truncated', {
      file: torn.file,
      offset: torn.offset,
      droppedBytes: torn.droppedBytes,
      problem: torn.problem,
    });
  } else if (kept.length > 0) {
    // What was just replayed may never have been durable: after a failed fsync the process
    // stops, and its successor reads the unsynced tail back from the page cache. Make it durable
    // before anything is built on it (or a later segment cut leaves it unsynced forever, and a
    // power loss then tears a segment that is no longer the last one).
    const f = await disk.openAppend(joinPath(dir, kept[kept.length - 1]!.name));
    await f.sync();
    await f.close();
  }
  // Likewise the directory entries of the segments replayed (a segment created just before a
  // failed directory fsync).
  if (torn?.removed !== true && kept.length > 0) await disk.syncDir(dir);
  return {
    hardState: r.hardState,
    snapshot: r.snapshot,
    shape: r.shape ?? new LogShape({ index: 0, term: 0 }),
    entries: r.entries,
    entriesFrom: r.entriesFrom(),
    segments: kept,
    lastSegmentSize: sizes[sizes.length - 1] ?? 0,
    tornTail: torn,
  };
}
