// Goal: the peer port survives hostile connections. Garbage, a wrong first frame (the protocol's
// "magic" is its Hello frame), a wrong protocol version, a length prefix of 4 GiB, a peer that
// connects and says nothing, and one that stops mid-frame: each closes that one connection (and
// is logged), allocates nothing for lengths it will refuse, and the node keeps serving peers and
// clients. In process for the stall bound, then through the HTTP upgrade on a real node.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { encodeHelloFrame, PROTOCOL_VERSION } from '../../src/transport/control-frames.js';
import { PEER_UPGRADE_PROTOCOL } from '../../src/transport/types.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';
import {
  assertServesWellBehavedPeer,
  HOST,
  listeningTransport,
  portOf,
  rawClient,
  record,
} from './helpers.js';

const CLUSTER = 'hostile';

/** A frame header announcing `size` payload bytes. */
function lengthPrefix(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(size);
  return b;
}

describe('hostile peer connections', () => {
  it('closes a connection that stops mid-frame, even with liveness checks turned off', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER, frameStallMs: 200 });
    const bLog = record(b);
    const port = portOf(b);
    try {
      // A good handshake that turns pings and silence checks off, then half a frame.
      const half = rawClient(port);
      half.socket.write(
        encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'p1', to: 'b' }),
      );
      half.socket.write(Buffer.concat([lengthPrefix(1000), Buffer.alloc(10)]));
      // Half a length prefix, after the handshake of another connection.
      const header = rawClient(port);
      header.socket.write(
        encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'p2', to: 'b' }),
      );
      header.socket.write(Buffer.from([0, 0]));
      let closed = 0;
      for (const c of [half, header]) void c.closed.then(() => closed++);
      await waitFor('both stalled connections closed', () => closed === 2, { timeoutMs: 5_000 });
      assert.equal(half.frames[0]?.kind, 'helloAccept');
      const reasons = bLog.events.flatMap((e) => (e.type === 'protocolError' ? [e.reason] : []));
      assert.deepEqual(
        reasons.map((r) => /a frame stopped arriving mid-way for 200 ms/.test(r)),
        [true, true],
      );

      await assertServesWellBehavedPeer(CLUSTER, port, bLog);
    } finally {
      await b.stop();
    }
  });

  it('closes an upgraded connection whose peer closed its sending side', async () => {
    const b = await listeningTransport({ nodeId: 'b', clusterId: CLUSTER });
    // Like a node's HTTP server: it allows half-open sockets, and hands peer upgrades over.
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req, socket, head) => {
      if (!b.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    try {
      const socket = net.connect((server.address() as AddressInfo).port, HOST);
      socket.on('error', () => {});
      socket.resume();
      let closed = false;
      socket.on('close', () => {
        closed = true;
      });
      socket.write(
        `GET / HTTP/1.1\r\nhost: ${HOST}\r\nconnection: Upgrade\r\nupgrade: ${PEER_UPGRADE_PROTOCOL}\r\n\r\n`,
      );
      // A good handshake with liveness checks off, then a FIN.
      socket.end(encodeHelloFrame({ version: PROTOCOL_VERSION, clusterId: CLUSTER, from: 'p1', to: 'b' }));
      await waitFor('the half-closed peer connection closed', () => closed, { timeoutMs: 5_000 });
      await waitFor('no inbound connection left', () => b.stats().inboundConnections === 0, {
        timeoutMs: 5_000,
      });
    } finally {
      await b.stop();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('a real node drops hostile peer upgrades, logs them, and the cluster keeps committing', {
    timeout: 60_000,
  }, async (t) => {
    const cluster = await ProcessCluster.create(t);
    const leader = await cluster.waitForLeader();
    const target = cluster.ids.find((id) => id !== leader)!;
    const port = cluster.node(target).spec.clientPort;
    const attacks: Record<string, Buffer> = {
      garbage: Buffer.from('\u00ff\u00fe garbage that is not a frame at all', 'latin1'),
      'wrong first frame': Buffer.concat([lengthPrefix(1), Buffer.from([0xee])]),
      'wrong protocol version': encodeHelloFrame({
        version: PROTOCOL_VERSION + 7,
        clusterId: 'whatever',
        from: 'x',
        to: target,
      }),
      'a 4 GiB length prefix': lengthPrefix(0xffffffff),
      'stops mid-frame': Buffer.concat([lengthPrefix(100), Buffer.alloc(10)]),
      'connects and says nothing': Buffer.alloc(0),
    };
    const before = cluster.node(target).lines('peer.refused').length;
    const closed = new Set<string>();
    for (const [name, bytes] of Object.entries(attacks)) {
      const socket = net.connect(port, HOST);
      socket.on('error', () => {});
      socket.write(
        `GET / HTTP/1.1\r\nhost: ${HOST}\r\nconnection: Upgrade\r\nupgrade: ${PEER_UPGRADE_PROTOCOL}\r\n\r\n`,
      );
      if (bytes.length > 0) socket.write(bytes);
      // Read (and drop) the 101 and whatever follows, or the node's close is never seen.
      socket.resume();
      socket.on('close', () => closed.add(name));
    }
    // Meanwhile the cluster commits, through the attacked node too.
    for (let i = 0; i < 20; i++) {
      const put = await cluster.put(target, `calm-${i}`, `v${i}`);
      assert.equal(put.status, 200, put.text);
    }
    // The silent ones last until the node's handshake timeout (5 s).
    await waitFor('every hostile connection dropped', () => closed.size === 6, { timeoutMs: 20_000 }).catch(
      (e: Error) => {
        const open = Object.keys(attacks).filter((name) => !closed.has(name));
        throw new Error(`${e.message}; still open: ${open.join(', ')}`);
      },
    );
    await waitFor('each drop logged', () => cluster.node(target).lines('peer.refused').length - before >= 6, {
      timeoutMs: 5_000,
    });
    assert.ok(cluster.node(target).running, `${target} still runs`);
    const health = await cluster.client(target).health();
    assert.ok(health.ok, JSON.stringify(health));
    const put = await cluster.put(leader, 'after', 'yes');
    assert.equal(put.status, 200, put.text);
  });
});
