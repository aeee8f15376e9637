// Frames the transport exchanges besides Raft messages. A frame's first payload byte is its tag:
// 1..13 are messages (codec.ts), the tags below are the transport's own.
//
//   0x40 Hello          version:uint clusterId:str from:str to:str
//                       pingIntervalMs:uint livenessTimeoutMs:uint    (client → server, first frame)
//   0x41 HelloAccept    nodeId:str                                      (server → client)
//   0x42 HelloReject    reason:str                                      (server → client, then close)
//   0x43 SnapshotBegin  <InstallSnapshot without its data bytes>        (data length announced)
//   0x44 SnapshotChunk  raw data bytes                                  (until the length is reached)
//   0x45 Ping           (no body)                                       (client → server)
//   0x46 Pong           (no body)                                       (server → client)
//   0x47 ForwardProposal requestId:uint data:bytes                      (version 4; follower → leader)
//   0x48 ForwardAppended requestId:uint index:uint term:uint            (version 4; leader → follower)
//   0x49 ForwardRefused  requestId:uint code:str message:str definite:bool
//                                                                       (version 4; leader → follower)
//
// A snapshot larger than one frame travels as SnapshotBegin followed by SnapshotChunks on the
// same connection; other messages may be interleaved between the chunks, so heartbeats are not
// stuck behind a multi-MiB transfer.
//
// Liveness (protocol version 2). A partition drops packets without closing connections, and TCP
// resumes a stalled connection only at its next retransmission, up to minutes later; so each
// connection proves itself alive at the application level. The connecting side announces its
// ping interval and liveness timeout in the Hello (livenessTimeoutMs 0: no checks) and sends a
// Ping every interval. The accepting side answers each Ping with a Pong at once, and on each
// interval in which it received bytes but sent no Pong it sends an unsolicited Pong, so that a
// Ping queued behind megabytes of snapshot on a slow link does not make a connection that is
// moving data look dead. Either side closes the connection once it has received nothing for the
// timeout (counted in intervals of its own event loop, see liveness.ts); the connecting side
// then reconnects, and a fresh connection works as soon as the network does.
//
// Forwarding (protocol version 4). A follower that takes a client's write hands the proposal to
// the leader (ForwardProposal, the kv command's bytes); the leader appends it to its log and
// answers with the (index, term) it got (ForwardAppended), or says why it did not append it
// (ForwardRefused: a code such as not_leader or busy; definite: certainly not appended). The
// follower then waits until it has applied that entry itself and answers its client from its own
// state machine. Like every frame they travel from the connecting side: the proposal on the
// follower's connection to the leader, the answer on the leader's connection to the follower, in
// order with the AppendEntries that carry the entry, so the answer arrives before the entry does.
// requestId is the follower's own number for the proposal, echoed in the answer.
//
// Versions: the Hello's version comes first, followed by fields every version has had (cluster
// and node ids), so a node can refuse a Hello of another version with a clear HelloReject. Version
// 1 had no liveness fields and no Ping/Pong; version 3 sends a snapshot's whole membership
// (codec/snapshot-meta.ts, metadata version 2); version 4 is version 3 and the forwarding frames.
// A node accepts Hellos of versions 3 and 4; it offers 4, and when a peer refuses that version
// (a node of the release before) it connects again offering 3 (outbound-peer.ts). The forwarding
// frames go only over connections that agreed on version 4; on a version 3 connection they are a
// protocol error.

import { ByteReader, type ByteWriter, checkedVaruintSize, stringSize } from '../codec/index.js';
import type { InstallSnapshot, Message, NodeId } from '../raft/types.js';
import {
  FIRST_MESSAGE_TAG,
  installSnapshotHeadSize,
  LAST_MESSAGE_TAG,
  readInstallSnapshotHead,
  readMessageBody,
  writeInstallSnapshotHead,
} from './codec.js';
import { encodeFrame, FRAME_HEADER_BYTES } from './framing.js';

/** The newest protocol version: what a node offers in its Hellos. */
export const PROTOCOL_VERSION = 4;
/** The oldest version still accepted (and offered to a peer that refuses the newest). */
export const MIN_PROTOCOL_VERSION = 3;
/** The first version with the forwarding frames. */
export const FORWARDING_VERSION = 4;

export const CONTROL_TAGS = {
  Hello: 0x40,
  HelloAccept: 0x41,
  HelloReject: 0x42,
  SnapshotBegin: 0x43,
  SnapshotChunk: 0x44,
  Ping: 0x45,
  Pong: 0x46,
  ForwardProposal: 0x47,
  ForwardAppended: 0x48,
  ForwardRefused: 0x49,
} as const;

/** Handshake frames are tiny; before the handshake completes no bigger frame is accepted. */
export const MAX_HANDSHAKE_FRAME_BYTES = 4096;

export interface Hello {
  readonly version: number;
  readonly clusterId: string;
  readonly from: NodeId;
  readonly to: NodeId;
  /** How often the connecting side sends a Ping; absent when encoding: 0. */
  readonly pingIntervalMs?: number;
  /**
   * Silence after which either side gives the connection up; 0 (also when absent while encoding):
   * the connecting side sends no Pings and the accepting side does not check.
   */
  readonly livenessTimeoutMs?: number;
}

/** The frames of forwarding (version 4): a proposal handed to the leader, and its answers. */
export type ForwardFrame =
  | { readonly kind: 'forwardProposal'; readonly requestId: number; readonly data: Uint8Array }
  | {
      readonly kind: 'forwardAppended';
      readonly requestId: number;
      readonly index: number;
      readonly term: number;
    }
  | {
      readonly kind: 'forwardRefused';
      readonly requestId: number;
      readonly code: string;
      readonly message: string;
      /** True when the leader certainly did not append the proposal. */
      readonly definite: boolean;
    };

export type Frame =
  | { readonly kind: 'message'; readonly message: Message }
  | ForwardFrame
  | { readonly kind: 'hello'; readonly hello: Hello }
  | { readonly kind: 'helloAccept'; readonly nodeId: NodeId }
  | { readonly kind: 'helloReject'; readonly reason: string }
  | { readonly kind: 'snapshotBegin'; readonly head: InstallSnapshot; readonly dataLength: number }
  | { readonly kind: 'snapshotChunk'; readonly data: Uint8Array }
  | { readonly kind: 'ping' }
  | { readonly kind: 'pong' };

export function encodeHelloFrame(h: Hello): Buffer {
  const hello: Required<Hello> = { pingIntervalMs: 0, livenessTimeoutMs: 0, ...h };
  const size =
    1 +
    checkedVaruintSize(hello.version, 'version') +
    stringSize(hello.clusterId, 'clusterId') +
    stringSize(hello.from, 'from') +
    stringSize(hello.to, 'to') +
    checkedVaruintSize(hello.pingIntervalMs, 'pingIntervalMs') +
    checkedVaruintSize(hello.livenessTimeoutMs, 'livenessTimeoutMs');
  return encodeFrame(size, writeHello, hello);
}

function writeHello(w: ByteWriter, h: Required<Hello>): void {
  w.u8(CONTROL_TAGS.Hello);
  w.varuint(h.version);
  w.string(h.clusterId);
  w.string(h.from);
  w.string(h.to);
  w.varuint(h.pingIntervalMs);
  w.varuint(h.livenessTimeoutMs);
}

/** A frame of a tag and one string. */
function tagAndString(tag: number, s: string, field: string): Buffer {
  return encodeFrame(1 + stringSize(s, field), (w) => {
    w.u8(tag);
    w.string(s);
  });
}

function bodilessFrame(tag: number): Buffer {
  return encodeFrame(1, (w) => w.u8(tag));
}

/** The Ping frame. Shared and never written to: a socket may be handed the same buffer repeatedly. */
export const PING_FRAME: Buffer = bodilessFrame(CONTROL_TAGS.Ping);
/** The Pong frame, shared like PING_FRAME. */
export const PONG_FRAME: Buffer = bodilessFrame(CONTROL_TAGS.Pong);

export function encodeHelloAcceptFrame(nodeId: NodeId): Buffer {
  return tagAndString(CONTROL_TAGS.HelloAccept, nodeId, 'nodeId');
}

export function encodeHelloRejectFrame(reason: string): Buffer {
  return tagAndString(CONTROL_TAGS.HelloReject, reason, 'reason');
}

/** The frame announcing a chunked snapshot: everything but the data bytes. */
export function encodeSnapshotBeginFrame(m: InstallSnapshot): Buffer {
  return encodeFrame(installSnapshotHeadSize(m), (w) =>
    writeInstallSnapshotHead(w, CONTROL_TAGS.SnapshotBegin, m),
  );
}

/**
 * The header (length + tag) of a chunk frame carrying `dataLength` bytes. The data itself is
 * written to the socket separately, straight from the snapshot, so it is never copied on send.
 */
export function encodeSnapshotChunkHeader(dataLength: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1);
  header.writeUInt32BE(1 + dataLength, 0);
  header[FRAME_HEADER_BYTES] = CONTROL_TAGS.SnapshotChunk;
  return header;
}

/** The frame carrying a forwarding frame; throws CodecError for a value the wire cannot carry. */
export function encodeForwardFrame(f: ForwardFrame): Buffer {
  switch (f.kind) {
    case 'forwardProposal': {
      const size =
        1 +
        checkedVaruintSize(f.requestId, 'requestId') +
        checkedVaruintSize(f.data.length, 'data length') +
        f.data.length;
      return encodeFrame(size, (w) => {
        w.u8(CONTROL_TAGS.ForwardProposal);
        w.varuint(f.requestId);
        w.bytes(f.data);
      });
    }
    case 'forwardAppended': {
      const size =
        1 +
        checkedVaruintSize(f.requestId, 'requestId') +
        checkedVaruintSize(f.index, 'index') +
        checkedVaruintSize(f.term, 'term');
      return encodeFrame(size, (w) => {
        w.u8(CONTROL_TAGS.ForwardAppended);
        w.varuint(f.requestId);
        w.varuint(f.index);
        w.varuint(f.term);
      });
    }
    case 'forwardRefused': {
      const size =
        1 +
        checkedVaruintSize(f.requestId, 'requestId') +
        stringSize(f.code, 'code') +
        stringSize(f.message, 'message') +
        1;
      return encodeFrame(size, (w) => {
        w.u8(CONTROL_TAGS.ForwardRefused);
        w.varuint(f.requestId);
        w.string(f.code);
        w.string(f.message);
        w.bool(f.definite);
      });
    }
  }
}

/** Whether an encoded frame (header included) is one of the forwarding frames. */
export function isForwardFrame(frame: Uint8Array): boolean {
  const tag = frame[FRAME_HEADER_BYTES];
  return (
    tag === CONTROL_TAGS.ForwardProposal ||
    tag === CONTROL_TAGS.ForwardAppended ||
    tag === CONTROL_TAGS.ForwardRefused
  );
}

/** Whether an encoded frame (header included) is a ForwardProposal. */
export function isForwardProposalFrame(frame: Uint8Array): boolean {
  return frame[FRAME_HEADER_BYTES] === CONTROL_TAGS.ForwardProposal;
}

/** Whether this node can speak `version` with a peer, given the newest it speaks. */
export function speaksVersion(version: number, newest: number): boolean {
  return version >= MIN_PROTOCOL_VERSION && version <= newest;
}

/** Decodes any frame payload; throws CodecError if it is malformed. */
export function decodeFrame(payload: Uint8Array): Frame {
  const r = new ByteReader(payload, 'frame');
  const tag = r.u8('tag');
  if (tag >= FIRST_MESSAGE_TAG && tag <= LAST_MESSAGE_TAG) {
    const message = readMessageBody(r, tag);
    r.end();
    return { kind: 'message', message };
  }
  let frame: Frame;
  switch (tag) {
    case CONTROL_TAGS.Hello: {
      const version = r.varuint('version');
      const clusterId = r.string('clusterId');
      const from = r.string('from');
      const to = r.string('to');
      if (!speaksVersion(version, PROTOCOL_VERSION)) {
        // Another version's fields after these are unknown; the receiver refuses the Hello anyway,
        // and needs only the version to say why.
        r.raw(r.remaining, 'other version fields');
        frame = { kind: 'hello', hello: { version, clusterId, from, to } };
        break;
      }
      const pingIntervalMs = r.varuint('pingIntervalMs');
      const livenessTimeoutMs = r.varuint('livenessTimeoutMs');
      frame = { kind: 'hello', hello: { version, clusterId, from, to, pingIntervalMs, livenessTimeoutMs } };
      break;
    }
    case CONTROL_TAGS.HelloAccept:
      frame = { kind: 'helloAccept', nodeId: r.string('nodeId') };
      break;
    case CONTROL_TAGS.HelloReject:
      frame = { kind: 'helloReject', reason: r.string('reason') };
      break;
    case CONTROL_TAGS.SnapshotBegin: {
      const { head, dataLength } = readInstallSnapshotHead(r);
      frame = { kind: 'snapshotBegin', head, dataLength };
      break;
    }
    case CONTROL_TAGS.SnapshotChunk:
      frame = { kind: 'snapshotChunk', data: r.raw(r.remaining, 'chunk data') };
      break;
    case CONTROL_TAGS.Ping:
      frame = { kind: 'ping' };
      break;
    case CONTROL_TAGS.Pong:
      frame = { kind: 'pong' };
      break;
    case CONTROL_TAGS.ForwardProposal: {
      const requestId = r.varuint('requestId');
      frame = { kind: 'forwardProposal', requestId, data: r.bytes('data') };
      break;
    }
    case CONTROL_TAGS.ForwardAppended: {
      const requestId = r.varuint('requestId');
      const index = r.varuint('index');
      frame = { kind: 'forwardAppended', requestId, index, term: r.varuint('term') };
      break;
    }
    case CONTROL_TAGS.ForwardRefused: {
      const requestId = r.varuint('requestId');
      const code = r.string('code');
      const message = r.string('message');
      frame = { kind: 'forwardRefused', requestId, code, message, definite: r.bool('definite') };
      break;
    }
    default:
      return r.fail(`unknown frame tag ${tag}`, 0);
  }
  r.end();
  return frame;
}
