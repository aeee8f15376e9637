// Goal: connections come and go without losing the transport: a peer that is down is reported
// once and reached as soon as it comes up, a restarted peer is reconnected, a node of another
// cluster (or a misaddressed node) is refused at the handshake, and a peer that breaks the
// protocol loses only its own connection.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AppendEntries, Heartbeat } from '../../src/raft/types.js';
import {
  encodeHelloFrame,
  MAX_HANDSHAKE_FRAME_BYTES,
  PROTOCOL_VERSION,
} from '../../src/transport/control-frames.js';
import { encodeMessageFrame } from '../../src/transport/framing.js';
import type { TransportEvent } from '../../src/transport/types.js';
import { waitFor, within } from '../support/wait.js';
import {
  assertServesWellBehavedPeer,
  freePort,
  HOST,
  heartbeat,
  listeningTransport,
  portOf,
  rawClient,
  record,
} from './helpers.js';

const CLUSTER = 'lifecycle';

function types(events: readonly TransportEvent[]): string[] {
  return events.map((e) => e.type);
}

function seqs(messages: readonly unknown[]): number[] {
  return messages.map((m) => (m as Heartbeat).readRound);
}

describe('peer lifecycle', () => {
  it('reaches a peer that was down once it comes up, delivering what was queued', async () => {
    const port = await freePort();
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port } },
    });
    const aLog = record(a);
    let b: Awaited<ReturnType<typeof listeningTransport>> | null = null;
    try {
      for (let i = 0; i < 10; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('several refused attempts', () => (a.peerStats('b')?.connectFailures ?? 0) >= 3);
      assert.deepStrictEqual(types(aLog.events), ['peerUnreachable']);

      b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, port });
      const bLog = record(b);
      await waitFor('queued messages after the peer came up', () => bLog.messages.length === 10);
      for (let i = 10; i < 20; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('messages sent after reconnecting', () => bLog.messages.length === 20);
      assert.deepStrictEqual(
        seqs(bLog.messages),
        Array.from({ length: 20 }, (_, i) => i),
      );
      assert.deepStrictEqual(types(aLog.events), ['peerUnreachable', 'peerReconnected']);
      assert.equal(a.peerStats('b')?.reconnects, 1);
      assert.equal(a.peerStats('b')?.dropped, 0);
    } finally {
      await Promise.all([a.stop(), b?.stop()]);
    }
  });

  it('reconnects to a peer that restarts on the same port', async () => {
    const a = await listeningTransport({ nodeId: 'a', clusterId: CLUSTER });
    let b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const port = portOf(b);
    a.setPeer('b', { host: HOST, port });
    const aLog = record(a);
    try {
      let bLog = record(b);
      a.send(heartbeat('a', 'b', 1));
      await waitFor('first message', () => bLog.messages.length === 1);
      await b.stop();
      await waitFor('loss noticed', () => types(aLog.events).includes('peerUnreachable'));

      b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, port });
      bLog = record(b);
      a.send(heartbeat('a', 'b', 2));
      await waitFor('message to the restarted peer', () => bLog.messages.length === 1);
      assert.deepStrictEqual(seqs(bLog.messages), [2]);
      assert.deepStrictEqual(types(aLog.events), ['peerConnected', 'peerUnreachable', 'peerReconnected']);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('follows a peer to a new address, and forgets a removed peer', async () => {
    const a = await listeningTransport({ nodeId: 'a', clusterId: CLUSTER });
    const old = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const moved = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const oldLog = record(old);
    const movedLog = record(moved);
    try {
      a.setPeer('b', { host: HOST, port: portOf(old) });
      a.send(heartbeat('a', 'b', 1));
      await waitFor('message at the old address', () => oldLog.messages.length === 1);
      a.setPeer('b', { host: HOST, port: portOf(moved) });
      a.send(heartbeat('a', 'b', 2));
      await waitFor('message at the new address', () => movedLog.messages.length === 1);
      assert.deepStrictEqual(seqs(movedLog.messages), [2]);
      assert.equal(oldLog.messages.length, 1);

      await a.removePeer('b');
      assert.equal(a.send(heartbeat('a', 'b', 3)), false);
      assert.equal(a.peerStats('b'), undefined);
      await waitFor(
        'the connection to the removed peer closed',
        () => moved.stats().inboundConnections === 0,
      );
    } finally {
      await Promise.all([a.stop(), old.stop(), moved.stop()]);
    }
  });

  it('refuses a node of another cluster at the handshake, on both sides, once per outage', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: 'beta' });
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: 'alpha',
      peers: { b: { host: HOST, port: portOf(b) } },
    });
    const aLog = record(a);
    const bLog = record(b);
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('repeated rejections', () => (a.peerStats('b')?.connectFailures ?? 0) >= 3);
      assert.deepStrictEqual(types(aLog.events), ['peerUnreachable']);
      const unreachable = aLog.events[0] as Extract<TransportEvent, { type: 'peerUnreachable' }>;
      assert.match(unreachable.reason, /handshake rejected: cluster id mismatch.*"beta".*"alpha"/);
      const rejected = bLog.events.filter((e) => e.type === 'inboundRejected');
      assert.ok(rejected.length >= 3);
      assert.ok(rejected.every((e) => e.type === 'inboundRejected' && /cluster id mismatch/.test(e.reason)));
      assert.equal(bLog.messages.length, 0);
      assert.equal(a.peerStats('b')?.connected, false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('refuses a connection meant for another node id', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    // a believes n3 lives at b's address.
    const a = await listeningTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { n3: { host: HOST, port: portOf(b) } },
    });
    const aLog = record(a);
    try {
      a.send(heartbeat('a', 'n3', 1));
      await waitFor('the rejection', () => aLog.events.length > 0);
      const e = aLog.events[0]!;
      assert.ok(
        e.type === 'peerUnreachable' && /wrong node: this is "b", the peer wanted "n3"/.test(e.reason),
      );
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('closes only the connection that breaks the protocol', async () => {
    const b = await listeningTransport({
      nodeId: 'b',
      clusterId: CLUSTER,
      maxFrameBytes: 1024,
      handshakeTimeoutMs: 100,
    });
    const bLog = record(b);
    const port = portOf(b);
    const hello = (from: string) =>
      encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from, to: 'b' });
    try {
      // An HTTP request on the peer port: "GET " read as a frame length is far over the limit.
      const http = rawClient(port);
      http.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      await within('the HTTP probe closed', http.closed);

      // A frame over maxFrameBytes after a good handshake.
      const big = rawClient(port);
      big.socket.write(hello('p1'));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(4096);
      big.socket.write(header);
      await within('the oversized frame closed', big.closed);
      assert.equal(big.frames[0]?.kind, 'helloAccept');

      // A message claiming to come from another node than the one that shook hands.
      const spoof = rawClient(port);
      spoof.socket.write(Buffer.concat([hello('p2'), encodeMessageFrame(heartbeat('p3', 'b', 1))]));
      await within('the spoofing connection closed', spoof.closed);

      // Undecodable bytes inside a well-formed frame.
      const garbage = rawClient(port);
      garbage.socket.write(Buffer.concat([hello('p4'), Buffer.from([0, 0, 0, 2, 0xee, 0xee])]));
      await within('the garbage connection closed', garbage.closed);

      // Silence: no Hello before the handshake deadline.
      const silent = rawClient(port);
      await within('the silent connection closed', silent.closed);

      const reasons = bLog.events.flatMap((e) => (e.type === 'protocolError' ? [e.reason] : []));
      assert.equal(reasons.length, 5);
      assert.match(reasons[0]!, /exceeds the maximum of 4096 bytes/);
      assert.match(reasons[1]!, /frame of 4096 bytes exceeds the maximum of 1024 bytes/);
      assert.match(reasons[2]!, /misrouted Heartbeat from "p3"/);
      assert.match(reasons[3]!, /unknown frame tag 238/);
      assert.match(reasons[4]!, /no handshake within 100 ms/);
      assert.equal(bLog.messages.length, 0);

      // The transport still serves well-behaved peers.
      await assertServesWellBehavedPeer(CLUSTER, port, bLog);
    } finally {
      await b.stop();
    }
  });

  it('applies the full frame limit to frames that arrive in the same chunk as the Hello', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    const hello = encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'a', to: 'b' });
    const append: AppendEntries = {
      type: 'AppendEntries',
      from: 'a',
      to: 'b',
      term: 1,
      prevLogIndex: 0,
      prevLogTerm: 0,
      leaderCommit: 0,
      // Larger than the handshake's frame limit, well under the transport's.
      entries: [{ term: 1, index: 1, type: 'command', data: new Uint8Array(MAX_HANDSHAKE_FRAME_BYTES * 2) }],
    };
    try {
      const client = rawClient(portOf(b));
      client.socket.write(Buffer.concat([hello, encodeMessageFrame(append)]));
      await waitFor('the entries sent along with the Hello', () => bLog.messages.length === 1);
      assert.deepStrictEqual(bLog.messages[0], append);
      client.socket.destroy();
    } finally {
      await b.stop();
    }
  });

  it('replaces an older inbound connection from the same peer with its newer one', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    const hello = encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'a', to: 'b' });
    try {
      const first = rawClient(portOf(b));
      first.socket.write(hello);
      await waitFor('first handshake', () => first.frames.length === 1);
      const second = rawClient(portOf(b));
      second.socket.write(hello);
      await within('the older connection closed', first.closed);
      second.socket.write(encodeMessageFrame(heartbeat('a', 'b', 5)));
      await waitFor('message on the newer connection', () => bLog.messages.length === 1);
      assert.equal(b.stats().inboundConnections, 1);
      second.socket.destroy();
    } finally {
      await b.stop();
    }
  });
});
