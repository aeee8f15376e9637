// Goal: transports on 127.0.0.1 deliver thousands of messages between every pair of nodes, in
// order per connection and without loss while queues have room; send() never blocks or throws
// because of a peer's state; and stop() leaves no socket, server or timer behind.

import assert from 'node:assert/strict';
import * as net from 'node:net';
import { describe, it } from 'node:test';
import type { AppendEntries, Heartbeat, Message } from '../../src/raft/types.js';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import { waitFor } from '../support/wait.js';
import {
  freePort,
  HOST,
  heartbeat,
  listeningTransport,
  liveHandles,
  portOf,
  quickBackoff,
  record,
} from './helpers.js';

const CLUSTER = 'test-cluster';

async function cluster(ids: readonly string[]): Promise<PeerTransport[]> {
  const transports = await Promise.all(
    ids.map((nodeId) => listeningTransport({ nodeId, clusterId: CLUSTER })),
  );
  for (const t of transports) {
    for (const other of transports) t.setPeer(other.nodeId, { host: HOST, port: portOf(other) });
  }
  return transports;
}

describe('peer transport exchange', () => {
  it('delivers thousands of messages between three nodes, in order per sender', async () => {
    const ids = ['n1', 'n2', 'n3'];
    const nodes = await cluster(ids);
    const inboxes = nodes.map(record);
    const perPeer = 3000;
    try {
      // Bursts across several event-loop turns, as a node sends them Ready after Ready.
      for (let burst = 0; burst < 6; burst++) {
        for (let seq = burst * 500; seq < (burst + 1) * 500; seq++) {
          for (const from of nodes) {
            for (const to of ids) {
              if (to !== from.nodeId) assert.equal(from.send(heartbeat(from.nodeId, to, seq)), true);
            }
          }
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
      const expected = perPeer * (ids.length - 1);
      await waitFor('all heartbeats delivered', () => inboxes.every((i) => i.messages.length === expected));
      for (const [n, inbox] of inboxes.entries()) {
        for (const sender of ids) {
          if (sender === ids[n]) continue;
          const seqs = inbox.messages.filter((m) => m.from === sender).map((m) => (m as Heartbeat).readRound);
          assert.deepStrictEqual(
            seqs,
            Array.from({ length: perPeer }, (_, i) => i),
            `${sender} → ${ids[n]}`,
          );
        }
      }
      for (const t of nodes) {
        for (const s of t.stats().peers) {
          assert.equal(s.dropped, 0);
          assert.equal(s.sent, perPeer);
          assert.equal(s.connected, true);
        }
        assert.equal(t.stats().messagesReceived, expected);
      }
      const events = inboxes.flatMap((i) => i.events.map((e) => e.type));
      assert.equal(events.filter((e) => e === 'peerConnected').length, 6);
      assert.equal(events.filter((e) => e === 'inboundAccepted').length, 6);
      assert.deepStrictEqual(
        events.filter((e) => e !== 'peerConnected' && e !== 'inboundAccepted'),
        [],
      );
    } finally {
      await Promise.all(nodes.map((t) => t.stop()));
    }
  });

  it('carries AppendEntries with entry data intact', async () => {
    const [a, b] = await cluster(['a', 'b']);
    const inbox = record(b!);
    const sent: AppendEntries[] = [];
    try {
      for (let i = 0; i < 1000; i++) {
        const m: AppendEntries = {
          type: 'AppendEntries',
          from: 'a',
          to: 'b',
          term: 2 ** 40 + i,
          prevLogIndex: 2 ** 45 + i,
          prevLogTerm: 7,
          leaderCommit: i,
          entries: [
            {
              term: 9,
              index: 2 ** 45 + i + 1,
              type: 'command',
              data: Buffer.from(`set k${i}=${'v'.repeat(i % 300)}`),
            },
            { term: 9, index: 2 ** 45 + i + 2, type: 'noop', data: new Uint8Array(0) },
          ],
        };
        sent.push({ ...m, entries: m.entries.map((e) => ({ ...e, data: Uint8Array.from(e.data) })) });
        a!.send(m);
      }
      await waitFor('all AppendEntries delivered', () => inbox.messages.length === sent.length);
      assert.deepStrictEqual(inbox.messages, sent);
    } finally {
      await Promise.all([a!.stop(), b!.stop()]);
    }
  });

  it('never throws for down or unknown peers, and refuses sends outside start()..stop()', async () => {
    const port = await freePort();
    const t = new PeerTransport({
      nodeId: 'n1',
      clusterId: CLUSTER,
      peers: { n2: { host: HOST, port } },
      backoff: quickBackoff,
    });
    assert.equal(t.send(heartbeat('n1', 'n2', 0)), false, 'not started yet');
    await t.start();
    const { events } = record(t);
    for (let i = 0; i < 100; i++) assert.equal(t.send(heartbeat('n1', 'n2', i)), true);
    assert.equal(t.send(heartbeat('n1', 'n9', 0)), false);
    assert.equal(t.stats().droppedUnknownPeer, 1);
    assert.throws(() => t.send(heartbeat('n2', 'n1', 0)), /from "n2" on the transport of "n1"/);
    await waitFor('several failed attempts', () => (t.peerStats('n2')?.connectFailures ?? 0) >= 3);
    assert.deepStrictEqual(
      events.map((e) => e.type),
      ['peerUnreachable'],
      'one event per outage, however many attempts fail',
    );
    await t.stop();
    assert.equal(t.send(heartbeat('n1', 'n2', 0)), false, 'stopped');
  });

  it('drops a message over the frame limit and says so', async () => {
    const [a, b] = await Promise.all([
      listeningTransport({ nodeId: 'a', clusterId: CLUSTER, maxFrameBytes: 1024 }),
      listeningTransport({ nodeId: 'b', clusterId: CLUSTER, maxFrameBytes: 1024 }),
    ]);
    a.setPeer('b', { host: HOST, port: portOf(b) });
    const { events } = record(a);
    const inbox = record(b);
    try {
      const big: Message = {
        type: 'AppendEntries',
        from: 'a',
        to: 'b',
        term: 1,
        prevLogIndex: 0,
        prevLogTerm: 0,
        leaderCommit: 0,
        entries: [{ term: 1, index: 1, type: 'command', data: new Uint8Array(2000) }],
      };
      assert.equal(a.send(big), false);
      assert.equal(a.send(heartbeat('a', 'b', 1)), true);
      await waitFor('the small message', () => inbox.messages.length === 1);
      assert.equal(a.peerStats('b')?.dropped, 1);
      const tooLarge = events.find((e) => e.type === 'messageTooLarge');
      assert.deepStrictEqual(tooLarge, {
        type: 'messageTooLarge',
        peer: 'b',
        messageType: 'AppendEntries',
        bytes: 2015, // 15 bytes of header and entry framing around the 2000 data bytes
        maxBytes: 1024,
      });
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('stop() closes listeners, connections and timers, so nothing keeps the process alive', async () => {
    const before = liveHandles();
    const nodes = await cluster(['x', 'y', 'z']);
    const down = await freePort();
    nodes[0]!.setPeer('gone', { host: HOST, port: down });
    const inboxes = nodes.map(record);
    for (const t of nodes)
      for (const to of ['x', 'y', 'z']) if (to !== t.nodeId) t.send(heartbeat(t.nodeId, to, 0));
    nodes[0]!.send(heartbeat('x', 'gone', 0));
    await waitFor('first messages', () => inboxes.every((i) => i.messages.length === 2));
    await waitFor('a pending reconnect', () => (nodes[0]!.peerStats('gone')?.connectFailures ?? 0) >= 1);
    const ports = nodes.map(portOf);
    await Promise.all(nodes.map((t) => t.stop()));
    for (const t of nodes) {
      assert.equal(t.address(), null);
      assert.equal(t.stats().inboundConnections, 0);
      assert.ok(t.stats().peers.every((p) => !p.connected));
    }
    // libuv releases a closed handle in its next close phase, so allow the loop a few turns.
    const leftovers = (): string[] => {
      const after = liveHandles();
      return ['TCPSocketWrap', 'TCPServerWrap', 'Timeout', 'Immediate'].filter(
        (kind) => (after.get(kind) ?? 0) > (before.get(kind) ?? 0),
      );
    };
    await waitFor('all handles released', () => leftovers().length === 0, { timeoutMs: 2000 }).catch(() => {
      assert.fail(`left behind after stop(): ${leftovers().join(', ')}`);
    });
    for (const port of ports) {
      await assert.rejects(
        new Promise<void>((resolve, reject) => {
          const s = net.connect({ host: HOST, port }, () => {
            s.destroy();
            resolve();
          });
          s.on('error', reject);
        }),
        /ECONNREFUSED/,
      );
    }
  });
});
