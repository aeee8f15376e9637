// Goal: the peer wire stays byte-for-byte what it is: every message and control frame below, as
// protocol version 4 writes it. Version 3 is version 2 (the release before the shared byte codec
// wrote these same bytes) except for the two frames that carry a snapshot's metadata
// (InstallSnapshot, SnapshotBegin), which now carry the whole membership, and the Hello's version.
// Version 4 is version 3 byte for byte (its Hello is read with the same fields), plus the three
// forwarding frames. Today's code must produce exactly these bytes and decode them back.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { Message, MessageType } from '../../src/raft/types.js';
import { decodeMessage, encodeMessage } from '../../src/transport/codec.js';
import {
  decodeFrame,
  encodeForwardFrame,
  encodeHelloAcceptFrame,
  encodeHelloFrame,
  encodeHelloRejectFrame,
  encodeSnapshotBeginFrame,
  encodeSnapshotChunkHeader,
  type ForwardFrame,
  MIN_PROTOCOL_VERSION,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
} from '../../src/transport/control-frames.js';
import { encodeMessageFrame, FRAME_HEADER_BYTES } from '../../src/transport/framing.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);
const big = 2 ** 40 + 3;

/** One message of each type, with multi-byte varints, non-ASCII strings and binary data. */
const MESSAGES: { readonly [T in MessageType]: Extract<Message, { type: T }> } = {
  RequestVote: {
    type: 'RequestVote',
    from: 'n1',
    to: 'n2',
    term: 7,
    lastLogIndex: 300,
    lastLogTerm: 6,
    transfer: true,
  },
  RequestVoteResponse: { type: 'RequestVoteResponse', from: 'n2', to: 'n1', term: 7, granted: true },
  PreVote: { type: 'PreVote', from: 'né', to: 'n3', term: 128, lastLogIndex: big, lastLogTerm: 127 },
  PreVoteResponse: { type: 'PreVoteResponse', from: 'n3', to: 'né', term: 128, granted: false },
  AppendEntries: {
    type: 'AppendEntries',
    from: 'n1',
    to: 'n2',
    term: 3,
    prevLogIndex: 16383,
    prevLogTerm: 2,
    leaderCommit: 16384,
    entries: [
      { term: 3, index: 16384, type: 'noop', data: bytes() },
      { term: 3, index: 16385, type: 'command', data: bytes(1, 1, 1, 0x6b, 1, 0x76) },
      { term: big, index: 2 ** 53 - 1, type: 'command', data: bytes(0, 0xff, 0x80) },
    ],
  },
  AppendEntriesResponse: {
    type: 'AppendEntriesResponse',
    from: 'n2',
    to: 'n1',
    term: 3,
    success: false,
    matchIndex: 0,
    rejectedIndex: 16385,
    hintIndex: 200,
    hintTerm: 2,
  },
  Heartbeat: { type: 'Heartbeat', from: 'n1', to: 'n2', term: 3, leaderCommit: 16384, readRound: 9 },
  HeartbeatResponse: { type: 'HeartbeatResponse', from: 'n2', to: 'n1', term: 3, readRound: 9 },
  InstallSnapshot: {
    type: 'InstallSnapshot',
    from: 'n1',
    to: 'n4',
    term: 5,
    snapshot: {
      meta: { index: 1000, term: 4, membership: initialMembership(['n1', 'n2', 'n3', 'n4']) },
      data: bytes(0x52, 0x4b, 0x56, 0x53, 2, 0, 9),
    },
  },
  TimeoutNow: { type: 'TimeoutNow', from: 'n1', to: 'n2', term: 9 },
  ReadIndexRequest: { type: 'ReadIndexRequest', from: 'n2', to: 'n1', term: 9, context: 'read-42 ✓' },
  LeaseReadIndexRequest: {
    type: 'LeaseReadIndexRequest',
    from: 'n2',
    to: 'n1',
    term: 9,
    context: 'read-42 ✓',
  },
  ReadIndexResponse: {
    type: 'ReadIndexResponse',
    from: 'n1',
    to: 'n2',
    term: 9,
    context: 'read-42 ✓',
    readIndex: 777,
  },
};

/** The payload bytes (no frame header) that release encoded for each message. */
const MESSAGE_HEX: { readonly [T in MessageType]: string } = {
  RequestVote: '01026e31026e3207ac020601',
  RequestVoteResponse: '02026e32026e310701',
  PreVote: '03036ec3a9026e3380018380808080207f',
  PreVoteResponse: '04026e33036ec3a9800100',
  AppendEntries:
    '05026e31026e3203ff7f02808001030380800101000381800100060101016b0176838080808020ffffffffffffff0f000300ff80',
  AppendEntriesResponse: '06026e32026e31030000818001c80102',
  Heartbeat: '07026e31026e320380800109',
  HeartbeatResponse: '08026e32026e310309',
  InstallSnapshot:
    '09026e31026e3405e80704687b2276223a312c22766f74657273223a5b226e31222c226e32222c226e33222c226e34225d2c226f7574676f696e67566f74657273223a5b5d2c226c6561726e657273223a5b5d2c226175746f50726f6d6f7465223a5b5d2c22616464726573736573223a7b7d7d07524b5653020009',
  TimeoutNow: '0a026e31026e3209',
  ReadIndexRequest: '0b026e32026e31090b726561642d343220e29c93',
  ReadIndexResponse: '0c026e31026e32090b726561642d343220e29c938906',
  // Added after the release above: a new tag, so the older twelve keep their bytes.
  LeaseReadIndexRequest: '0d026e32026e31090b726561642d343220e29c93',
};

const hello = {
  version: PROTOCOL_VERSION,
  clusterId: 'cluster-✓',
  from: 'n1',
  to: 'n2',
  pingIntervalMs: 250,
  livenessTimeoutMs: 5000,
};

/** Whole frames (4-byte big-endian length, then the payload). */
const FRAME_HEX = {
  message: '0000000c07026e31026e320380800109',
  hello: '0000001840040b636c75737465722de29c93026e31026e32fa018827',
  helloAccept: '0000000441026e32',
  helloReject: '000000184216636c757374657220226122206973206e6f7420226222',
  snapshotBegin:
    '0000007543026e31026e3405e80704687b2276223a312c22766f74657273223a5b226e31222c226e32222c226e33222c226e34225d2c226f7574676f696e67566f74657273223a5b5d2c226c6561726e657273223a5b5d2c226175746f50726f6d6f7465223a5b5d2c22616464726573736573223a7b7d7d07',
  snapshotChunkHeader: '0000000844',
  ping: '0000000145',
  pong: '0000000146',
};

/** The Hello of version 3, as the release before wrote it: a node still reads it. */
const HELLO_V3_HEX = '0000001840030b636c75737465722de29c93026e31026e32fa018827';

/** The forwarding frames of version 4, whole. */
const FORWARD_FRAMES: readonly { readonly frame: ForwardFrame; readonly hex: string }[] = [
  {
    frame: { kind: 'forwardProposal', requestId: 300, data: bytes(1, 1, 1, 0x6b, 1, 0x76) },
    hex: '0000000a47ac02060101016b0176',
  },
  { frame: { kind: 'forwardProposal', requestId: 0, data: bytes() }, hex: '00000003470000' },
  {
    frame: { kind: 'forwardAppended', requestId: 300, index: big, term: 7 },
    hex: '0000000a48ac0283808080802007',
  },
  {
    frame: { kind: 'forwardRefused', requestId: 1, code: 'busy', message: 'too many ✓', definite: true },
    hex: '00000015490104627573790c746f6f206d616e7920e29c9301',
  },
  {
    frame: { kind: 'forwardRefused', requestId: 2 ** 53 - 1, code: '', message: '', definite: false },
    hex: '0000000c49ffffffffffffff0f000000',
  },
];

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h, 'hex'));

describe('wire bytes are those of protocol version 4', () => {
  it('speaks protocol version 4, and still 3', () => {
    assert.equal(PROTOCOL_VERSION, 4);
    assert.equal(MIN_PROTOCOL_VERSION, 3);
  });

  for (const [type, m] of Object.entries(MESSAGES) as [MessageType, Message][]) {
    it(`${type}: same bytes, and they decode back`, () => {
      const golden = unhex(MESSAGE_HEX[type]);
      assert.equal(hex(encodeMessage(m)), MESSAGE_HEX[type]);
      assert.deepStrictEqual(decodeMessage(golden), m);
      assert.deepStrictEqual(decodeFrame(golden), { kind: 'message', message: m });
    });
  }

  it('a message frame: big-endian length, then the message', () => {
    assert.equal(hex(encodeMessageFrame(MESSAGES.Heartbeat)), FRAME_HEX.message);
  });

  it('control frames: same bytes, and they decode back', () => {
    const payload = (h: string): Uint8Array => unhex(h).subarray(FRAME_HEADER_BYTES);
    assert.equal(hex(encodeHelloFrame(hello)), FRAME_HEX.hello);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.hello)), { kind: 'hello', hello });
    assert.equal(hex(encodeHelloAcceptFrame('n2')), FRAME_HEX.helloAccept);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.helloAccept)), {
      kind: 'helloAccept',
      nodeId: 'n2',
    });
    const reason = 'cluster "a" is not "b"';
    assert.equal(hex(encodeHelloRejectFrame(reason)), FRAME_HEX.helloReject);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.helloReject)), { kind: 'helloReject', reason });
    const m = MESSAGES.InstallSnapshot;
    assert.equal(hex(encodeSnapshotBeginFrame(m)), FRAME_HEX.snapshotBegin);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.snapshotBegin)), {
      kind: 'snapshotBegin',
      head: { ...m, snapshot: { meta: m.snapshot.meta, data: new Uint8Array(0) } },
      dataLength: m.snapshot.data.byteLength,
    });
    assert.equal(hex(encodeSnapshotChunkHeader(7)), FRAME_HEX.snapshotChunkHeader);
    assert.equal(hex(PING_FRAME), FRAME_HEX.ping);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.ping)), { kind: 'ping' });
    assert.equal(hex(PONG_FRAME), FRAME_HEX.pong);
    assert.deepStrictEqual(decodeFrame(payload(FRAME_HEX.pong)), { kind: 'pong' });
  });

  it("version 3's Hello: the same bytes but the version, and read with every field", () => {
    const v3 = { ...hello, version: 3 };
    assert.equal(hex(encodeHelloFrame(v3)), HELLO_V3_HEX);
    assert.deepStrictEqual(decodeFrame(unhex(HELLO_V3_HEX).subarray(FRAME_HEADER_BYTES)), {
      kind: 'hello',
      hello: v3,
    });
  });

  for (const { frame, hex: golden } of FORWARD_FRAMES) {
    it(`${frame.kind} (request ${frame.requestId}): same bytes, and they decode back`, () => {
      assert.equal(hex(encodeForwardFrame(frame)), golden);
      assert.deepStrictEqual(decodeFrame(unhex(golden).subarray(FRAME_HEADER_BYTES)), frame);
    });
  }
});
