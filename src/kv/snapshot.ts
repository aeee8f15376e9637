// The snapshot format and the consistent view it is written from.
//
// Layout (varuints are LEB128; strings are varuint byte length + UTF-8; src/codec has the rules):
//   "RKVS"  magic, 4 bytes
//   u8      format version (2; version 1, without the space rules, is still read)
//   varuint lastApplied
//   varuint dedup window, maxEntries, maxBytes (the replicated de-dup rules travel with the data)
//   varuint quota bytes (0: none), varuint alarm count, then each alarmed node id (version 2)
//   varuint record count, then per record, oldest first:
//           idempotency key, index, u8 result tag, result fields (see writeRecord)
//   varuint key count, then per key in key order: key, value
//   u32 LE  CRC-32 of everything before it
//
// Writing without blocking writers: KvStateMachine.snapshotView() clones the B+ trees in O(1)
// (copy-on-write: later writes copy only the nodes they touch), so the view is frozen at
// lastApplied while the store keeps taking writes. chunks() then serialises the view lazily, one
// chunk of about `chunkBytes` per next() call, so the driver can spread the work over event-loop
// turns or stream it to disk or to a follower.

import { ByteReader, ByteWriter, CodecError, crc32 } from '../codec/index.js';
import { type DedupConfig, type DedupRecord, DedupTable, validateDedupConfig } from './dedup.js';
import { OrderedStore } from './ordered-store.js';
import type { WriteResult } from './results.js';
import { pairCharge } from './space.js';

const MAGIC = [0x52, 0x4b, 0x56, 0x53];
export const SNAPSHOT_FORMAT_VERSION = 2;
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

const TAG_PUT = 1;
const TAG_CONFLICT_PRESENT = 2;
const TAG_CONFLICT_ABSENT = 3;
const TAG_DELETED = 4;
const TAG_NOT_DELETED = 5;

/** A frozen copy of the state machine, serialisable at leisure. */
export class KvSnapshotView {
  constructor(
    /** The last index the view covers (the snapshot's index). */
    readonly lastApplied: number,
    private readonly store: OrderedStore,
    private readonly dedupConfig: DedupConfig,
    private readonly dedup: { readonly count: number; readonly records: Iterable<DedupRecord> },
    private readonly space: SpaceRules,
  ) {}

  /** Number of keys in the view. */
  get size(): number {
    return this.store.size;
  }

  /** The snapshot bytes, in chunks of about `chunkBytes` (one pair may exceed it). */
  *chunks(chunkBytes = DEFAULT_SNAPSHOT_CHUNK_BYTES): Generator<Uint8Array, void, undefined> {
    const w = new ByteWriter(Math.min(chunkBytes, DEFAULT_SNAPSHOT_CHUNK_BYTES) + 64);
    let crc = 0;
    const flush = (): Uint8Array => {
      const chunk = w.take();
      crc = crc32(chunk, crc);
      return chunk;
    };
    for (const b of MAGIC) w.u8(b);
    w.u8(SNAPSHOT_FORMAT_VERSION);
    w.varuint(this.lastApplied);
    w.varuint(this.dedupConfig.window);
    w.varuint(this.dedupConfig.maxEntries);
    w.varuint(this.dedupConfig.maxBytes);
    w.varuint(this.space.quotaBytes ?? 0);
    w.varuint(this.space.alarms.length);
    for (const node of this.space.alarms) w.string(node);
    w.varuint(this.dedup.count);
    for (const record of this.dedup.records) {
      writeRecord(w, record);
      if (w.length >= chunkBytes) yield flush();
    }
    w.varuint(this.store.size);
    for (const [key, value] of this.store.entries()) {
      w.string(key);
      w.string(value);
      if (w.length >= chunkBytes) yield flush();
    }
    if (w.length > 0) yield flush();
    w.u32le(crc);
    yield w.take();
  }

  /** The whole snapshot in one buffer. */
  toBytes(): Uint8Array {
    const parts = [...this.chunks()];
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      out.set(p, at);
      at += p.length;
    }
    return out;
  }
}

function writeRecord(w: ByteWriter, record: DedupRecord): void {
  const r = record.result;
  w.string(record.idempotencyKey);
  w.varuint(r.index);
  switch (r.kind) {
    case 'put':
      w.u8(TAG_PUT);
      w.string(r.key);
      w.string(r.value);
      break;
    case 'conflict':
      w.u8(r.value === null ? TAG_CONFLICT_ABSENT : TAG_CONFLICT_PRESENT);
      w.string(r.key);
      if (r.value !== null) w.string(r.value);
      break;
    case 'delete':
      w.u8(r.deleted ? TAG_DELETED : TAG_NOT_DELETED);
      w.string(r.key);
      break;
  }
}

function readRecord(r: ByteReader): DedupRecord {
  const idempotencyKey = r.string('idempotency key');
  const index = r.varuint('record index');
  const tag = r.u8('result tag');
  const key = r.string('key');
  let result: WriteResult;
  switch (tag) {
    case TAG_PUT:
      result = { kind: 'put', key, value: r.string('value'), index, replayed: false };
      break;
    case TAG_CONFLICT_PRESENT:
      result = { kind: 'conflict', key, value: r.string('value'), index, replayed: false };
      break;
    case TAG_CONFLICT_ABSENT:
      result = { kind: 'conflict', key, value: null, index, replayed: false };
      break;
    case TAG_DELETED:
    case TAG_NOT_DELETED:
      result = { kind: 'delete', key, deleted: tag === TAG_DELETED, index, replayed: false };
      break;
    default:
      return r.fail(`unknown idempotency record tag ${tag}`);
  }
  return { idempotencyKey, result };
}

/** The replicated space rules (state-machine.ts). */
export interface SpaceRules {
  readonly quotaBytes: number | null;
  readonly alarms: readonly string[];
}

export interface DecodedSnapshot extends SpaceRules {
  readonly lastApplied: number;
  readonly store: OrderedStore;
  readonly dedup: DedupTable;
  /** Sum of pairCharge() over the pairs. */
  readonly pairBytes: number;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Parses and checks a snapshot; throws CodecError (and nothing else) if it is invalid. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  if (bytes.length < MAGIC.length + 1 + 4) throw new CodecError('snapshot', 'too short', 0);
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new CodecError('snapshot', 'not a raftkv snapshot (bad magic)', 0);
  }
  const version = bytes[MAGIC.length]!;
  if (version !== 1 && version !== SNAPSHOT_FORMAT_VERSION) {
    throw new CodecError('snapshot', `unsupported format version ${version}`, MAGIC.length);
  }
  const bodyEnd = bytes.length - 4;
  const body = bytes.subarray(0, bodyEnd);
  const stored = new ByteReader(bytes.subarray(bodyEnd), 'snapshot').u32le('checksum');
  if (crc32(body) !== stored)
    throw new CodecError('snapshot', 'checksum mismatch (corrupt or truncated)', bodyEnd);

  const r = new ByteReader(body, 'snapshot');
  r.raw(MAGIC.length + 1, 'magic and version');
  const lastApplied = r.varuint('lastApplied');
  const config: DedupConfig = {
    window: r.varuint('dedup window'),
    maxEntries: r.varuint('dedup maxEntries'),
    maxBytes: r.varuint('dedup maxBytes'),
  };
  try {
    validateDedupConfig(config);
  } catch (e) {
    r.fail(messageOf(e));
  }
  let quotaBytes: number | null = null;
  const alarms: string[] = [];
  if (version >= 2) {
    const quota = r.varuint('quota');
    quotaBytes = quota === 0 ? null : quota;
    const alarmCount = r.count('alarm count', 1);
    for (let i = 0; i < alarmCount; i++) {
      const node = r.string('alarmed node');
      if (node.length === 0 || (i > 0 && node <= alarms[i - 1]!))
        r.fail('alarmed nodes not in strict id order');
      alarms.push(node);
    }
  }
  const recordCount = r.varuint('record count');
  const records: DedupRecord[] = [];
  for (let i = 0; i < recordCount; i++) {
    const record = readRecord(r);
    if (record.result.index > lastApplied) r.fail('idempotency record newer than lastApplied');
    records.push(record);
  }
  let dedup: DedupTable;
  try {
    dedup = DedupTable.fromRecords(config, records);
  } catch (e) {
    return r.fail(messageOf(e));
  }
  // Each pair takes at least 3 bytes; refuse absurd counts before allocating for them.
  const keyCount = r.count('key count', 3);
  const keys: string[] = new Array(keyCount);
  const values: string[] = new Array(keyCount);
  let pairBytes = 0;
  for (let i = 0; i < keyCount; i++) {
    const keyAt = r.offset;
    const key = r.string('key');
    if (key.length === 0) r.fail('empty key', keyAt);
    const value = r.string('value');
    keys[i] = key;
    values[i] = value;
    pairBytes += pairCharge(key, value);
  }
  r.end();
  let store: OrderedStore;
  try {
    store = OrderedStore.fromSorted(keys, values);
  } catch (e) {
    return r.fail(messageOf(e));
  }
  return { lastApplied, store, dedup, pairBytes, quotaBytes, alarms };
}
