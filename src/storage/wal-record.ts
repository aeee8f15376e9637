// The WAL's record kinds and their binary payloads (inside the frame of frame.ts). Numbers are
// varuints and strings length-prefixed UTF-8 (src/codec); the magic is a little-endian u32.
//
//   8 entry        the entry as the wire carries it too (codec/entry.ts):
//                  varuint term, varuint index, u8 type (0 command, 1 noop), data (varuint length, bytes)
//   2 hard state   varuint term, varuint commit, u8 hasVote, [string votedFor]
//   3 snapshot     varuint index, varuint term — a snapshot covering the log up to here was saved
//   4 segment      u32 magic, u8 version, varuint seq, varuint firstIndex, varuint prevTerm
//   5 batch end    (empty) — closes the records of one sync(); replay applies whole batches only
//
//   1 entry, as written before the shared entry encoding; read, never written:
//                  varuint index, varuint term, u8 type (0 command, 1 noop), data (the rest)
//
// A WAL holding kind-8 records is refused by releases that knew only kind 1 (an undecodable
// record: they stop with a CorruptionError and drop nothing).

import {
  ByteReader,
  ByteWriter,
  readEntry,
  readEntryType,
  writeEntry as writeEntryFields,
} from '../codec/index.js';
import type { Entry, HardState } from '../raft/types.js';
import { beginFrame, endFrame } from './frame.js';

/** Reads "RKVW" on disk (little-endian): identifies a raftkv WAL segment. */
export const WAL_MAGIC = 0x57564b52;
export const WAL_VERSION = 1;

const KIND_ENTRY_V1 = 1;
const KIND_HARD_STATE = 2;
const KIND_SNAPSHOT = 3;
const KIND_SEGMENT = 4;
const KIND_BATCH_END = 5;
const KIND_ENTRY = 8;

/** A position in the log: an index and the term of the entry there. */
export interface LogPosition {
  readonly index: number;
  readonly term: number;
}

export interface SegmentHeader {
  readonly seq: number;
  /** The index the segment's first entry would have: last index when it was cut, plus one. */
  readonly firstIndex: number;
  /** Term of entry firstIndex-1, so a segment can start a replay once older ones are gone. */
  readonly prevTerm: number;
}

export type WalRecord =
  | { readonly kind: 'entry'; readonly entry: Entry }
  | { readonly kind: 'hardState'; readonly hardState: HardState }
  | { readonly kind: 'snapshot'; readonly snapshot: LogPosition }
  | { readonly kind: 'segment'; readonly header: SegmentHeader }
  | { readonly kind: 'batchEnd' };

export function writeEntry(w: ByteWriter, e: Entry): void {
  const at = beginFrame(w);
  w.u8(KIND_ENTRY);
  writeEntryFields(w, e);
  endFrame(w, at);
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  const at = beginFrame(w);
  w.u8(KIND_HARD_STATE);
  w.varuint(hs.term);
  w.varuint(hs.commitIndex);
  w.bool(hs.votedFor !== null);
  if (hs.votedFor !== null) w.string(hs.votedFor);
  endFrame(w, at);
}

export function writeSnapshotMarker(w: ByteWriter, p: LogPosition): void {
  const at = beginFrame(w);
  w.u8(KIND_SNAPSHOT);
  w.varuint(p.index);
  w.varuint(p.term);
  endFrame(w, at);
}

export function writeSegmentHeader(w: ByteWriter, h: SegmentHeader): void {
  const at = beginFrame(w);
  w.u8(KIND_SEGMENT);
  w.u32le(WAL_MAGIC);
  w.u8(WAL_VERSION);
  w.varuint(h.seq);
  w.varuint(h.firstIndex);
  w.varuint(h.prevTerm);
  endFrame(w, at);
}

export function writeBatchEnd(w: ByteWriter): void {
  const at = beginFrame(w);
  w.u8(KIND_BATCH_END);
  endFrame(w, at);
}

/** An entry whose data is copied out, so that it does not pin the (large) buffer it was read from. */
function owned(e: Entry): Entry {
  return { term: e.term, index: e.index, type: e.type, data: e.data.slice() };
}

/**
 * How an entry's data comes out of decodeWalRecord: `copy` (the default) copies it out, so that it
 * does not pin the buffer it was read from; `view` leaves it a view into the payload's buffer,
 * which the entry then keeps alive — recovery reads segments a window of about a MiB at a time
 * and keeps its entries as views into those windows, as entries received from a peer are views
 * into their message.
 */
export type EntryData = 'copy' | 'view';

/** Decodes a payload whose checksum already matched. Throws CodecError on a format mismatch. */
export function decodeWalRecord(payload: Uint8Array, data: EntryData = 'copy'): WalRecord {
  const r = new ByteReader(payload, 'WAL record');
  const kind = r.u8('kind');
  const keep = data === 'copy' ? owned : (e: Entry) => e;
  let record: WalRecord;
  switch (kind) {
    case KIND_ENTRY:
      record = { kind: 'entry', entry: keep(readEntry(r)) };
      break;
    case KIND_ENTRY_V1: {
      const index = r.varuint('entry.index');
      const term = r.varuint('entry.term');
      const type = readEntryType(r);
      const data = r.raw(r.remaining, 'entry.data');
      record = { kind: 'entry', entry: keep({ term, index, type, data }) };
      break;
    }
    case KIND_HARD_STATE: {
      const term = r.varuint('term');
      const commitIndex = r.varuint('commit');
      const votedFor = r.bool('hasVote') ? r.string('votedFor') : null;
      record = { kind: 'hardState', hardState: { term, votedFor, commitIndex } };
      break;
    }
    case KIND_SNAPSHOT:
      record = { kind: 'snapshot', snapshot: { index: r.varuint('index'), term: r.varuint('term') } };
      break;
    case KIND_SEGMENT: {
      const magic = r.u32le('magic');
      if (magic !== WAL_MAGIC) r.fail(`not a WAL segment (magic ${magic.toString(16)})`);
      const version = r.u8('version');
      if (version !== WAL_VERSION) r.fail(`unsupported WAL version ${version}`);
      const seq = r.varuint('seq');
      const firstIndex = r.varuint('firstIndex');
      const prevTerm = r.varuint('prevTerm');
      record = { kind: 'segment', header: { seq, firstIndex, prevTerm } };
      break;
    }
    case KIND_BATCH_END:
      record = { kind: 'batchEnd' };
      break;
    default:
      return r.fail(`unknown WAL record kind ${kind}`, 0);
  }
  r.end();
  return record;
}

/**
 * The position of the entry a payload holds, checked as decodeWalRecord checks it but without
 * taking its data; null when the payload holds another kind of record. Recovery reads the
 * entries a snapshot covers this way: it needs their terms, never their data.
 */
export function decodeWalEntryPosition(payload: Uint8Array): LogPosition | null {
  const r = new ByteReader(payload, 'WAL record');
  const kind = r.u8('kind');
  let index: number;
  let term: number;
  if (kind === KIND_ENTRY) {
    term = r.varuint('entry.term');
    index = r.varuint('entry.index');
    readEntryType(r);
    // As readEntry and end() would fail, without making a view of the data.
    const length = r.varuint('entry.data');
    if (length > r.remaining) r.fail(`truncated: entry.data needs ${length} byte(s), ${r.remaining} left`);
    if (length < r.remaining) r.fail(`${r.remaining - length} trailing byte(s)`, r.offset + length);
  } else if (kind === KIND_ENTRY_V1) {
    index = r.varuint('entry.index');
    term = r.varuint('entry.term');
    readEntryType(r);
  } else {
    return null;
  }
  return { index, term };
}

/** Encodes records into one buffer (tests and tools; the WAL writes through the helpers above). */
export function encodeWalRecords(records: readonly WalRecord[]): Uint8Array {
  const w = new ByteWriter();
  for (const rec of records) {
    switch (rec.kind) {
      case 'entry':
        writeEntry(w, rec.entry);
        break;
      case 'hardState':
        writeHardState(w, rec.hardState);
        break;
      case 'snapshot':
        writeSnapshotMarker(w, rec.snapshot);
        break;
      case 'segment':
        writeSegmentHeader(w, rec.header);
        break;
      case 'batchEnd':
        writeBatchEnd(w);
        break;
    }
  }
  return w.take();
}
