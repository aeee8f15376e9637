// Goal: a node can serve HTTP clients and Raft peers on one port: its HTTP server hands
// `Upgrade: raftkv-peer` requests to the transport, which then carries messages exactly as on a
// dedicated peer listener, while ordinary requests and other upgrades stay with the HTTP server.

import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import { PEER_UPGRADE_PROTOCOL } from '../../src/transport/types.js';
import { waitFor } from '../support/wait.js';
import { HOST, heartbeat, quickBackoff, record, serveUpgrades } from './helpers.js';

const CLUSTER = 'http';

describe('peer connections over HTTP upgrade', () => {
  it('shares the HTTP port between clients and peers', async () => {
    const b = new PeerTransport({ nodeId: 'b', clusterId: CLUSTER });
    await b.start();
    const bLog = record(b);
    const { port, close } = await serveUpgrades(
      http.createServer((_req, res) => res.end('kv says hi')),
      b,
    );
    const a = new PeerTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port, via: 'http-upgrade' } },
      backoff: quickBackoff,
    });
    await a.start();
    try {
      for (let i = 0; i < 2000; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('messages over the upgraded connection', () => bLog.messages.length === 2000);
      assert.deepStrictEqual(
        bLog.messages.map((m) => (m.type === 'Heartbeat' ? m.readRound : -1)),
        Array.from({ length: 2000 }, (_, i) => i),
      );

      const body = await new Promise<string>((resolve, reject) => {
        http
          .get({ host: HOST, port, path: '/', agent: false }, (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => {
              text += c;
            });
            res.on('end', () => resolve(text));
          })
          .on('error', reject);
      });
      assert.equal(body, 'kv says hi');

      // Another protocol's upgrade is not the transport's: handleUpgrade declines it.
      const otherUpgrade = await new Promise<string>((resolve) => {
        const req = http.request({
          host: HOST,
          port,
          agent: false,
          headers: { Connection: 'Upgrade', Upgrade: 'websocket' },
        });
        req.on('upgrade', () => resolve('upgraded'));
        req.on('error', (err) => resolve(err.message));
        req.end();
      });
      assert.match(otherUpgrade, /socket hang up/);
      assert.equal(b.stats().inboundConnections, 1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await close();
    }
  });

  it('answers 503 to peer upgrades once the transport is stopped', async () => {
    const b = new PeerTransport({ nodeId: 'b', clusterId: CLUSTER });
    await b.start();
    await b.stop();
    const server = http.createServer((_req, res) => res.end());
    server.on('upgrade', (req, socket, head) => {
      if (!b.handleUpgrade(req, socket, head)) socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, HOST, resolve));
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request({
          host: HOST,
          port: (server.address() as AddressInfo).port,
          agent: false,
          headers: { Connection: 'Upgrade', Upgrade: PEER_UPGRADE_PROTOCOL },
        });
        req.on('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(status, 503);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
