// The snapshot format and the consistent view it is written from.
//
// Layout (varuints are LEB128; strings are varuint byte length + UTF-8; src/codec has the rules):
//   "RKVS"  magic, 4 bytes
//   u8      format version (4; versions 1 to 3 are still read, see below)
//   varuint lastApplied
//   varuint dedup window, maxEntries, maxBytes (the replicated de-dup rules travel with the data)
//   varuint quota bytes (0: none), varuint alarm count, then each alarmed node id (version ≥ 2)
//   varuint record count, then per record, oldest first:
//           idempotency key, index, u8 result tag, result fields (see writeRecord)
//   varuint key count, then per key in key order:
//           key, value, varuint version, createIndex, modIndex (the metadata: version ≥ 3),
//           varuint lease id (0: none; version ≥ 4)
//   (version ≥ 4) varuint lease count, then per lease in id order: id, ttl, renewIndex
//   (version ≥ 4) the history window: varuint maxEvents, maxBytes, firstCompleteIndex, event
//           count, then per event in log order: varuint index, u8 flags (1: delete, 2: has a
//           prevValue), key, value (puts), prevValue (if flagged)
//   u32 LE  CRC-32 of everything before it
//
// Older versions: versions 1 to 3 have no leases and no history: a restore starts an empty window
// at lastApplied + 1 (a watch from before it is answered `compacted`). Version 1 has no space rules (no quota, no alarm); versions 1 and 2 have no
// key metadata, which a restore rebuilds as if every key had been created by one write at the
// snapshot's lastApplied — version 1, createIndex = modIndex = lastApplied — and their put records
// answer a replay with version 1 and createIndex = modIndex = the record's index. Every node
// restoring the same snapshot rebuilds the same values, so replicas still agree.
//
// Writing without blocking writers: KvStateMachine.snapshotView() clones the B+ trees in O(1)
// (copy-on-write: later writes copy only the nodes they touch), so the view is frozen at
// lastApplied while the store keeps taking writes. chunks() then serialises the view lazily, one
// chunk of about `chunkBytes` per next() call, so the driver can spread the work over event-loop
// turns or stream it to disk or to a follower.
//
// Reading without holding the bytes: decodeSnapshot parses one buffer; decodeSnapshotFrom runs the
// same parse over a window of about a MiB of a snapshot file at a time (a node restoring a
// snapshot of hundreds of MB), reading an item again whole when a window's end cut it.

import { ByteReader, ByteWriter, CodecError, crc32 } from '../codec/index.js';
import { utf8Decoder } from '../codec/utf8.js';
import { type DedupConfig, type DedupRecord, DedupTable, validateDedupConfig } from './dedup.js';
import type { KvEvent } from './events.js';
import {
  DEFAULT_HISTORY_CONFIG,
  type HistoryConfig,
  type HistorySnapshot,
  HistoryWindow,
  validateHistoryConfig,
} from './history.js';
import { type LeaseRecord, LeaseTable } from './leases.js';
import { KeyRecord, type KeyValue, keyValueOf, OrderedStore } from './ordered-store.js';
import type { TxnOpResult, WriteResult } from './results.js';
import { pairCharge } from './space.js';

const MAGIC = [0x52, 0x4b, 0x56, 0x53];
export const SNAPSHOT_FORMAT_VERSION = 4;
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 1024 * 1024;

const TAG_PUT = 1;
const TAG_CONFLICT_PRESENT = 2;
const TAG_CONFLICT_ABSENT = 3;
const TAG_DELETED = 4;
const TAG_NOT_DELETED = 5;
const TAG_PUT_LEASE = 6;
const TAG_TXN = 7;
const TXN_RESULT_PUT = 1;
const TXN_RESULT_DELETED = 2;
const TXN_RESULT_NOT_DELETED = 3;
const TXN_RESULT_GET_FOUND = 4;
const TXN_RESULT_GET_MISSING = 5;
const EVENT_DELETE = 1;
const EVENT_PREV_VALUE = 2;

/** A frozen copy of the state machine, serialisable at leisure. */
export class KvSnapshotView {
  constructor(
    /** The last index the view covers (the snapshot's index). */
    readonly lastApplied: number,
    private readonly store: OrderedStore,
    private readonly dedupConfig: DedupConfig,
    private readonly dedup: { readonly count: number; readonly records: Iterable<DedupRecord> },
    private readonly space: SpaceRules,
    private readonly leases: readonly LeaseRecord[],
    private readonly history: HistorySnapshot,
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
    for (const [key, record] of this.store.entries()) {
      w.string(key);
      w.string(record.value);
      w.varuint(record.version);
      w.varuint(record.createIndex);
      w.varuint(record.modIndex);
      w.varuint(record.lease);
      if (w.length >= chunkBytes) yield flush();
    }
    w.varuint(this.leases.length);
    for (const l of this.leases) {
      w.varuint(l.id);
      w.varuint(l.ttl);
      w.varuint(l.renewIndex);
      if (w.length >= chunkBytes) yield flush();
    }
    const h = this.history;
    w.varuint(h.config.maxEvents);
    w.varuint(h.config.maxBytes);
    w.varuint(h.firstCompleteIndex);
    w.varuint(h.events.length);
    for (const e of h.events) {
      w.varuint(e.index);
      w.u8((e.type === 'delete' ? EVENT_DELETE : 0) | (e.prevValue === null ? 0 : EVENT_PREV_VALUE));
      w.string(e.key);
      if (e.value !== null) w.string(e.value);
      if (e.prevValue !== null) w.string(e.prevValue);
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
      // modIndex is the record's index: only version and createIndex are written.
      w.u8(r.lease === undefined ? TAG_PUT : TAG_PUT_LEASE);
      w.string(r.key);
      w.string(r.value);
      w.varuint(r.version);
      w.varuint(r.createIndex);
      if (r.lease !== undefined) w.varuint(r.lease);
      break;
    case 'txn':
      w.u8(TAG_TXN);
      w.u8(r.succeeded ? 1 : 0);
      w.varuint(r.results.length);
      for (const op of r.results) writeTxnOpResult(w, op);
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

/** A put result inside a transaction's record: the key as it stood after the put. */
function writeTxnOpResult(w: ByteWriter, op: TxnOpResult): void {
  if ('put' in op) {
    w.u8(TXN_RESULT_PUT);
    writeKeyValue(w, op.put);
  } else if ('delete' in op) {
    w.u8(op.delete.deleted ? TXN_RESULT_DELETED : TXN_RESULT_NOT_DELETED);
    w.string(op.delete.key);
  } else if (op.get.value === null) {
    w.u8(TXN_RESULT_GET_MISSING);
    w.string(op.get.key);
  } else {
    w.u8(TXN_RESULT_GET_FOUND);
    writeKeyValue(w, op.get as KeyValue);
  }
}

function writeKeyValue(w: ByteWriter, kv: KeyValue): void {
  w.string(kv.key);
  w.string(kv.value);
  w.varuint(kv.version);
  w.varuint(kv.createIndex);
  w.varuint(kv.modIndex);
  w.varuint(kv.lease ?? 0);
}

function readKeyValue(r: ByteReader, index: number): KeyValue {
  const key = r.string('key');
  const value = r.string('value');
  const at = r.offset;
  const version = r.varuint('version');
  const createIndex = r.varuint('createIndex');
  const modIndex = r.varuint('modIndex');
  const lease = r.varuint('lease');
  if (!plausibleMetadata(version, createIndex, modIndex) || modIndex > index) {
    r.fail('impossible key metadata in a record', at);
  }
  return keyValueOf(key, new KeyRecord(value, version, createIndex, modIndex, lease));
}

function readTxnRecord(r: ByteReader, index: number): WriteResult {
  const flag = r.u8('txn succeeded');
  if (flag > 1) r.fail('txn succeeded flag not 0 or 1');
  const count = r.count('txn result count', 2);
  const results: TxnOpResult[] = [];
  for (let i = 0; i < count; i++) {
    const at = r.offset;
    const tag = r.u8('txn result tag');
    switch (tag) {
      case TXN_RESULT_PUT:
        results.push({ put: readKeyValue(r, index) });
        break;
      case TXN_RESULT_DELETED:
      case TXN_RESULT_NOT_DELETED:
        results.push({ delete: { key: r.string('key'), deleted: tag === TXN_RESULT_DELETED } });
        break;
      case TXN_RESULT_GET_FOUND:
        results.push({ get: readKeyValue(r, index) });
        break;
      case TXN_RESULT_GET_MISSING:
        results.push({ get: { key: r.string('key'), value: null } });
        break;
      default:
        r.fail(`unknown txn result tag ${tag}`, at);
    }
  }
  return { kind: 'txn', succeeded: flag === 1, results, index, replayed: false };
}

function readRecord(r: ByteReader, formatVersion: number): DedupRecord {
  const idempotencyKey = r.string('idempotency key');
  const index = r.varuint('record index');
  const tag = r.u8('result tag');
  if (tag === TAG_TXN && formatVersion >= 4) return { idempotencyKey, result: readTxnRecord(r, index) };
  const key = r.string('key');
  let result: WriteResult;
  switch (tag) {
    case TAG_PUT_LEASE:
    case TAG_PUT: {
      if (tag === TAG_PUT_LEASE && formatVersion < 4) r.fail(`unknown idempotency record tag ${tag}`);
      const value = r.string('value');
      // Before version 3 a record had no metadata: rebuilt as the key's first write (see above).
      let version = 1;
      let createIndex = index;
      if (formatVersion >= 3) {
        version = r.varuint('record version');
        createIndex = r.varuint('record createIndex');
        if (!plausibleMetadata(version, createIndex, index)) r.fail('impossible key metadata in a record');
      }
      const put = { kind: 'put', key, value, index, version, createIndex, modIndex: index } as const;
      result =
        tag === TAG_PUT_LEASE
          ? { ...put, lease: readLeaseId(r), replayed: false }
          : { ...put, replayed: false };
      break;
    }
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
  readonly leases: LeaseTable;
  readonly history: HistoryWindow;
}

/**
 * Whether metadata can come from a log: a key created at createIndex ≥ 1 and written last at
 * modIndex got one log entry per write, so at most modIndex − createIndex + 1 writes.
 */
function plausibleMetadata(version: number, createIndex: number, modIndex: number): boolean {
  return version >= 1 && createIndex >= 1 && createIndex <= modIndex && version <= modIndex - createIndex + 1;
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Parses and checks a snapshot; throws CodecError (and nothing else) if it is invalid. */
export function decodeSnapshot(bytes: Uint8Array): DecodedSnapshot {
  const version = checkPrologue(bytes, bytes.length);
  const bodyEnd = bytes.length - 4;
  const body = bytes.subarray(0, bodyEnd);
  const stored = new ByteReader(bytes.subarray(bodyEnd), 'snapshot').u32le('checksum');
  if (crc32(body) !== stored)
    throw new CodecError('snapshot', 'checksum mismatch (corrupt or truncated)', bodyEnd);
  // The whole body is in the window: the parse never asks for more.
  const step = parseSnapshot(new SnapshotInput(body, bodyEnd, LOW_WATER_BYTES), version).next();
  if (step.done !== true) throw new CodecError('snapshot', 'the parse asked for bytes past the end', bodyEnd);
  return step.value;
}

/** A snapshot's bytes, read a piece at a time (a snapshot file's data: SnapshotStore.openData). */
export interface SnapshotSource {
  readonly dataLength: number;
  /** Up to `length` bytes from `offset`; fewer only at the end. */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** Bytes read from a SnapshotSource at a time. */
export const SNAPSHOT_READ_BYTES = 1024 * 1024;

/**
 * decodeSnapshot of a snapshot read from `source` a window of about SNAPSHOT_READ_BYTES at a
 * time, so that restoring a snapshot of hundreds of MB never holds its bytes whole (what is
 * decoded is copied out: keys, values and records are strings and numbers). Accepts and refuses
 * exactly what decodeSnapshot does; a damaged snapshot is reported as a checksum mismatch when its
 * checksum disagrees, whatever the parse ran into first.
 */
export async function decodeSnapshotFrom(
  source: SnapshotSource,
  readBytes = SNAPSHOT_READ_BYTES,
): Promise<DecodedSnapshot> {
  const total = source.dataLength;
  const bodyEnd = total - 4;
  const readBody = async (from: number, length: number): Promise<Uint8Array> => {
    const want = Math.min(length, bodyEnd - from);
    const got = await source.read(from, want);
    if (got.length !== want) {
      throw new CodecError('snapshot', `the source ended at byte ${from + got.length} of ${total}`, from);
    }
    return got;
  };
  const first =
    total < MAGIC.length + 1 + 4
      ? await source.read(0, total)
      : await readBody(0, Math.max(readBytes, MAGIC.length + 1));
  const version = checkPrologue(first, total);
  const stored = new ByteReader(await source.read(bodyEnd, 4), 'snapshot').u32le('checksum');
  const mismatch = (): CodecError =>
    new CodecError('snapshot', 'checksum mismatch (corrupt or truncated)', bodyEnd);
  let crc = crc32(first);
  const input = new SnapshotInput(first, bodyEnd, Math.min(LOW_WATER_BYTES, Math.ceil(readBytes / 4)));
  const parse = parseSnapshot(input, version);
  for (;;) {
    let step: IteratorResult<number, DecodedSnapshot>;
    try {
      step = parse.next();
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      // What the parse ran into is reported as decodeSnapshot would: as a checksum mismatch if
      // the checksum disagrees (it is checked before the parse there).
      for (let at = input.windowEnd; at < bodyEnd; ) {
        const more = await readBody(at, readBytes);
        crc = crc32(more, crc);
        at += more.length;
      }
      throw crc === stored ? e : mismatch();
    }
    if (step.done === true) {
      // The parse read the body to its end (SnapshotInput.end): crc covers all of it.
      if (crc !== stored) throw mismatch();
      return step.value;
    }
    // The parse wants `step.value` bytes after its position: keep what it has not read, add more.
    const from = input.windowEnd;
    const kept = input.unread();
    const more = await readBody(from, Math.max(readBytes, step.value - kept.length));
    crc = crc32(more, crc);
    const window = new Uint8Array(kept.length + more.length);
    window.set(kept, 0);
    window.set(more, kept.length);
    input.replace(window, from - kept.length);
  }
}

/** Checks what comes before the parse (size, magic, version) and returns the format version. */
function checkPrologue(head: Uint8Array, total: number): number {
  if (total < MAGIC.length + 1 + 4) throw new CodecError('snapshot', 'too short', 0);
  for (let i = 0; i < MAGIC.length; i++) {
    if (head[i] !== MAGIC[i]) throw new CodecError('snapshot', 'not a raftkv snapshot (bad magic)', 0);
  }
  const version = head[MAGIC.length]!;
  if (version < 1 || version > SNAPSHOT_FORMAT_VERSION) {
    throw new CodecError('snapshot', `unsupported format version ${version}`, MAGIC.length);
  }
  return version;
}

/**
 * A parse whose window has fewer bytes than this ahead of it asks for more before the next item
 * (a quarter of the window when that is less).
 */
const LOW_WATER_BYTES = 64 * 1024;

/**
 * The parse's input: a window onto the snapshot's body (everything before the checksum) — the
 * whole body for decodeSnapshot, about a MiB of it at a time for decodeSnapshotFrom. Offsets in
 * errors are the body's (the window's start is added where they are caught).
 */
class SnapshotInput {
  r: ByteReader;
  /** Offset in the body of the window's first byte. */
  private base = 0;

  constructor(
    private window: Uint8Array,
    /** Length of the body. */
    private readonly bodyLength: number,
    /** Bytes the window should hold ahead of the position before an item is read. */
    readonly lowWater: number,
  ) {
    this.r = new ByteReader(window, 'snapshot');
  }

  /** Offset in the body just past the window. */
  get windowEnd(): number {
    return this.base + this.window.length;
  }

  /** The window reaches the end of the body: a short read is the snapshot's, not the window's. */
  get whole(): boolean {
    return this.windowEnd >= this.bodyLength;
  }

  /** Too little ahead in the window for the next item, and more to come. */
  get low(): boolean {
    return this.window.length - this.r.offset < this.lowWater && !this.whole;
  }

  /** Bytes of the body after the position, in the window and beyond it. */
  get left(): number {
    return this.bodyLength - this.base - this.r.offset;
  }

  /** The window's bytes not yet read. */
  unread(): Uint8Array {
    return this.window.subarray(this.r.offset);
  }

  /** The window is now `window`, whose first byte is at `base` in the body; reading goes on there. */
  replace(window: Uint8Array, base: number): void {
    this.window = window;
    this.base = base;
    this.r = new ByteReader(window, 'snapshot');
  }

  /** An error the parse met, its offset made the body's. */
  located(e: CodecError): CodecError {
    return e.offset === null || this.base === 0 ? e : new CodecError(e.what, e.reason, this.base + e.offset);
  }

  /**
   * The item that started at window offset `start` failed with `e`: if the window may merely
   * have ended inside it, the parse goes back to its start and asks for twice what it had;
   * otherwise `e` stands.
   */
  retry(e: unknown, start: number): number {
    if (!(e instanceof CodecError) || this.whole) throw e;
    const had = this.window.length - start;
    this.replace(this.window.subarray(start), this.base + start);
    return Math.max(2 * had, this.lowWater);
  }

  /** An element count, refused at once when the rest of the body cannot hold that many elements. */
  count(field: string, minBytesEach: number): number {
    const at = this.r.offset;
    const n = this.r.varuint(field);
    if (n * minBytesEach > this.left) {
      this.r.fail(`truncated: ${field} is ${n} but only ${this.left} byte(s) follow`, at);
    }
    return n;
  }

  /** The parse is done: trailing bytes mean the writer and the reader disagree. */
  end(): void {
    if (this.left !== 0) this.r.fail(`${this.left} trailing byte(s)`);
  }
}

/** What the fixed fields at the start of the body hold. */
interface SnapshotPrologue {
  readonly lastApplied: number;
  readonly config: DedupConfig;
  readonly quotaBytes: number | null;
  readonly alarms: string[];
}

function readPrologue(input: SnapshotInput, version: number): SnapshotPrologue {
  const r = input.r;
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
    const alarmCount = input.count('alarm count', 1);
    for (let i = 0; i < alarmCount; i++) {
      const node = r.string('alarmed node');
      if (node.length === 0 || (i > 0 && node <= alarms[i - 1]!))
        r.fail('alarmed nodes not in strict id order');
      alarms.push(node);
    }
  }
  return { lastApplied, config, quotaBytes, alarms };
}

/**
 * The parse, over `input`'s window. It yields how many bytes it wants ahead of its position when
 * the window runs low (or ended inside an item, which it then reads again from its start), and
 * returns the decoded snapshot. Every item is parsed whole before it changes anything, so that
 * reading it again is harmless; every check is decodeSnapshot's, in its order.
 */
function* parseSnapshot(input: SnapshotInput, version: number): Generator<number, DecodedSnapshot, void> {
  try {
    let prologue: SnapshotPrologue | null = null;
    while (prologue === null) {
      if (input.low) yield input.lowWater;
      try {
        prologue = readPrologue(input, version);
      } catch (e) {
        // The prologue starts at the body's start: the window is replaced from there.
        yield input.retry(e, 0);
      }
    }
    const { lastApplied, config, quotaBytes, alarms } = prologue;

    let recordCount = -1;
    while (recordCount < 0) {
      if (input.low) yield input.lowWater;
      const start = input.r.offset;
      try {
        recordCount = input.r.varuint('record count');
      } catch (e) {
        yield input.retry(e, start);
      }
    }
    const records: DedupRecord[] = [];
    for (let i = 0; i < recordCount; i++) {
      if (input.low) yield input.lowWater;
      const start = input.r.offset;
      try {
        const record = readRecord(input.r, version);
        if (record.result.index > lastApplied) input.r.fail('idempotency record newer than lastApplied');
        records.push(record);
      } catch (e) {
        yield input.retry(e, start);
        i--;
      }
    }
    let dedup: DedupTable;
    try {
      dedup = DedupTable.fromRecords(config, records);
    } catch (e) {
      return input.r.fail(messageOf(e));
    }

    // Each pair takes at least 3 bytes (6 with metadata); refuse absurd counts before allocating.
    let keyCount = -1;
    while (keyCount < 0) {
      if (input.low) yield input.lowWater;
      const start = input.r.offset;
      try {
        keyCount = input.count('key count', version >= 3 ? 6 : 3);
      } catch (e) {
        yield input.retry(e, start);
      }
    }
    const keys: string[] = new Array(keyCount);
    const keyRecords: KeyRecord[] = new Array(keyCount);
    let pairBytes = 0;
    for (let i = 0; i < keyCount; i++) {
      if (input.low) yield input.lowWater;
      const r = input.r;
      const keyAt = r.offset;
      try {
        const key = readString(r, 'key');
        if (key.length === 0) r.fail('empty key', keyAt);
        const value = readString(r, 'value');
        keyRecords[i] =
          version >= 3
            ? readMetadata(r, value, lastApplied, version)
            : new KeyRecord(value, 1, lastApplied, lastApplied, 0);
        keys[i] = key;
        pairBytes += pairCharge(key, value);
      } catch (e) {
        yield input.retry(e, keyAt);
        i--;
      }
    }

    let leases = new LeaseTable();
    let history = new HistoryWindow(DEFAULT_HISTORY_CONFIG, lastApplied + 1);
    if (version >= 4) {
      let leaseCount = -1;
      while (leaseCount < 0) {
        if (input.low) yield input.lowWater;
        const start = input.r.offset;
        try {
          leaseCount = input.count('lease count', 3);
        } catch (e) {
          yield input.retry(e, start);
        }
      }
      const leaseRecords: LeaseRecord[] = [];
      for (let i = 0; i < leaseCount; i++) {
        if (input.low) yield input.lowWater;
        const start = input.r.offset;
        try {
          leaseRecords.push(readLease(input.r, leaseRecords[i - 1]?.id ?? 0, lastApplied));
        } catch (e) {
          yield input.retry(e, start);
          i--;
        }
      }
      leases = LeaseTable.fromRecords(leaseRecords);

      let head: HistoryHead | null = null;
      while (head === null) {
        if (input.low) yield input.lowWater;
        const start = input.r.offset;
        try {
          head = readHistoryHead(input, lastApplied);
        } catch (e) {
          yield input.retry(e, start);
        }
      }
      const events: KvEvent[] = [];
      for (let i = 0; i < head.count; i++) {
        if (input.low) yield input.lowWater;
        const start = input.r.offset;
        try {
          events.push(readEvent(input.r, lastApplied));
        } catch (e) {
          yield input.retry(e, start);
          i--;
        }
      }
      try {
        history = HistoryWindow.fromEvents(head.config, head.firstComplete, events);
      } catch (e) {
        return input.r.fail(messageOf(e));
      }
    }
    input.end();
    // Each key's lease must exist; the lease learns its keys from them.
    for (let i = 0; i < keyCount; i++) {
      const id = keyRecords[i]!.lease;
      if (id === 0) continue;
      const lease = leases.get(id);
      if (lease === undefined)
        return input.r.fail(`key tied to lease ${id}, which the snapshot does not hold`);
      lease.keys.add(keys[i]!);
    }
    let store: OrderedStore;
    try {
      store = OrderedStore.fromSorted(keys, keyRecords);
    } catch (e) {
      return input.r.fail(messageOf(e));
    }
    return { lastApplied, store, dedup, pairBytes, quotaBytes, alarms, leases, history };
  } catch (e) {
    throw e instanceof CodecError ? input.located(e) : e;
  }
}

/**
 * ByteReader.string, for the keys and values of a snapshot: the same checks and errors, but every
 * string is decoded in one call, flat — ByteReader builds a short one a character at a time, which
 * for 10^6 keys is 10^7 short-lived strings and a chain of cons strings per key.
 */
function readString(r: ByteReader, field: string): string {
  const length = r.varuint(field);
  const bytes = r.raw(length, field);
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return r.fail(`${field} is not valid UTF-8`, r.offset - length);
  }
}

/** A key's metadata (version ≥ 3), checked against the log it claims to come from. */
function readMetadata(r: ByteReader, value: string, lastApplied: number, formatVersion: number): KeyRecord {
  const at = r.offset;
  const version = r.varuint('version');
  const createIndex = r.varuint('createIndex');
  const modIndex = r.varuint('modIndex');
  if (!plausibleMetadata(version, createIndex, modIndex) || modIndex > lastApplied) {
    r.fail('impossible key metadata', at);
  }
  const lease = formatVersion >= 4 ? r.varuint('lease') : 0;
  return new KeyRecord(value, version, createIndex, modIndex, lease);
}

function readLeaseId(r: ByteReader): number {
  const at = r.offset;
  const id = r.varuint('record lease');
  if (id === 0) r.fail('lease id 0 in a record', at);
  return id;
}

/** One lease, after the one with id `previous` (0 for the first). */
function readLease(r: ByteReader, previous: number, lastApplied: number): LeaseRecord {
  const at = r.offset;
  const id = r.varuint('lease id');
  const ttl = r.varuint('lease ttl');
  const renewIndex = r.varuint('lease renewIndex');
  if (id <= previous || ttl === 0 || renewIndex < id || renewIndex > lastApplied) {
    r.fail('impossible lease (ids out of order, ttl 0, or renewal outside the log)', at);
  }
  return { id, ttl, renewIndex };
}

interface HistoryHead {
  readonly config: HistoryConfig;
  readonly firstComplete: number;
  readonly count: number;
}

/** The history window's fields before its events. */
function readHistoryHead(input: SnapshotInput, lastApplied: number): HistoryHead {
  const r = input.r;
  const config: HistoryConfig = {
    maxEvents: r.varuint('history maxEvents'),
    maxBytes: r.varuint('history maxBytes'),
  };
  try {
    validateHistoryConfig(config);
  } catch (e) {
    r.fail(messageOf(e));
  }
  const firstComplete = r.varuint('history firstCompleteIndex');
  if (firstComplete < 1 || firstComplete > lastApplied + 1) r.fail('history start outside the log');
  const count = input.count('history event count', 4);
  return { config, firstComplete, count };
}

function readEvent(r: ByteReader, lastApplied: number): KvEvent {
  const at = r.offset;
  const index = r.varuint('event index');
  const flags = r.u8('event flags');
  if (flags > 3 || index > lastApplied) r.fail('impossible history event', at);
  const key = r.string('event key');
  const isDelete = (flags & EVENT_DELETE) !== 0;
  const value = isDelete ? null : r.string('event value');
  const prevValue = (flags & EVENT_PREV_VALUE) !== 0 ? r.string('event prevValue') : null;
  return { index, type: isDelete ? 'delete' : 'put', key, value, prevValue };
}
