// The backup file's fixed parts: the preamble (magic, format version, header length), the header
// (what the file holds and where it came from) and the trailer start (length and end marker); the
// body between them is the state machine's own snapshot, and the file ends with the SHA-256 of
// everything before it. The layout, byte by byte, is in README.md.

import { ByteReader, ByteWriter, readSnapshotMeta, u32leAt, writeSnapshotMeta } from '../codec/index.js';
import type { ClusterMembership } from '../raft/index.js';

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The first 8 bytes of every backup file. */
export const BACKUP_MAGIC = ascii('RAFTKVBK');
/** The format version written (and the only one read). */
export const BACKUP_FORMAT_VERSION = 1;
/** Marks the end of the body: with the length before it, tells a cut-off file from a damaged one. */
export const END_MARKER = ascii('RKVB-END');
export const HASH_BYTES = 32;
/** Magic, version, header length. */
export const PREAMBLE_BYTES = BACKUP_MAGIC.length + 1 + 4;
/** Length before the hash (u64), end marker, hash. */
export const TRAILER_BYTES = 8 + END_MARKER.length + HASH_BYTES;
/** A header is a few hundred bytes; a length past this is damage, not a header to buffer. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;

/** What a backup holds and where it came from. */
export interface BackupHeader {
  /** The cluster the state was taken from. */
  readonly clusterId: string;
  /** The node that served it. */
  readonly nodeId: string;
  /** The log index the state is at (everything applied up to it, nothing after). */
  readonly index: number;
  /** The term of the entry at `index`. */
  readonly term: number;
  /** The cluster's membership at `index` (a restore gives the new cluster its own). */
  readonly membership: ClusterMembership;
  /** Keys in the state. */
  readonly keyCount: number;
  /** When the node took it: milliseconds since the Unix epoch, by the node's wall clock. */
  readonly createdAtMs: number;
}

/** Magic, version, header length and the header: the file's first bytes. */
export function encodePreamble(header: BackupHeader): Uint8Array {
  const fields = new ByteWriter(256);
  fields.string(header.clusterId);
  fields.string(header.nodeId);
  writeSnapshotMeta(fields, { index: header.index, term: header.term, membership: header.membership });
  fields.varuint(header.keyCount);
  fields.varuint(header.createdAtMs);
  const body = fields.take();
  const w = new ByteWriter(PREAMBLE_BYTES + body.length);
  w.raw(BACKUP_MAGIC);
  w.u8(BACKUP_FORMAT_VERSION);
  w.u32le(body.length);
  w.raw(body);
  return w.take();
}

/** The header's fields (the bytes after the preamble); throws CodecError. */
export function decodeHeader(fields: Uint8Array): BackupHeader {
  const r = new ByteReader(fields, 'backup header');
  const clusterId = r.string('clusterId');
  const nodeId = r.string('nodeId');
  const { index, term, membership } = readSnapshotMeta(r);
  const keyCount = r.varuint('keyCount');
  const createdAtMs = r.varuint('createdAt');
  r.end();
  return { clusterId, nodeId, index, term, membership, keyCount, createdAtMs };
}

/** The trailer's first 16 bytes: how many bytes the hash covers (these included), end marker. */
export function encodeTrailerStart(hashedBytes: number): Uint8Array {
  const w = new ByteWriter(16);
  w.u32le(hashedBytes % 2 ** 32);
  w.u32le(Math.floor(hashedBytes / 2 ** 32));
  w.raw(END_MARKER);
  return w.take();
}

/** The u64 little-endian at `at` (a safe integer in every file this reads). */
export function u64leAt(b: Uint8Array, at: number): number {
  return u32leAt(b, at) + u32leAt(b, at + 4) * 2 ** 32;
}

export function startsWith(bytes: Uint8Array, prefix: Uint8Array, at = 0): boolean {
  if (bytes.length - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (bytes[at + i] !== prefix[i]) return false;
  return true;
}
