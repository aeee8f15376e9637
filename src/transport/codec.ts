// Binary encoding of the Raft wire messages (src/raft/types.ts).
//
// Layout of one encoded message (all integers are unsigned LEB128 varints, canonical form):
//
//   tag:u8  from:str  to:str  term:uint  <fields of the type, in the order below>
//
//   1  RequestVote            lastLogIndex lastLogTerm transfer:bool
//   2  RequestVoteResponse    granted:bool
//   3  PreVote                lastLogIndex lastLogTerm
//   4  PreVoteResponse        granted:bool
//   5  AppendEntries          prevLogIndex prevLogTerm leaderCommit count:uint entry*count
//   6  AppendEntriesResponse  success:bool matchIndex rejectedIndex hintIndex hintTerm
//   7  Heartbeat              commit readRound
//   8  HeartbeatResponse      readRound
//   9  InstallSnapshot        index term voterCount:uint voter:str*voterCount data:bytes
//   10 TimeoutNow             (nothing)
//   11 ReadIndexRequest       context:str
//   12 ReadIndexResponse      context:str readIndex
//
//   entry = term index kind:u8 (0 command, 1 noop) data:bytes
//   str   = byteLength:uint UTF-8 bytes;  bytes = length:uint raw bytes;  bool = u8 0|1
//
// Encoding measures the message first (validating every number and string), allocates the exact
// buffer once and writes into it, so entry data is copied exactly once. Decoding returns entry and
// snapshot data as views into the input buffer (no copy); whoever keeps them beyond the frame's
// lifetime keeps the frame's memory alive too. Decoding accepts only canonical encodings and
// rejects trailing bytes, so a decoded message re-encodes to the identical bytes.

import type {
  AppendEntries,
  Entry,
  EntryType,
  InstallSnapshot,
  Message,
  MessageType,
  NodeId,
  SnapshotMeta,
} from '../raft/types.js';
import { CodecError } from './errors.js';
import { stringSize, uintSize, varUintSize, WireReader, WireWriter } from './wire-primitives.js';

export const MESSAGE_TAGS: Readonly<Record<MessageType, number>> = {
  RequestVote: 1,
  RequestVoteResponse: 2,
  PreVote: 3,
  PreVoteResponse: 4,
  AppendEntries: 5,
  AppendEntriesResponse: 6,
  Heartbeat: 7,
  HeartbeatResponse: 8,
  InstallSnapshot: 9,
  TimeoutNow: 10,
  ReadIndexRequest: 11,
  ReadIndexResponse: 12,
};

export const FIRST_MESSAGE_TAG = 1;
export const LAST_MESSAGE_TAG = 12;

const ENTRY_KIND: Readonly<Record<EntryType, number>> = { command: 0, noop: 1, config: 2 };
const ENTRY_TYPES: readonly EntryType[] = ['command', 'noop', 'config'];

/** Smallest possible encoded entry: term, index, kind and data length of one byte each. */
const MIN_ENTRY_BYTES = 4;
/** Smallest possible encoded string: its zero length. */
const MIN_STRING_BYTES = 1;

function headSize(m: Message): number {
  return 1 + stringSize(m.from, 'from') + stringSize(m.to, 'to') + uintSize(m.term, 'term');
}

function entrySize(e: Entry): number {
  if (ENTRY_KIND[e.type] === undefined) throw new CodecError(`cannot encode entry type ${String(e.type)}`);
  return (
    uintSize(e.term, 'entry.term') +
    uintSize(e.index, 'entry.index') +
    1 +
    varUintSize(e.data.length) +
    e.data.length
  );
}

function snapshotMetaSize(meta: SnapshotMeta): number {
  let n = uintSize(meta.index, 'snapshot.index') + uintSize(meta.term, 'snapshot.term');
  const voters = meta.membership.voters;
  n += varUintSize(voters.length);
  for (const v of voters) n += stringSize(v, 'voter');
  return n;
}

/**
 * Bytes of an InstallSnapshot up to, and including, the data length: the part the transport sends
 * ahead of a snapshot streamed in chunks (see control-frames.ts).
 */
export function installSnapshotHeadSize(m: InstallSnapshot): number {
  return headSize(m) + snapshotMetaSize(m.snapshot.meta) + varUintSize(m.snapshot.data.length);
}

/** Exact encoded size of `m`. Throws CodecError if `m` holds a value the wire cannot carry. */
export function measureMessage(m: Message): number {
  switch (m.type) {
    case 'RequestVote':
      return (
        headSize(m) + uintSize(m.lastLogIndex, 'lastLogIndex') + uintSize(m.lastLogTerm, 'lastLogTerm') + 1
      );
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      return headSize(m) + 1;
    case 'PreVote':
      return headSize(m) + uintSize(m.lastLogIndex, 'lastLogIndex') + uintSize(m.lastLogTerm, 'lastLogTerm');
    case 'AppendEntries': {
      let n =
        headSize(m) +
        uintSize(m.prevLogIndex, 'prevLogIndex') +
        uintSize(m.prevLogTerm, 'prevLogTerm') +
        uintSize(m.leaderCommit, 'leaderCommit') +
        varUintSize(m.entries.length);
      for (const e of m.entries) n += entrySize(e);
      return n;
    }
    case 'AppendEntriesResponse':
      return (
        headSize(m) +
        1 +
        uintSize(m.matchIndex, 'matchIndex') +
        uintSize(m.rejectedIndex, 'rejectedIndex') +
        uintSize(m.hintIndex, 'hintIndex') +
        uintSize(m.hintTerm, 'hintTerm')
      );
    case 'Heartbeat':
      return headSize(m) + uintSize(m.commit, 'commit') + uintSize(m.readRound, 'readRound');
    case 'HeartbeatResponse':
      return headSize(m) + uintSize(m.readRound, 'readRound');
    case 'InstallSnapshot':
      return installSnapshotHeadSize(m) + m.snapshot.data.length;
    case 'TimeoutNow':
      return headSize(m);
    case 'ReadIndexRequest':
      return headSize(m) + stringSize(m.context, 'context');
    case 'ReadIndexResponse':
      return headSize(m) + stringSize(m.context, 'context') + uintSize(m.readIndex, 'readIndex');
    default:
      throw new CodecError(`cannot encode message type ${String((m as { type: unknown }).type)}`);
  }
}

function writeHead(w: WireWriter, tag: number, m: Message): void {
  w.u8(tag);
  w.string(m.from);
  w.string(m.to);
  w.varUint(m.term);
}

/** The InstallSnapshot fields before the data bytes, under the given tag. */
export function writeInstallSnapshotHead(w: WireWriter, tag: number, m: InstallSnapshot): void {
  writeHead(w, tag, m);
  const meta = m.snapshot.meta;
  w.varUint(meta.index);
  w.varUint(meta.term);
  w.varUint(meta.membership.voters.length);
  for (const v of meta.membership.voters) w.string(v);
  w.varUint(m.snapshot.data.length);
}

/** Writes `m`, which must have been measured (and so validated) by measureMessage. */
export function writeMessage(w: WireWriter, m: Message): void {
  const tag = MESSAGE_TAGS[m.type];
  switch (m.type) {
    case 'RequestVote':
      writeHead(w, tag, m);
      w.varUint(m.lastLogIndex);
      w.varUint(m.lastLogTerm);
      w.u8(m.transfer ? 1 : 0);
      return;
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      writeHead(w, tag, m);
      w.u8(m.granted ? 1 : 0);
      return;
    case 'PreVote':
      writeHead(w, tag, m);
      w.varUint(m.lastLogIndex);
      w.varUint(m.lastLogTerm);
      return;
    case 'AppendEntries':
      writeHead(w, tag, m);
      w.varUint(m.prevLogIndex);
      w.varUint(m.prevLogTerm);
      w.varUint(m.leaderCommit);
      w.varUint(m.entries.length);
      for (const e of m.entries) {
        w.varUint(e.term);
        w.varUint(e.index);
        w.u8(ENTRY_KIND[e.type]);
        w.bytes(e.data);
      }
      return;
    case 'AppendEntriesResponse':
      writeHead(w, tag, m);
      w.u8(m.success ? 1 : 0);
      w.varUint(m.matchIndex);
      w.varUint(m.rejectedIndex);
      w.varUint(m.hintIndex);
      w.varUint(m.hintTerm);
      return;
    case 'Heartbeat':
      writeHead(w, tag, m);
      w.varUint(m.commit);
      w.varUint(m.readRound);
      return;
    case 'HeartbeatResponse':
      writeHead(w, tag, m);
      w.varUint(m.readRound);
      return;
    case 'InstallSnapshot':
      writeInstallSnapshotHead(w, tag, m);
      w.raw(m.snapshot.data);
      return;
    case 'TimeoutNow':
      writeHead(w, tag, m);
      return;
    case 'ReadIndexRequest':
      writeHead(w, tag, m);
      w.string(m.context);
      return;
    case 'ReadIndexResponse':
      writeHead(w, tag, m);
      w.string(m.context);
      w.varUint(m.readIndex);
      return;
  }
}

/** Encodes `m` into a buffer of exactly its size. */
export function encodeMessage(m: Message): Uint8Array {
  const size = measureMessage(m);
  const w = new WireWriter(Buffer.allocUnsafe(size));
  writeMessage(w, m);
  return w.buf;
}

interface Head {
  from: NodeId;
  to: NodeId;
  term: number;
}

function readHead(r: WireReader): Head {
  const from = r.string('from');
  const to = r.string('to');
  const term = r.varUint('term');
  return { from, to, term };
}

/**
 * Reads an InstallSnapshot up to its data length (the tag already consumed); returns the message
 * with empty data, and the announced data length.
 */
export function readInstallSnapshotHead(r: WireReader): { head: InstallSnapshot; dataLength: number } {
  const { from, to, term } = readHead(r);
  const index = r.varUint('snapshot.index');
  const snapTerm = r.varUint('snapshot.term');
  const voterCount = r.count('voter count', MIN_STRING_BYTES);
  const voters: NodeId[] = [];
  for (let i = 0; i < voterCount; i++) voters.push(r.string('voter'));
  const dataLength = r.varUint('snapshot data length');
  const head: InstallSnapshot = {
    type: 'InstallSnapshot',
    from,
    to,
    term,
    snapshot: { meta: { index, term: snapTerm, membership: { voters } }, data: new Uint8Array(0) },
  };
  return { head, dataLength };
}

function readEntries(r: WireReader): Entry[] {
  const count = r.count('entry count', MIN_ENTRY_BYTES);
  const entries: Entry[] = [];
  for (let i = 0; i < count; i++) {
    const term = r.varUint('entry.term');
    const index = r.varUint('entry.index');
    const kind = r.u8('entry.kind');
    const type = ENTRY_TYPES[kind];
    if (type === undefined) r.fail(`unknown entry kind ${kind}`);
    const data = r.bytes('entry.data');
    entries.push({ term, index, type, data });
  }
  return entries;
}

/** Decodes the body of a message whose tag byte has already been read from `r`. */
export function readMessageBody(r: WireReader, tag: number): Message {
  switch (tag) {
    case 1: {
      const h = readHead(r);
      const lastLogIndex = r.varUint('lastLogIndex');
      const lastLogTerm = r.varUint('lastLogTerm');
      const transfer = r.bool('transfer');
      return { type: 'RequestVote', ...h, lastLogIndex, lastLogTerm, transfer };
    }
    case 2:
      return { type: 'RequestVoteResponse', ...readHead(r), granted: r.bool('granted') };
    case 3: {
      const h = readHead(r);
      const lastLogIndex = r.varUint('lastLogIndex');
      const lastLogTerm = r.varUint('lastLogTerm');
      return { type: 'PreVote', ...h, lastLogIndex, lastLogTerm };
    }
    case 4:
      return { type: 'PreVoteResponse', ...readHead(r), granted: r.bool('granted') };
    case 5: {
      const h = readHead(r);
      const prevLogIndex = r.varUint('prevLogIndex');
      const prevLogTerm = r.varUint('prevLogTerm');
      const leaderCommit = r.varUint('leaderCommit');
      const entries = readEntries(r);
      const m: AppendEntries = {
        type: 'AppendEntries',
        ...h,
        prevLogIndex,
        prevLogTerm,
        entries,
        leaderCommit,
      };
      return m;
    }
    case 6: {
      const h = readHead(r);
      const success = r.bool('success');
      const matchIndex = r.varUint('matchIndex');
      const rejectedIndex = r.varUint('rejectedIndex');
      const hintIndex = r.varUint('hintIndex');
      const hintTerm = r.varUint('hintTerm');
      return { type: 'AppendEntriesResponse', ...h, success, matchIndex, rejectedIndex, hintIndex, hintTerm };
    }
    case 7: {
      const h = readHead(r);
      const commit = r.varUint('commit');
      const readRound = r.varUint('readRound');
      return { type: 'Heartbeat', ...h, commit, readRound };
    }
    case 8:
      return { type: 'HeartbeatResponse', ...readHead(r), readRound: r.varUint('readRound') };
    case 9: {
      const { head, dataLength } = readInstallSnapshotHead(r);
      const data = r.raw(dataLength, 'snapshot data');
      return { ...head, snapshot: { meta: head.snapshot.meta, data } };
    }
    case 10:
      return { type: 'TimeoutNow', ...readHead(r) };
    case 11:
      return { type: 'ReadIndexRequest', ...readHead(r), context: r.string('context') };
    case 12: {
      const h = readHead(r);
      const context = r.string('context');
      const readIndex = r.varUint('readIndex');
      return { type: 'ReadIndexResponse', ...h, context, readIndex };
    }
    default:
      return r.fail(`unknown message tag ${tag}`);
  }
}

/** Decodes one whole message; throws CodecError on anything malformed, truncated or trailing. */
export function decodeMessage(bytes: Uint8Array): Message {
  const r = new WireReader(bytes, 'message');
  const tag = r.u8('tag');
  const m = readMessageBody(r, tag);
  r.end();
  return m;
}
