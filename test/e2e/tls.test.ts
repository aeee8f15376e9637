// Goal: TLS on real processes. `raftkv cluster --tls` makes its CA and certificates, elects a
// leader over mutually authenticated peer connections, and passes the basic exercises over HTTPS
// through every node (writes to followers forwarded over HTTPS); a client that does not trust the
// CA, or speaks plain HTTP, gets no answer; a second run reuses the certificates. And a member
// started with a peer certificate from another CA is refused by the others, which log it, while
// they go on without it.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { CliProcess, runCli } from '../support/cli.js';
import { freeConsecutivePorts, freePorts, LOOPBACK } from '../support/ports.js';
import { makeTestCerts, opensslMissing } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

const skip = await opensslMissing();
const timing = ['--heartbeat-interval', '50', '--election-timeout', '500'];

test('raftkv cluster --tls: HTTPS and peer TLS from one command; the basic exercises through every node', {
  timeout: 180_000,
}, async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-cluster-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freeConsecutivePorts(3);
  const args = ['cluster', '--tls', '--base-port', String(port), '--data-dir', dir, ...timing];
  const ca = path.join(dir, 'tls', 'ca.pem');
  const endpoint = (i: number) => `https://${LOOPBACK}:${port + i}`;

  const first = new CliProcess(args);
  t.after(async () => {
    if (first.running) await first.stop();
  });
  await waitFor('a leader, seen over HTTPS', () => /leader: n\d/.test(first.output()));
  assert.match(first.output(), /made a private CA and certificates in /);
  assert.ok(first.output().includes(`--cacert ${ca}`), 'the client flags are printed');

  for (let i = 0; i < 3; i++) {
    const put = await runCli(['put', `k${i}`, `v${i}`, '--endpoints', endpoint(i), '--cacert', ca]);
    assert.equal(put.code, 0, put.stderr);
  }
  for (let i = 0; i < 3; i++) {
    const got = await runCli(['get', `k${i}`, '--endpoints', endpoint((i + 1) % 3), '--cacert', ca]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `v${i}\n`);
  }
  const del = await runCli(['del', 'k0', '--endpoints', endpoint(2), '--cacert', ca]);
  assert.equal(del.code, 0, del.stderr);
  const gone = await runCli(['get', 'k0', '--endpoints', endpoint(0), '--cacert', ca]);
  assert.notEqual(gone.code, 0);

  const untrusted = await runCli(['get', 'k1', '--endpoints', endpoint(0)]);
  assert.notEqual(untrusted.code, 0);
  assert.match(untrusted.stderr, /TLS: .*not signed by a trusted CA/);
  const plain = await runCli(['get', 'k1', '--endpoints', `${LOOPBACK}:${port}`]);
  assert.notEqual(plain.code, 0, 'plain HTTP to a TLS port gets no answer');

  assert.equal((await first.stop()).code, 0);
  // A second run on the same data dir keeps the CA: the clients' --cacert stays valid.
  const second = new CliProcess(args);
  t.after(async () => {
    if (second.running) await second.stop();
  });
  await waitFor('a leader again', () => /leader: n\d/.test(second.output()));
  assert.doesNotMatch(second.output(), /made a private CA/);
  const again = await runCli(['get', 'k2', '--endpoints', endpoint(1), '--cacert', ca]);
  assert.equal(again.code, 0, again.stderr);
  assert.equal(again.stdout, 'v2\n');
  assert.equal((await second.stop()).code, 0);
});

test('a member whose peer certificate another CA signed is refused and logged; the others go on', {
  skip: skip ?? false,
  timeout: 120_000,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1', 'n2', 'n3']);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-peer-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ports = await freePorts(3);
  const cluster = ['n1', 'n2', 'n3'].map((id, i) => `${id}=${LOOPBACK}:${ports[i]}`).join(',');
  const nodes = ['n1', 'n2', 'n3'].map((id) => {
    const peer = id === 'n3' ? certs.other.intruder : certs.node(id);
    const node = new CliProcess([
      'start',
      '--id',
      id,
      '--cluster',
      cluster,
      '--data-dir',
      path.join(dir, id),
      '--log-format',
      'json',
      '--peer-cert-file',
      peer.cert,
      '--peer-key-file',
      peer.key,
      '--peer-trusted-ca-file',
      certs.ca,
      ...timing,
    ]);
    t.after(async () => {
      if (node.running) await node.stop();
    });
    return node;
  });
  const refusals = (i: number) =>
    nodes[i]!.output()
      .split('\n')
      .filter((l) => l.includes('"event":"peer.refused"'));
  await waitFor('n1 and n2 to refuse n3', () => refusals(0).length > 0 && refusals(1).length > 0);
  assert.match(refusals(0)[0]!, /peer certificate not accepted .*not signed by the peer CA/);
  // n1 and n2 are a majority: writes commit without n3.
  const endpoints = `${LOOPBACK}:${ports[0]},${LOOPBACK}:${ports[1]}`;
  await waitFor(
    'a write to commit',
    async () => (await runCli(['put', 'k', 'v', '--endpoints', endpoints])).code === 0,
  );
  const stale = await runCli(['get', 'k', '--endpoints', `${LOOPBACK}:${ports[2]}`, '--stale']);
  assert.notEqual(stale.code, 0, 'n3 never received the entry');
});
