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
// Versions: the Hello's version comes first, followed by fields every version has had (cluster
// and node ids), so a node can refuse a Hello of another version with a clear HelloReject. Version
// 1 had no liveness fields and no Ping/Pong; version 3 sends a snapshot's whole membership
// (codec/snapshot-meta.ts, metadata version 2). Both ends of a cluster must run the same version.

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

export const PROTOCOL_VERSION = 3;

export const CONTROL_TAGS = {
  Hello: 0x40,
  HelloAccept: 0x41,
  HelloReject: 0x42,
  SnapshotBegin: 0x43,
  SnapshotChunk: 0x44,
  Ping: 0x45,
  Pong: 0x46,
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

export type Frame =
  | { readonly kind: 'message'; readonly message: Message }
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
      if (version !== PROTOCOL_VERSION) {
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
    default:
      return r.fail(`unknown frame tag ${tag}`, 0);
  }
  r.end();
  return frame;
}
