// Goal: a peer that accepts the connection and then stops reading costs the sender a bounded
// amount of memory: the queue stays within its count and byte limits, the socket's own buffer is
// not filled past one batch, the oldest messages are dropped and counted, and the overflow is
// announced once. When the peer reads again it gets the surviving messages, in order.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import type { AppendEntries } from '../../src/raft/types.js';
import { decodeFrame, encodeHelloAcceptFrame } from '../../src/transport/control-frames.js';
import { FrameDecoder } from '../../src/transport/framing.js';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import { waitFor, within } from '../support/wait.js';
import { HOST, quickBackoff, record } from './helpers.js';

const MAX_QUEUE_MESSAGES = 2000;
const MAX_QUEUE_BYTES = 256 * 1024;
const MAX_BATCH_BYTES = 32 * 1024;
const PAYLOAD_BYTES = 1000;

function append(seq: number): AppendEntries {
  return {
    type: 'AppendEntries',
    from: 'a',
    to: 'slow',
    term: 1,
    prevLogIndex: seq,
    prevLogTerm: 1,
    leaderCommit: 0,
    entries: [{ term: 1, index: seq + 1, type: 'command', data: new Uint8Array(PAYLOAD_BYTES) }],
  };
}

/** A peer that completes the handshake, then reads nothing until `resume()`. */
async function stalledPeer(): Promise<{
  port: number;
  received: number[];
  resume: () => void;
  close: () => Promise<void>;
}> {
  const received: number[] = [];
  let socket: net.Socket | null = null;
  const server = net.createServer((s) => {
    socket = s;
    const decoder = new FrameDecoder(1 << 20);
    s.on('error', () => {});
    s.on('data', (chunk: Buffer) =>
      decoder.push(chunk, (payload) => {
        const frame = decodeFrame(payload);
        if (frame.kind === 'hello') {
          s.write(encodeHelloAcceptFrame('slow'));
          s.pause();
        } else if (frame.kind === 'message' && frame.message.type === 'AppendEntries') {
          received.push(frame.message.prevLogIndex);
        }
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    received,
    resume: () => socket?.resume(),
    close: async () => {
      const s = socket as net.Socket | null;
      s?.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('slow peer', () => {
  it('bounds the queue and drops the oldest messages while the peer does not read', async () => {
    const peer = await stalledPeer();
    const a = new PeerTransport({
      nodeId: 'a',
      clusterId: 'slow-test',
      peers: { slow: { host: HOST, port: peer.port } },
      maxQueueMessages: MAX_QUEUE_MESSAGES,
      maxQueueBytes: MAX_QUEUE_BYTES,
      maxBatchBytes: MAX_BATCH_BYTES,
      backoff: quickBackoff,
      // The stalled peer reads nothing, Pings included; it must not be given up as dead meanwhile.
      livenessTimeoutMs: 60_000,
    });
    await a.start();
    const { events } = record(a);
    let sent = 0;
    try {
      a.send(append(sent++));
      await waitFor('handshake', () => a.peerStats('slow')?.connected === true);
      // Keep sending, fewer bytes per event-loop turn than one batch, so that the only reason
      // to drop is the peer not reading: first the kernel's buffers fill, then the socket needs
      // to drain, then the queue overflows. The bounds must hold throughout.
      const perTurn = Math.floor(MAX_BATCH_BYTES / (PAYLOAD_BYTES + 100));
      const maxSends = 500_000;
      let sawBackpressure = false;
      while (a.peerStats('slow')!.dropped < 5000) {
        assert.ok(sent < maxSends, 'the stalled peer never pushed back');
        for (let i = 0; i < perTurn; i++) a.send(append(sent++));
        const s = a.peerStats('slow')!;
        assert.ok(s.queuedMessages <= MAX_QUEUE_MESSAGES, `queued ${s.queuedMessages} messages`);
        assert.ok(s.queuedBytes <= MAX_QUEUE_BYTES, `queued ${s.queuedBytes} bytes`);
        // One batch may sit in the socket's buffer beyond its high-water mark, never more.
        assert.ok(
          s.socketBufferedBytes <= MAX_BATCH_BYTES + 64 * 1024,
          `socket holds ${s.socketBufferedBytes} bytes`,
        );
        if (s.socketBufferedBytes > 0 && s.queuedBytes > MAX_QUEUE_BYTES / 2) sawBackpressure = true;
        await new Promise((resolve) => setImmediate(resolve));
      }
      assert.ok(sawBackpressure, 'drops came from the socket pushing back, not from sending too fast');
      assert.deepStrictEqual(
        events.filter((e) => e.type !== 'peerConnected').map((e) => e.type),
        ['peerQueueOverflow'],
      );

      peer.resume();
      await waitFor('the peer has read everything that survived', () => {
        const s = a.peerStats('slow')!;
        return s.queuedMessages === 0 && peer.received.length === s.sent;
      });
      const s = a.peerStats('slow')!;
      assert.equal(s.sent + s.dropped, sent);
      assert.ok(s.dropped >= 5000);
      const inOrder = peer.received.every((seq, i) => i === 0 || seq > peer.received[i - 1]!);
      assert.ok(inOrder, 'surviving messages arrive in the order they were sent');
      assert.equal(peer.received.at(-1), sent - 1, 'the newest message survives');
    } finally {
      await a.stop();
      await within('the fake peer closed', peer.close());
    }
  });
});
