// Goal: a network partition that leaves peer connections open but stalled does not stall traffic
// after it heals. The connecting side pings; a connection that stops answering is given up within
// the liveness timeout and re-established, and the fresh connection carries messages as soon as
// the network is back. The accepting side closes a connection on which nothing arrives. A quiet
// connection whose pings are answered stays up, and so does one that is busy moving a large
// transfer over a slow link even though its pings wait behind the transfer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { heldSnapshot, initialMembership } from '../../src/raft/index.js';
import type { Heartbeat, InstallSnapshot } from '../../src/raft/types.js';
import {
  CONTROL_TAGS,
  decodeFrame,
  encodeHelloFrame,
  MIN_PROTOCOL_VERSION,
  PING_FRAME,
  PONG_FRAME,
  PROTOCOL_VERSION,
} from '../../src/transport/control-frames.js';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import type { TransportEvent } from '../../src/transport/types.js';
import { waitFor, within } from '../support/wait.js';
import { HOST, heartbeat, listeningTransport, portOf, rawClient, record } from './helpers.js';
import { partitionProxy } from './partition-proxy.js';

const CLUSTER = 'liveness';
const PING_MS = 50;
const TIMEOUT_MS = 300;
const liveness = { pingIntervalMs: PING_MS, livenessTimeoutMs: TIMEOUT_MS };

function types(events: readonly TransportEvent[]): string[] {
  return events.map((e) => e.type);
}

function seqs(messages: readonly unknown[]): number[] {
  return messages.map((m) => (m as Heartbeat).readRound);
}

/** b listening, a sending to b through a proxy; both with the test's short liveness settings. */
async function throughProxy(proxyOptions: Parameters<typeof partitionProxy>[1] = {}) {
  const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, ...liveness });
  const proxy = await partitionProxy(portOf(b), proxyOptions);
  const a = await listeningTransport({
    nodeId: 'a',
    clusterId: CLUSTER,
    peers: { b: { host: HOST, port: proxy.port } },
    // Connection attempts into the partition hang; give each up quickly.
    connectTimeoutMs: TIMEOUT_MS,
    ...liveness,
  });
  const stop = async () => {
    await Promise.all([a.stop(), b.stop()]);
    await within('the proxy closed', proxy.close());
  };
  return { a, b, proxy, stop };
}

describe('connection liveness', () => {
  it('gives up a connection a partition stalled, and delivers over a new one once it heals', async () => {
    const { a, b, proxy, stop } = await throughProxy();
    const aLog = record(a);
    const bLog = record(b);
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('a message before the partition', () => bLog.messages.length === 1);

      proxy.partition();
      const cutAt = Date.now();
      a.send(heartbeat('a', 'b', 2));
      await waitFor('the stalled connection given up', () => types(aLog.events).includes('peerUnreachable'), {
        timeoutMs: TIMEOUT_MS + 2000,
      });
      const detectedAfterMs = Date.now() - cutAt;
      const unreachable = aLog.events.find((e) => e.type === 'peerUnreachable');
      assert.ok(unreachable?.type === 'peerUnreachable');
      const reported = /^no answer to pings for (\d+) ms$/.exec(unreachable.reason);
      assert.ok(reported !== null, `reason: ${unreachable.reason}`);
      // Never before the timeout (less one interval of timer granularity).
      assert.ok(Number(reported[1]) >= TIMEOUT_MS - PING_MS, `reported ${reported[1]} ms`);
      assert.ok(detectedAfterMs >= TIMEOUT_MS - PING_MS, `detected after ${detectedAfterMs} ms`);
      assert.equal(a.peerStats('b')?.livenessTimeouts, 1);
      assert.equal(a.peerStats('b')?.connected, false);

      // The peer's end of the stalled connection, still open through the proxy, is closed too.
      await waitFor('the inbound end closed', () => b.stats().inboundConnections === 0, {
        timeoutMs: TIMEOUT_MS + 2000,
      });
      const timedOut = bLog.events.find((e) => e.type === 'inboundTimedOut');
      assert.ok(timedOut?.type === 'inboundTimedOut' && timedOut.peer === 'a');
      assert.ok(timedOut.silentMs >= TIMEOUT_MS - PING_MS, `inbound silent for ${timedOut.silentMs} ms`);

      // Attempts into the partition fail; none gets through.
      await waitFor('reconnect attempts failing', () => (a.peerStats('b')?.connectFailures ?? 0) >= 2);
      assert.equal(bLog.messages.length, 1);

      proxy.heal();
      const healedAt = Date.now();
      a.send(heartbeat('a', 'b', 3));
      // Bounded by the connect timeout of an attempt under way plus one backoff delay.
      await waitFor('delivery after the heal', () => seqs(bLog.messages).includes(3), {
        timeoutMs: TIMEOUT_MS + 2000,
      });
      const deliveredAfterMs = Date.now() - healedAt;
      assert.ok(deliveredAfterMs < TIMEOUT_MS + 1000, `delivered ${deliveredAfterMs} ms after the heal`);
      assert.deepStrictEqual(types(aLog.events), ['peerConnected', 'peerUnreachable', 'peerReconnected']);
      assert.equal(a.peerStats('b')?.reconnects, 1);
      // Over a new connection: the peer accepted a second one.
      assert.equal(bLog.events.filter((e) => e.type === 'inboundAccepted').length, 2);
      assert.equal(b.stats().inboundConnections, 1);
    } finally {
      await stop();
    }
  });

  it('keeps a quiet connection up while its pings are answered', async () => {
    const { a, b, proxy, stop } = await throughProxy();
    const aLog = record(a);
    const bLog = record(b);
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('the first message', () => bLog.messages.length === 1);
      // Five timeouts' worth of pings with no Raft traffic at all.
      const pongs = () => proxy.fromPeer.get(CONTROL_TAGS.Pong) ?? 0;
      await waitFor('pings answered for five timeouts', () => pongs() >= (5 * TIMEOUT_MS) / PING_MS);
      assert.ok((proxy.toPeer.get(CONTROL_TAGS.Ping) ?? 0) >= (5 * TIMEOUT_MS) / PING_MS - 2);
      a.send(heartbeat('a', 'b', 2));
      await waitFor('a message after the quiet spell', () => bLog.messages.length === 2);

      assert.deepStrictEqual(types(aLog.events), ['peerConnected']);
      assert.deepStrictEqual(types(bLog.events), ['inboundAccepted']);
      assert.equal(a.peerStats('b')?.livenessTimeouts, 0);
      assert.equal(a.peerStats('b')?.reconnects, 0);
      assert.equal(proxy.accepted(), 1);
    } finally {
      await stop();
    }
  });

  it('keeps up a connection busy with a transfer on which pings wait longer than the timeout', async () => {
    // About 6.5 MB/s: the 8 MiB snapshot takes some 1.3 s, over four timeouts, to cross, and
    // every Ping sent meanwhile queues behind the rest of it.
    const { a, b, proxy, stop } = await throughProxy({
      bytesPerTick: 64 * 1024,
      tickMs: 10,
    });
    const aLog = record(a);
    const bLog = record(b);
    try {
      const data = new Uint8Array(8 * 1024 * 1024).map((_, i) => i * 7);
      const snapshot: InstallSnapshot = {
        type: 'InstallSnapshot',
        from: 'a',
        to: 'b',
        term: 2,
        snapshot: { meta: { index: 10, term: 2, membership: initialMembership(['a', 'b']) }, data },
      };
      a.send(snapshot);
      await waitFor('the snapshot', () => bLog.messages.length === 1, { timeoutMs: 10_000 });
      const received = bLog.messages[0]!;
      assert.ok(received.type === 'InstallSnapshot');
      assert.ok(Buffer.from(heldSnapshot(received.snapshot).data).equals(data));
      assert.ok(proxy.maxPingDelayMs() > TIMEOUT_MS, `pings waited at most ${proxy.maxPingDelayMs()} ms`);
      assert.deepStrictEqual(types(aLog.events), ['peerConnected']);
      assert.equal(a.peerStats('b')?.livenessTimeouts, 0);
      assert.equal(proxy.accepted(), 1);
    } finally {
      await stop();
    }
  });

  it('answers Pings, and closes an inbound connection on which nothing arrives', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    try {
      const client = rawClient(portOf(b));
      const hello = { version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'p', to: 'b', ...liveness };
      client.socket.write(Buffer.concat([encodeHelloFrame(hello), PING_FRAME, PING_FRAME]));
      await waitFor('the handshake answer and two Pongs', () => client.frames.length === 3);
      assert.deepStrictEqual(
        client.frames.map((f) => f.kind),
        ['helloAccept', 'pong', 'pong'],
      );
      const openedAt = Date.now();
      await within('the silent connection closed', client.closed, { timeoutMs: TIMEOUT_MS + 2000 });
      assert.ok(Date.now() - openedAt >= TIMEOUT_MS - PING_MS);
      const timedOut = bLog.events.find((e) => e.type === 'inboundTimedOut');
      assert.ok(timedOut?.type === 'inboundTimedOut' && timedOut.peer === 'p');
      await waitFor('the connection forgotten', () => b.stats().inboundConnections === 0);
    } finally {
      await b.stop();
    }
  });

  it('refuses a Hello of another protocol version, or with unusable liveness settings', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    const bLog = record(b);
    try {
      const old = rawClient(portOf(b));
      // Version 1's Hello: no liveness fields.
      const v1 = Buffer.from([0, 0, 0, 0, CONTROL_TAGS.Hello, 1, ...lp(CLUSTER), ...lp('p'), ...lp('b')]);
      v1.writeUInt32BE(v1.length - 4, 0);
      old.socket.write(v1);
      await within('the old client refused', old.closed);
      const oldAnswer = old.frames[0];
      assert.ok(oldAnswer?.kind === 'helloReject');
      assert.equal(
        oldAnswer.reason,
        `unsupported protocol version 1 (this node speaks ${MIN_PROTOCOL_VERSION} to ${PROTOCOL_VERSION})`,
      );

      const odd = rawClient(portOf(b));
      const hello = { version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'p', to: 'b' };
      odd.socket.write(encodeHelloFrame({ ...hello, pingIntervalMs: 500, livenessTimeoutMs: 500 }));
      await within('the client with unusable settings refused', odd.closed);
      const oddAnswer = odd.frames[0];
      assert.ok(oddAnswer?.kind === 'helloReject');
      assert.match(oddAnswer.reason, /^unusable liveness settings: ping interval 500 ms/);
      assert.equal(bLog.events.filter((e) => e.type === 'inboundRejected').length, 2);
    } finally {
      await b.stop();
    }
  });

  it('encodes the liveness frames and settings, and checks the settings it is given', () => {
    const hello = { version: PROTOCOL_VERSION, clusterId: 'c', from: 'x', to: 'y', ...liveness };
    const decoded = decodeFrame(encodeHelloFrame(hello).subarray(4));
    assert.deepStrictEqual(decoded, { kind: 'hello', hello });
    assert.deepStrictEqual(decodeFrame(PING_FRAME.subarray(4)), { kind: 'ping' });
    assert.deepStrictEqual(decodeFrame(PONG_FRAME.subarray(4)), { kind: 'pong' });

    const make = (o: { livenessTimeoutMs?: number; pingIntervalMs?: number }) =>
      new PeerTransport({ nodeId: 'a', clusterId: 'c', ...o });
    assert.throws(() => make({ livenessTimeoutMs: 100, pingIntervalMs: 100 }), RangeError);
    assert.throws(() => make({ livenessTimeoutMs: 1.5 }), RangeError);
    assert.throws(() => make({ livenessTimeoutMs: 2 ** 31 }), RangeError);
    assert.throws(() => make({ livenessTimeoutMs: -1 }), RangeError);
    make({ livenessTimeoutMs: 0 });
    make({ livenessTimeoutMs: 2 });
    make({});
  });
});

/** A string as the wire writes it: varint length, then its bytes (short ASCII here). */
function lp(s: string): number[] {
  return [s.length, ...Buffer.from(s, 'latin1')];
}
