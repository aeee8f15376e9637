// Goal: nodes with TLS on serve HTTPS, forward writes to the leader over HTTPS with their own
// client certificate, and authenticate each other on peer connections: a 3-node cluster with
// client-certificate auth and peer TLS elects a leader and commits writes sent to any node; a
// client without a certificate, or speaking plain HTTP, gets nothing; a member whose peer
// certificate another CA signed is refused (peer.refused, with the reason) and cannot take part;
// reloadTls logs tls.reloaded, or tls.reload_failed for a broken file and keeps the old ones.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import * as http from 'node:http';
import * as https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as tls from 'node:tls';
import { type RaftkvNode, startNode } from '../../src/app/start-node.js';
import { logEvents } from '../../src/node/log-events.js';
import type { NodeTlsFiles } from '../../src/node/options.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { makeTestCerts, opensslMissing, type TestCerts } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

const skip = await opensslMissing();

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

function httpsCall(
  port: number,
  method: string,
  path: string,
  tls: https.RequestOptions,
  body?: unknown,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = https.request(
      {
        host: LOOPBACK,
        port,
        method,
        path,
        agent: false,
        ...tls,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text || '{}') }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

interface TlsCluster {
  readonly nodes: RaftkvNode[];
  readonly ports: number[];
  readonly lines: Record<string, unknown>[][];
}

async function startTlsCluster(
  t: { after: (fn: () => Promise<void>) => void },
  certs: TestCerts,
  tlsOf: (id: string) => NodeTlsFiles,
): Promise<TlsCluster> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ports = await freePorts(3);
  const ids = ['n1', 'n2', 'n3'];
  const cluster = Object.fromEntries(ids.map((id, i) => [id, { host: LOOPBACK, port: ports[i]! }]));
  const lines: Record<string, unknown>[][] = ids.map(() => []);
  const nodes = await Promise.all(
    ids.map((id, i) =>
      startNode({
        id,
        cluster,
        dataDir: path.join(dir, id),
        heartbeatIntervalMs: 50,
        electionTimeoutMs: 300,
        logFormat: 'json',
        logSink: (l) => lines[i]!.push(JSON.parse(l) as Record<string, unknown>),
        tls: tlsOf(id),
      }),
    ),
  );
  t.after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  void certs;
  return { nodes, ports, lines };
}

function fullTls(certs: TestCerts, id: string, peerCa = certs.ca): NodeTlsFiles {
  const own = certs.node(id);
  return {
    certFile: own.cert,
    keyFile: own.key,
    trustedCaFile: certs.ca,
    clientCertAuth: true,
    peerCertFile: own.cert,
    peerKeyFile: own.key,
    peerTrustedCaFile: peerCa,
  };
}

test('a TLS cluster with client-certificate auth and peer TLS serves and forwards writes over HTTPS', {
  skip: skip ?? false,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1', 'n2', 'n3']);
  const c = await startTlsCluster(t, certs, (id) => fullTls(certs, id));
  const client: https.RequestOptions = {
    ca: certs.caPem,
    cert: readFileSync(certs.client.cert),
    key: readFileSync(certs.client.key),
  };
  let leader = -1;
  await waitFor('a leader', async () => {
    const s = await httpsCall(c.ports[0]!, 'GET', '/debug', client);
    const id = s.body.leaderId;
    leader = typeof id === 'string' ? ['n1', 'n2', 'n3'].indexOf(id) : -1;
    return leader >= 0;
  });
  // Through every node: the followers forward to the leader over HTTPS with their certificate.
  for (let i = 0; i < 3; i++) {
    const put = await httpsCall(c.ports[i]!, 'POST', '/kv', client, { key: `k${i}`, value: `v${i}` });
    assert.equal(put.status, 200, JSON.stringify(put.body));
  }
  for (let i = 0; i < 3; i++) {
    const got = await httpsCall(c.ports[(i + 1) % 3]!, 'GET', `/kv/k${i}`, client);
    assert.equal(got.status, 200);
    assert.equal(got.body.value, `v${i}`);
  }
  for (const lines of c.lines) {
    const enabled = lines.find((l) => l.event === 'tls.enabled');
    assert.ok(enabled, 'tls.enabled logged');
    assert.equal(enabled.https, true);
    assert.equal(enabled.peerTls, true);
    assert.equal(enabled.clientCertAuth, true);
  }

  // No client certificate: the handshake fails, nothing is answered.
  await assert.rejects(httpsCall(c.ports[0]!, 'GET', '/kv/k0', { ca: certs.caPem }));
  // A certificate from another CA: refused too.
  await assert.rejects(
    httpsCall(c.ports[0]!, 'GET', '/kv/k0', {
      ca: certs.caPem,
      cert: readFileSync(certs.other.intruder.cert),
      key: readFileSync(certs.other.intruder.key),
    }),
  );
  // Plain HTTP to the TLS port gets no answer.
  await assert.rejects(
    new Promise((resolve, reject) => {
      http
        .get({ host: LOOPBACK, port: c.ports[0]!, path: '/kv/k0', agent: false }, resolve)
        .on('error', reject);
    }),
  );
});

test('a member whose peer certificate another CA signed is refused by the others and logged', {
  skip: skip ?? false,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1', 'n2', 'n3']);
  // n3 presents the intruder's certificate as its peer identity; it trusts the right CA.
  const c = await startTlsCluster(t, certs, (id) =>
    id === 'n3'
      ? {
          peerCertFile: certs.other.intruder.cert,
          peerKeyFile: certs.other.intruder.key,
          peerTrustedCaFile: certs.ca,
        }
      : { peerCertFile: certs.node(id).cert, peerKeyFile: certs.node(id).key, peerTrustedCaFile: certs.ca },
  );
  const refused = (i: number) => c.lines[i]!.filter((l) => l.event === 'peer.refused');
  await waitFor('n1 and n2 to refuse n3', () => refused(0).length > 0 && refused(1).length > 0);
  assert.match(String(refused(0)[0]!.reason), /peer certificate not accepted .*not signed by the peer CA/);
  // n1 and n2 still make a majority and elect a leader between them; n3 never learns of it.
  await waitFor('a leader among n1 and n2', async () => {
    const s = await getJson(c.ports[0]!, '/debug');
    return s.leaderId === 'n1' || s.leaderId === 'n2';
  });
  // Through both, so that one of the writes is forwarded: through a peer-authenticated tunnel.
  for (const i of [0, 1]) {
    const put = await postJson(c.ports[i]!, '/kv', { key: `k${i}`, value: 'v' });
    assert.equal(put.status, 200);
  }
  const n3 = await getJson(c.ports[2]!, '/debug');
  assert.equal(n3.commitIndex, 0, 'n3 received no entry');

  // n3 cannot forward either: its tunnel to the leader is refused, so its write fails.
  const viaN3 = await postJson(c.ports[2]!, '/kv', { key: 'k3', value: 'v' });
  assert.notEqual(viaN3.status, 200);
  // And a process holding a certificate of another CA that opens a tunnel itself gets nowhere.
  const leaderPort = c.ports[(await getJson(c.ports[0]!, '/debug')).leaderId === 'n1' ? 0 : 1]!;
  const closed = await new Promise<string>((resolve) => {
    const req = http.request({
      host: LOOPBACK,
      port: leaderPort,
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: 'raftkv-forward' },
    });
    req.on('upgrade', (_res, socket) => {
      const inner = tls.connect({
        socket,
        host: LOOPBACK,
        ca: certs.caPem,
        cert: readFileSync(certs.other.intruder.cert),
        key: readFileSync(certs.other.intruder.key),
      });
      inner.on('error', () => {});
      inner.on('secureConnect', () =>
        inner.write(`POST /kv HTTP/1.1\r\nhost: x\r\ncontent-length: 25\r\n\r\n{"key":"kx","value":"v"}`),
      );
      inner.on('data', () => resolve('answered'));
      inner.on('close', () => resolve('closed'));
    });
    req.on('error', (e) => resolve(e.message));
    req.end();
  });
  assert.equal(closed, 'closed');
  const leaderLines = c.lines[leaderPort === c.ports[0] ? 0 : 1]!;
  await waitFor('the tunnel refusal logged', () =>
    leaderLines.some((l) => l.event === 'peer.refused' && /forwarding tunnel/.test(String(l.reason))),
  );
  assert.notEqual((await getJson(leaderPort, '/kv/kx')).value, 'v', 'the intruder wrote nothing');
});

test('reloadTls: tls.reloaded with usable files, tls.reload_failed (and the old ones kept) otherwise', {
  skip: skip ?? false,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1', 'n2', 'n3']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-tls-reload-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  // n1 serves from copies, so that the files can be replaced under it.
  const cert = path.join(dir, 'n1.pem');
  const key = path.join(dir, 'n1-key.pem');
  await copyFile(certs.node('n1').cert, cert);
  await copyFile(certs.node('n1').key, key);
  const c = await startTlsCluster(t, certs, (id) =>
    id === 'n1'
      ? { certFile: cert, keyFile: key, trustedCaFile: certs.ca }
      : { certFile: certs.node(id).cert, keyFile: certs.node(id).key, trustedCaFile: certs.ca },
  );
  const n1 = c.nodes[0]!;
  const serial = async () =>
    new Promise<string>((resolve, reject) => {
      const req = https.request(
        { host: LOOPBACK, port: c.ports[0]!, path: '/livez', ca: certs.caPem, agent: false },
        (res) => {
          const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
          res.resume();
          resolve(peer.serialNumber);
        },
      );
      req.on('error', reject);
      req.end();
    });
  const before = await serial();
  // A kept-alive connection opened before the reload, with a request on it.
  const kept = new https.Agent({ keepAlive: true, maxSockets: 1, ca: certs.caPem });
  t.after(() => kept.destroy());
  const viaKept = () =>
    new Promise<{ status: number; serial: string }>((resolve, reject) => {
      const req = https.request({ host: LOOPBACK, port: c.ports[0]!, path: '/livez', agent: kept }, (res) => {
        const peer = (res.socket as import('node:tls').TLSSocket).getPeerCertificate();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, serial: peer.serialNumber }));
      });
      req.on('error', reject);
      req.end();
    });
  assert.equal((await viaKept()).serial, before);
  const rotated = await certs.issue('n1-rotated');
  await copyFile(rotated.cert, cert);
  await copyFile(rotated.key, key);
  assert.equal(await n1.reloadTls(), true);
  // The open connection goes on, on the session it started with.
  const onKept = await viaKept();
  assert.equal(onKept.status, 200);
  assert.equal(onKept.serial, before);
  const reloaded = c.lines[0]!.filter((l) => l.event === 'tls.reloaded');
  assert.equal(reloaded.length, 1);
  assert.deepEqual(
    Object.keys(reloaded[0]!).filter((k) => !['time', 'level', 'node', 'event', 'msg'].includes(k)),
    Object.keys(logEvents['tls.reloaded'].fields),
  );
  const after = await serial();
  assert.notEqual(after, before, 'new connections get the new certificate');
  const expiry = await new Promise<string>((resolve, reject) => {
    https
      .get({ host: LOOPBACK, port: c.ports[0]!, path: '/metrics', ca: certs.caPem, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => resolve(text));
      })
      .on('error', reject);
  });
  const line = expiry.split('\n').find((l) => l.startsWith('raftkv_tls_cert_expiry_timestamp_seconds '));
  const seconds = Number(line?.split(' ')[1]);
  // The test certificates are valid for 30 days.
  assert.ok(Math.abs(seconds - (Date.now() / 1000 + 30 * 86400)) < 2 * 86400, String(line));

  await writeFile(key, 'not a key');
  assert.equal(await n1.reloadTls(), false);
  const failed = c.lines[0]!.filter((l) => l.event === 'tls.reload_failed');
  assert.equal(failed.length, 1);
  assert.match(String(failed[0]!.error), /--key-file .*not a PEM file/);
  assert.equal(await serial(), after, 'the certificate in force stays');
});

function getJson(port: number, path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: LOOPBACK, port, path, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          text += c;
        });
        res.on('end', () => resolve(JSON.parse(text) as Record<string, unknown>));
      })
      .on('error', reject);
  });
}

function postJson(port: number, path: string, body: unknown): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: LOOPBACK,
        port,
        path,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}
