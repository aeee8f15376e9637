// Binary encoding of the Raft wire messages (src/raft/types.ts). MESSAGE_FORMATS below describes
// each message once; measuring, writing and reading are loops over it. One encoded message:
//
//   tag:u8  from:string  to:string  term:varuint  <the type's fields, in the order listed>
//
// Field kinds (codec/ has the primitives and their rules):
//   varuint   unsigned LEB128, canonical            bool      u8, 0 or 1
//   string    varuint byte length, then UTF-8       entries   varuint count, then each entry
//                                                              (codec/entry.ts, shared with the WAL)
//   snapshot  metadata (codec/snapshot-meta.ts, shared with the snapshot files), then data:
//             varuint length and the bytes
//
// Encoding measures the message first (checking every number and string), allocates the exact
// buffer once and writes into it, so entry data is copied exactly once. Decoding returns entry and
// snapshot data as views into the input buffer (no copy); whoever keeps them beyond the frame's
// lifetime keeps the frame's memory alive too. Decoding accepts only canonical encodings and
// rejects trailing bytes, so a decoded message re-encodes to the identical bytes.

import {
  ByteReader,
  ByteWriter,
  CodecError,
  checkedVaruintSize,
  ENTRY_MIN_BYTES,
  entrySize,
  readEntry,
  readSnapshotMeta,
  snapshotMetaSize,
  stringSize,
  varuintSize,
  writeEntry,
  writeSnapshotMeta,
} from '../codec/index.js';
import { heldSnapshotData } from '../raft/snapshot-data.js';
import type { Entry, InstallSnapshot, Message, MessageType, Snapshot } from '../raft/types.js';

type Body<T extends MessageType> = Omit<Extract<Message, { type: T }>, 'type' | 'from' | 'to' | 'term'>;
type KindOf<V> = V extends number
  ? 'varuint'
  : V extends boolean
    ? 'bool'
    : V extends string
      ? 'string'
      : V extends readonly Entry[]
        ? 'entries'
        : V extends Snapshot
          ? 'snapshot'
          : never;
/** A field of message type T and the kind its value is encoded as. */
type Field<T extends MessageType> = {
  [K in keyof Body<T> & string]: readonly [name: K, kind: KindOf<Body<T>[K]>];
}[keyof Body<T> & string];
type FieldKind = 'varuint' | 'bool' | 'string' | 'entries' | 'snapshot';

interface MessageFormat<T extends MessageType> {
  readonly tag: number;
  readonly fields: readonly Field<T>[];
}

/** Every message: its tag and its fields after the common head, in wire order. */
// biome-ignore format: a table reads better aligned
const MESSAGE_FORMATS = {
  RequestVote:           { tag: 1,  fields: [['lastLogIndex', 'varuint'], ['lastLogTerm', 'varuint'], ['transfer', 'bool']] },
  RequestVoteResponse:   { tag: 2,  fields: [['granted', 'bool']] },
  PreVote:               { tag: 3,  fields: [['lastLogIndex', 'varuint'], ['lastLogTerm', 'varuint']] },
  PreVoteResponse:       { tag: 4,  fields: [['granted', 'bool']] },
  AppendEntries:         { tag: 5,  fields: [['prevLogIndex', 'varuint'], ['prevLogTerm', 'varuint'], ['leaderCommit', 'varuint'],
                                             ['entries', 'entries']] },
  AppendEntriesResponse: { tag: 6,  fields: [['success', 'bool'], ['matchIndex', 'varuint'], ['rejectedIndex', 'varuint'],
                                             ['hintIndex', 'varuint'], ['hintTerm', 'varuint']] },
  Heartbeat:             { tag: 7,  fields: [['leaderCommit', 'varuint'], ['readRound', 'varuint']] },
  HeartbeatResponse:     { tag: 8,  fields: [['readRound', 'varuint']] },
  InstallSnapshot:       { tag: 9,  fields: [['snapshot', 'snapshot']] },
  TimeoutNow:            { tag: 10, fields: [] },
  ReadIndexRequest:      { tag: 11, fields: [['context', 'string']] },
  ReadIndexResponse:     { tag: 12, fields: [['context', 'string'], ['readIndex', 'varuint']] },
  LeaseReadIndexRequest: { tag: 13, fields: [['context', 'string']] },
} as const satisfies { readonly [T in MessageType]: MessageFormat<T> };

/** The compiler checks that the table lists every field: this names any field it leaves out. */
type Unlisted = {
  [T in MessageType]: Exclude<keyof Body<T>, (typeof MESSAGE_FORMATS)[T]['fields'][number][0]>;
}[MessageType];
const everyFieldListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyFieldListed;

// The kinds as small integers, and each format's names and kinds as parallel arrays: the loops
// below run per message sent or received, and an index loop with an integer switch keeps them as
// fast as code written out per message (bench/codec.ts).
const VARUINT = 0;
const BOOL = 1;
const STRING = 2;
const ENTRIES = 3;
const SNAPSHOT = 4;
const KIND_CODES: Readonly<Record<FieldKind, number>> = {
  varuint: VARUINT,
  bool: BOOL,
  string: STRING,
  entries: ENTRIES,
  snapshot: SNAPSHOT,
};

/** A format as the loops below use it, the per-type typing dropped. */
interface Format {
  readonly type: MessageType;
  readonly tag: number;
  readonly names: readonly string[];
  readonly kinds: readonly number[];
}

const FORMATS = new Map<string, Format>();
/** Indexed by tag. */
const FORMATS_BY_TAG: (Format | undefined)[] = [];
const formatEntries = Object.entries(MESSAGE_FORMATS) as [
  MessageType,
  { tag: number; fields: readonly (readonly [string, FieldKind])[] },
][];
for (const [type, { tag, fields }] of formatEntries) {
  const format: Format = {
    type,
    tag,
    names: fields.map(([name]) => name),
    kinds: fields.map(([, kind]) => KIND_CODES[kind]),
  };
  FORMATS.set(type, format);
  FORMATS_BY_TAG[tag] = format;
}

export const MESSAGE_TAGS = Object.fromEntries(
  [...FORMATS].map(([type, { tag }]) => [type, tag]),
) as Readonly<Record<MessageType, number>>;
export const FIRST_MESSAGE_TAG = 1;
export const LAST_MESSAGE_TAG = FORMATS_BY_TAG.length - 1;

function formatOf(m: Message): Format {
  const format = FORMATS.get(m.type);
  if (format === undefined) throw new CodecError('value', `cannot encode message type ${String(m.type)}`);
  return format;
}

/** A message's fields by name (the formats name them). */
function fieldsOf(m: Message): Readonly<Record<string, unknown>> {
  return m as unknown as Record<string, unknown>;
}

function headSize(m: Message): number {
  return 1 + stringSize(m.from, 'from') + stringSize(m.to, 'to') + checkedVaruintSize(m.term, 'term');
}

function writeHead(w: ByteWriter, tag: number, m: Message): void {
  w.u8(tag);
  w.string(m.from);
  w.string(m.to);
  w.varuint(m.term);
}

// Each loop below is small enough to be inlined; the entries and the snapshot are written by
// functions of their own.

function fieldSize(kind: number, value: unknown, name: string): number {
  switch (kind) {
    case VARUINT:
      return checkedVaruintSize(value as number, name);
    case BOOL:
      return 1;
    case STRING:
      return stringSize(value as string, name);
    case ENTRIES:
      return entriesSize(value as readonly Entry[]);
    default:
      return snapshotSize(value as Snapshot);
  }
}

function writeField(w: ByteWriter, kind: number, value: unknown): void {
  switch (kind) {
    case VARUINT:
      w.varuint(value as number);
      break;
    case BOOL:
      w.bool(value as boolean);
      break;
    case STRING:
      w.string(value as string);
      break;
    case ENTRIES:
      writeEntries(w, value as readonly Entry[]);
      break;
    default:
      writeSnapshot(w, value as Snapshot);
  }
}

function readField(r: ByteReader, kind: number, name: string): unknown {
  switch (kind) {
    case VARUINT:
      return r.varuint(name);
    case BOOL:
      return r.bool(name);
    case STRING:
      return r.string(name);
    case ENTRIES:
      return readEntries(r);
    default:
      return readSnapshot(r);
  }
}

/** entries: varuint count, then each entry. */
function entriesSize(entries: readonly Entry[]): number {
  let n = varuintSize(entries.length);
  for (let i = 0; i < entries.length; i++) n += entrySize(entries[i]!);
  return n;
}

function writeEntries(w: ByteWriter, entries: readonly Entry[]): void {
  w.varuint(entries.length);
  for (let i = 0; i < entries.length; i++) writeEntry(w, entries[i]!);
}

function readEntries(r: ByteReader): Entry[] {
  const count = r.count('entry count', ENTRY_MIN_BYTES);
  const entries: Entry[] = new Array(count);
  for (let i = 0; i < count; i++) entries[i] = readEntry(r);
  return entries;
}

/** snapshot: its metadata, then data:bytes. */
function snapshotSize(s: Snapshot): number {
  const data = bytesOf(s);
  return snapshotMetaSize(s.meta) + varuintSize(data.length) + data.length;
}

function writeSnapshot(w: ByteWriter, s: Snapshot): void {
  writeSnapshotMeta(w, s.meta);
  w.bytes(bytesOf(s));
}

/**
 * The bytes a whole message carries. A snapshot whose data the node keeps in its file has none
 * here: the transport streams it from the file (snapshot-stream.ts), it is never encoded whole.
 */
function bytesOf(s: Snapshot): Uint8Array {
  const data = heldSnapshotData(s);
  if (data === null) {
    throw new CodecError(
      'value',
      `the data of snapshot ${s.meta.index} is in a file: it can only be streamed`,
    );
  }
  return data;
}

function readSnapshot(r: ByteReader): Snapshot {
  const meta = readSnapshotMeta(r);
  return { meta, data: r.bytes('snapshot data') };
}

/** Exact encoded size of `m`. Throws CodecError if `m` holds a value the wire cannot carry. */
export function measureMessage(m: Message): number {
  const { names, kinds } = formatOf(m);
  const values = fieldsOf(m);
  let n = headSize(m);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    n += fieldSize(kinds[i] as number, values[name], name);
  }
  return n;
}

/** Writes `m`, which must have been measured (and so checked) by measureMessage. */
export function writeMessage(w: ByteWriter, m: Message): void {
  const { tag, names, kinds } = formatOf(m);
  const values = fieldsOf(m);
  writeHead(w, tag, m);
  for (let i = 0; i < names.length; i++) writeField(w, kinds[i] as number, values[names[i] as string]);
}

/** Decodes the body of a message whose tag byte has already been read from `r`. */
export function readMessageBody(r: ByteReader, tag: number): Message {
  const format = FORMATS_BY_TAG[tag];
  if (format === undefined) return r.fail(`unknown message tag ${tag}`, r.offset - 1);
  const m: Record<string, unknown> = {
    type: format.type,
    from: r.string('from'),
    to: r.string('to'),
    term: r.varuint('term'),
  };
  const { names, kinds } = format;
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    m[name] = readField(r, kinds[i] as number, name);
  }
  return m as unknown as Message;
}

/** Encodes `m` into a buffer of exactly its size. */
export function encodeMessage(m: Message): Uint8Array {
  const w = new ByteWriter(new Uint8Array(measureMessage(m)));
  writeMessage(w, m);
  return w.take();
}

/** Decodes one whole message; throws CodecError on anything malformed, truncated or trailing. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new ByteReader(bytes, 'message');
  const m = readMessageBody(r, r.u8('tag'));
  r.end();
  return m;
}

/**
 * Bytes of an InstallSnapshot up to, and including, the data length: the part the transport sends
 * ahead of a snapshot streamed in chunks (see control-frames.ts).
 */
export function installSnapshotHeadSize(m: InstallSnapshot): number {
  return headSize(m) + snapshotMetaSize(m.snapshot.meta) + varuintSize(m.snapshot.data.byteLength);
}

/** The InstallSnapshot fields before the data bytes, under the given tag. */
export function writeInstallSnapshotHead(w: ByteWriter, tag: number, m: InstallSnapshot): void {
  writeHead(w, tag, m);
  writeSnapshotMeta(w, m.snapshot.meta);
  w.varuint(m.snapshot.data.byteLength);
}

/**
 * Reads an InstallSnapshot up to its data length (the tag already consumed); returns the message
 * with empty data, and the announced data length.
 */
export function readInstallSnapshotHead(r: ByteReader): { head: InstallSnapshot; dataLength: number } {
  const from = r.string('from');
  const to = r.string('to');
  const term = r.varuint('term');
  const meta = readSnapshotMeta(r);
  const dataLength = r.varuint('snapshot data length');
  const head: InstallSnapshot = {
    type: 'InstallSnapshot',
    from,
    to,
    term,
    snapshot: { meta, data: new Uint8Array(0) },
  };
  return { head, dataLength };
}
