// The WAL's record kinds and their binary payloads (inside the frame of frame.ts).
//
//   1 entry        varint index, varint term, u8 type (0 command, 1 noop), data (rest)
//   2 hard state   varint term, varint commit, u8 hasVote, [string votedFor]
//   3 snapshot     varint index, varint term — a snapshot covering the log up to here was saved
//   4 segment      u32 magic, u8 version, varint seq, varint firstIndex, varint prevTerm
//   5 batch end    (empty) — closes the records of one sync(); replay applies whole batches only

import type { Entry, HardState } from '../raft/types.js';
import { ByteReader, ByteWriter, DecodeError } from './codec.js';
import { beginFrame, endFrame } from './frame.js';

/** Reads "RKVW" on disk (little-endian): identifies a raftkv WAL segment. */
export const WAL_MAGIC = 0x57564b52;
export const WAL_VERSION = 1;

const KIND_ENTRY = 1;
const KIND_HARD_STATE = 2;
const KIND_SNAPSHOT = 3;
const KIND_SEGMENT = 4;
const KIND_BATCH_END = 5;

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
  w.varint(e.index);
  w.varint(e.term);
  w.u8(e.type === 'noop' ? 1 : e.type === 'config' ? 2 : 0);
  w.bytes(e.data);
  endFrame(w, at);
}

export function writeHardState(w: ByteWriter, hs: HardState): void {
  const at = beginFrame(w);
  w.u8(KIND_HARD_STATE);
  w.varint(hs.term);
  w.varint(hs.commit);
  if (hs.votedFor === null) {
    w.u8(0);
  } else {
    w.u8(1);
    w.string(hs.votedFor);
  }
  endFrame(w, at);
}

export function writeSnapshotMarker(w: ByteWriter, p: LogPosition): void {
  const at = beginFrame(w);
  w.u8(KIND_SNAPSHOT);
  w.varint(p.index);
  w.varint(p.term);
  endFrame(w, at);
}

export function writeSegmentHeader(w: ByteWriter, h: SegmentHeader): void {
  const at = beginFrame(w);
  w.u8(KIND_SEGMENT);
  w.u32(WAL_MAGIC);
  w.u8(WAL_VERSION);
  w.varint(h.seq);
  w.varint(h.firstIndex);
  w.varint(h.prevTerm);
  endFrame(w, at);
}

export function writeBatchEnd(w: ByteWriter): void {
  const at = beginFrame(w);
  w.u8(KIND_BATCH_END);
  endFrame(w, at);
}

/** Decodes a payload whose checksum already matched. Throws DecodeError on a format mismatch. */
export function decodeWalRecord(payload: Uint8Array): WalRecord {
  const r = new ByteReader(payload);
  const kind = r.u8();
  switch (kind) {
    case KIND_ENTRY: {
      const index = r.varint();
      const term = r.varint();
      const type = r.u8();
      if (type > 2) throw new DecodeError(`unknown entry type ${type}`);
      const entryType = type === 1 ? 'noop' : type === 2 ? 'config' : 'command';
      return { kind: 'entry', entry: { index, term, type: entryType, data: r.rest() } };
    }
    case KIND_HARD_STATE: {
      const term = r.varint();
      const commit = r.varint();
      const hasVote = r.u8();
      if (hasVote > 1) throw new DecodeError(`bad vote flag ${hasVote}`);
      const votedFor = hasVote === 1 ? r.string() : null;
      r.end();
      return { kind: 'hardState', hardState: { term, votedFor, commit } };
    }
    case KIND_SNAPSHOT: {
      const index = r.varint();
      const term = r.varint();
      r.end();
      return { kind: 'snapshot', snapshot: { index, term } };
    }
    case KIND_SEGMENT: {
      const magic = r.u32();
      if (magic !== WAL_MAGIC) throw new DecodeError(`not a WAL segment (magic ${magic.toString(16)})`);
      const version = r.u8();
      if (version !== WAL_VERSION) throw new DecodeError(`unsupported WAL version ${version}`);
      const seq = r.varint();
      const firstIndex = r.varint();
      const prevTerm = r.varint();
      r.end();
      return { kind: 'segment', header: { seq, firstIndex, prevTerm } };
    }
    case KIND_BATCH_END:
      r.end();
      return { kind: 'batchEnd' };
    default:
      throw new DecodeError(`unknown WAL record kind ${kind}`);
  }
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
