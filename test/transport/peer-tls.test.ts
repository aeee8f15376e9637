// Goal: with peer TLS on, a peer connection is mutually authenticated inside the connection, on a
// dedicated listener and over an HTTP or HTTPS upgrade alike: two peers with certificates from the
// peer CA exchange messages; a process whose certificate another CA signed, or that presents none,
// cannot deliver a single message, and its refusal is reported with the reason; a peer that does
// not trust the CA of the node it reaches never sends; new certificates take effect at the next
// connection.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { describe, it } from 'node:test';
import * as tls from 'node:tls';
import { PeerTls, type PeerTlsMaterial } from '../../src/transport/peer-tls.js';
import { PeerTransport } from '../../src/transport/peer-transport.js';
import { PEER_UPGRADE_PROTOCOL, type TransportEvent } from '../../src/transport/types.js';
import { makeTestCerts, opensslMissing, type TestCerts } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';
import { HOST, heartbeat, quickBackoff, record, serveUpgrades } from './helpers.js';

const CLUSTER = 'tls';
const skip = await opensslMissing();

function material(certs: TestCerts, name: string, ca = certs.ca): PeerTlsMaterial {
  const files = name === 'intruder' ? certs.other.intruder : certs.node(name);
  return { cert: readFileSync(files.cert), key: readFileSync(files.key), ca: readFileSync(ca) };
}

function refusals(events: readonly TransportEvent[]): string[] {
  return events.flatMap((e) => (e.type === 'inboundRejected' ? [e.reason] : []));
}

describe('peer TLS', { skip: skip ?? false }, () => {
  it('peers with certificates from the peer CA talk over a dedicated listener; an intruder is refused', async (t) => {
    const certs = await makeTestCerts(t, ['a', 'b']);
    const b = new PeerTransport({
      nodeId: 'b',
      clusterId: CLUSTER,
      listen: { host: HOST, port: 0 },
      peerTls: new PeerTls(material(certs, 'b')),
    });
    await b.start();
    const bLog = record(b);
    const port = b.address()!.port;
    const a = new PeerTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port } },
      backoff: quickBackoff,
      peerTls: new PeerTls(material(certs, 'a')),
    });
    // Certificate from another CA, trusting ours: it reaches b but is refused before its Hello.
    const intruder = new PeerTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port } },
      backoff: quickBackoff,
      peerTls: new PeerTls(material(certs, 'intruder', certs.ca)),
    });
    await Promise.all([a.start(), intruder.start()]);
    try {
      for (let i = 0; i < 100; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('messages over mutual TLS', () => bLog.messages.length === 100);
      for (let i = 0; i < 10; i++) intruder.send(heartbeat('a', 'b', 1000 + i));
      await waitFor('the intruder to be refused', () => refusals(bLog.events).length > 0);
      assert.match(refusals(bLog.events)[0]!, /peer certificate not accepted .*not signed by the peer CA/);
      assert.equal(bLog.messages.length, 100, 'no message of the intruder arrived');
      assert.ok(bLog.messages.every((m) => m.type === 'Heartbeat' && m.readRound < 1000));
    } finally {
      await Promise.all([a.stop(), b.stop(), intruder.stop()]);
    }
  });

  it('over an HTTPS upgrade, the inner handshake authenticates peers whatever the outer session is', async (t) => {
    const certs = await makeTestCerts(t, ['a', 'b']);
    const b = new PeerTransport({
      nodeId: 'b',
      clusterId: CLUSTER,
      peerTls: new PeerTls(material(certs, 'b')),
    });
    await b.start();
    const bLog = record(b);
    // The outer HTTPS session uses a certificate of the other CA: it authenticates nothing here.
    const server = https.createServer(
      { cert: readFileSync(certs.other.intruder.cert), key: readFileSync(certs.other.intruder.key) },
      (_req, res) => res.end('kv says hi'),
    );
    const { port, close } = await serveUpgrades(server, b);
    const a = new PeerTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port, via: 'http-upgrade' } },
      backoff: quickBackoff,
      peerTls: new PeerTls(material(certs, 'a')),
      upgradeTls: () => ({ rejectUnauthorized: false }),
    });
    await a.start();
    try {
      for (let i = 0; i < 50; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('messages over TLS inside HTTPS', () => bLog.messages.length === 50);

      // A client that upgrades and then speaks the peer protocol in the clear gets nowhere.
      const answer = await new Promise<string>((resolve) => {
        const req = https.request({
          host: HOST,
          port,
          agent: false,
          rejectUnauthorized: false,
          headers: { Connection: 'Upgrade', Upgrade: PEER_UPGRADE_PROTOCOL },
        });
        req.on('upgrade', (_res, socket) => {
          socket.on('error', () => {});
          socket.on('close', () => resolve('closed'));
          socket.write(Buffer.from('not a TLS handshake, a plain frame\n'));
        });
        req.on('error', (e) => resolve(e.message));
        req.end();
      });
      assert.equal(answer, 'closed');
      await waitFor('the plain peer to be refused', () => refusals(bLog.events).length > 0);
      assert.match(refusals(bLog.events)[0]!, /peer TLS handshake failed/);
      assert.equal(bLog.messages.length, 50);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await close();
    }
  });

  it('a peer presenting no certificate is refused; one that does not trust our CA never sends', async (t) => {
    const certs = await makeTestCerts(t, ['a', 'b']);
    const b = new PeerTransport({
      nodeId: 'b',
      clusterId: CLUSTER,
      peerTls: new PeerTls(material(certs, 'b')),
    });
    await b.start();
    const bLog = record(b);
    const { port, close } = await serveUpgrades(
      http.createServer((_req, res) => res.end()),
      b,
    );
    try {
      // No certificate at all, though it trusts b's CA.
      const noCert = await new Promise<string>((resolve) => {
        const req = http.request({
          host: HOST,
          port,
          agent: false,
          headers: { Connection: 'Upgrade', Upgrade: PEER_UPGRADE_PROTOCOL },
        });
        req.on('upgrade', (_res, socket) => {
          const s = tls.connect({ socket, ca: certs.caPem, host: HOST });
          s.on('error', () => {});
          s.on('secureConnect', () => s.write(Buffer.alloc(64)));
          s.on('close', () => resolve('closed'));
        });
        req.on('error', (e) => resolve(e.message));
        req.end();
      });
      assert.equal(noCert, 'closed');
      await waitFor('the certificate-less peer to be refused', () => refusals(bLog.events).length > 0);
      assert.match(refusals(bLog.events)[0]!, /peer certificate not accepted/);

      // A peer whose trust is another CA: b's certificate fails its check, it sends nothing.
      const a = new PeerTransport({
        nodeId: 'a',
        clusterId: CLUSTER,
        peers: { b: { host: HOST, port, via: 'http-upgrade' } },
        backoff: quickBackoff,
        peerTls: new PeerTls(material(certs, 'a', certs.other.ca)),
      });
      const aLog = record(a);
      await a.start();
      a.send(heartbeat('a', 'b', 1));
      await waitFor('a to give up on b', () => aLog.events.some((e) => e.type === 'peerUnreachable'));
      const down = aLog.events.find((e) => e.type === 'peerUnreachable');
      assert.match(down?.type === 'peerUnreachable' ? down.reason : '', /certificate/);
      await a.stop();
      assert.equal(bLog.messages.length, 0);
    } finally {
      await b.stop();
      await close();
    }
  });

  it('update() swaps certificates for the next connection; unusable material changes nothing', async (t) => {
    const certs = await makeTestCerts(t, ['a', 'b']);
    const bTls = new PeerTls(material(certs, 'b'));
    assert.throws(
      () => bTls.update({ ...material(certs, 'b'), key: readFileSync(certs.node('a').key) }),
      /key values mismatch/,
    );
    const b = new PeerTransport({
      nodeId: 'b',
      clusterId: CLUSTER,
      listen: { host: HOST, port: 0 },
      peerTls: bTls,
    });
    await b.start();
    const bLog = record(b);
    const port = b.address()!.port;
    // b now trusts only the other CA: a's certificate, from the first, stops being accepted.
    bTls.update(material(certs, 'b', certs.other.ca));
    const a = new PeerTransport({
      nodeId: 'a',
      clusterId: CLUSTER,
      peers: { b: { host: HOST, port } },
      backoff: quickBackoff,
      peerTls: new PeerTls(material(certs, 'a')),
    });
    await a.start();
    try {
      a.send(heartbeat('a', 'b', 1));
      await waitFor('a refused by the updated CA', () => refusals(bLog.events).length > 0);
      bTls.update(material(certs, 'b'));
      a.send(heartbeat('a', 'b', 2));
      await waitFor('a accepted again', () => bLog.messages.length > 0);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
