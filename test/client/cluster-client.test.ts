// Goal: the cluster client (`import { Client } from 'raftkv'`) fails over across its endpoints
// and retries only what is safe: a write whose answer was lost is retried with the same
// Idempotency-Key and applied once; a lease grant whose answer was lost is not retried but
// reported as OutcomeUnknownError (definite: false); a definite refusal comes back at once.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkBackupFile, expectIntact } from '../../src/backup/index.js';
import {
  BackupFailedError,
  Client,
  OutcomeUnknownError,
  PreconditionFailedError,
} from '../../src/client/index.js';
import { startCluster } from '../support/cluster.js';
import { freePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

/**
 * A proxy to `port` that passes requests on and loses every answer: the node applies the write,
 * the client's connection is reset as the answer comes back — the outcome-unknown case.
 */
async function answerLosingProxy(
  t: { after: (fn: () => Promise<void>) => void },
  port: number,
): Promise<number> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    sockets.add(client);
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(upstream);
    client.pipe(upstream);
    upstream.on('data', () => {
      client.resetAndDestroy();
      upstream.destroy();
    });
    client.on('error', () => {});
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return (server.address() as net.AddressInfo).port;
}

/** The key's version (0: absent). */
async function versionOf(client: Client, key: string): Promise<number> {
  const got = await client.get(key);
  return got.value === null ? 0 : got.version;
}

test('fails over past a dead endpoint and a stopped node, and keeps to the node that answers', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const [dead] = await freePorts(1);
  const client = new Client(
    [`127.0.0.1:${dead}`, ...['n1', 'n2', 'n3'].map((id) => `127.0.0.1:${c.port(id)}`)],
    {
      keepAlive: false,
    },
  );
  t.after(() => client.close());
  const put = await client.put('a', '1');
  assert.equal(put.version, 1);
  assert.equal((await client.get('a')).value, '1');
  await c.stopNode('n1');
  for (let i = 0; i < 5; i++) await client.put(`b${i}`, String(i));
  assert.deepEqual(
    (await client.list('b')).items.map((i) => i.value),
    ['0', '1', '2', '3', '4'],
  );
  // A definite answer is the answer: no retry, no waiting.
  await assert.rejects(client.compareAndSet('a', 'not 1', '2'), PreconditionFailedError);
});

test('a write whose answer was lost is retried with its key and applied once; a grant is not retried', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const lossy = await answerLosingProxy(t, c.port(leader));
  const client = new Client([`127.0.0.1:${lossy}`, `127.0.0.1:${c.port(c.followerOf(leader))}`], {
    keepAlive: false,
  });
  t.after(() => client.close());
  // Through the proxy the put applies, its answer is lost; the retry on the next node gets the
  // first answer: the key was written once.
  const put = await client.put('once', 'x');
  assert.equal(put.version, 1);
  assert.equal(await versionOf(client, 'once'), 1);
  // The same for a transaction.
  const txn = await client.txn({ success: [{ put: { key: 'once', value: 'y' } }] });
  assert.equal(txn.succeeded, true);
  assert.equal(await versionOf(client, 'once'), 2, 'the transaction applied once');
  // A grant has no idempotency key: it may have made a lease, so it is not retried.
  const only = new Client(`127.0.0.1:${lossy}`, { keepAlive: false, timeoutMs: 2000 });
  t.after(() => only.close());
  const grant = await only.grantLease(30).catch((e: unknown) => e);
  assert.ok(grant instanceof OutcomeUnknownError, String(grant));
  assert.equal(grant.definite, false);
  // A write that only ever reaches the lossy node ends unknown at its deadline — applied once.
  const unknown = await only.put('lost', 'z').catch((e: unknown) => e);
  assert.ok(unknown instanceof OutcomeUnknownError, String(unknown));
  assert.equal(await versionOf(client, 'lost'), 1);
});

test('client.lease(ttl) keeps the lease alive past its TTL until revoked; its keys go with it', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const client = new Client(['n1', 'n2', 'n3'].map((id) => `127.0.0.1:${c.port(id)}`));
  t.after(() => client.close());
  const lease = await client.lease(1);
  const granted = performance.now();
  await client.put('session/me', 'here', { lease: lease.id });
  // The subject is the TTL: once twice it has passed, the lease and its key must still be there,
  // kept by renewals acknowledged after the grant.
  await waitFor(
    'two TTLs past the grant, the lease renewed',
    () => performance.now() - granted > 2 * 1000 && lease.validUntil() > granted + 2 * 1000,
    { timeoutMs: 10_000 },
  );
  assert.equal(lease.lost.aborted, false);
  assert.ok(lease.validUntil() > performance.now(), 'renewed: valid into the future');
  assert.equal((await client.get('session/me')).value, 'here');
  assert.equal((await client.leaseInfo(lease.id)).ttl, 1);
  await lease.revoke();
  assert.equal(lease.lost.reason, 'released');
  assert.equal((await client.get('session/me')).value, null);
});

/** A TCP proxy to `port` that counts the connections it passed on. */
async function countingProxy(
  t: { after: (fn: () => Promise<void>) => void },
  port: number,
): Promise<{ port: number; connections: () => number }> {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    connections++;
    const upstream = net.connect(port, '127.0.0.1');
    sockets.add(client).add(upstream);
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { port: (server.address() as net.AddressInfo).port, connections: () => connections };
}

test('writes learn the leader from a relayed answer and go to it; reads stay where they are', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  const viaFollower = await countingProxy(t, c.port(follower));
  const others = ['n1', 'n2', 'n3'].filter((id) => id !== follower);
  const client = new Client(
    [`127.0.0.1:${viaFollower.port}`, ...others.map((id) => `127.0.0.1:${c.port(id)}`)],
    {
      keepAlive: false,
    },
  );
  t.after(() => client.close());
  assert.equal(client.leaderEndpoint(), null, 'not known before the first write');
  // The first write goes to the first endpoint, a follower, which relays it and names the leader.
  await client.put('k0', 'v');
  assert.equal(client.leaderEndpoint(), `http://127.0.0.1:${c.port(leader)}`);
  assert.equal(viaFollower.connections(), 1);
  // The next writes go straight to the leader; the follower sees none of them.
  for (let i = 1; i <= 10; i++) await client.put(`k${i}`, 'v');
  await client.txn({ success: [{ put: { key: 't', value: 'v' } }] });
  await client.delete('k0');
  assert.equal(viaFollower.connections(), 1, 'no write went through the follower again');
  // Reads still start at the node that answered the last read: the first endpoint.
  assert.equal((await client.get('k1')).value, 'v');
  assert.equal(viaFollower.connections(), 2);
  // The leader goes away: the next write fails over, and the client learns whoever leads now.
  await c.stopNode(leader);
  const next = await c.waitForLeader();
  await client.put('after', 'v');
  const expected = next === follower ? null : `http://127.0.0.1:${c.port(next)}`;
  // The proxied follower's own address is not in the list (the proxy's is), so it cannot be used.
  if (expected !== null) assert.equal(client.leaderEndpoint(), expected);
  assert.notEqual(client.leaderEndpoint(), `http://127.0.0.1:${c.port(leader)}`);
  assert.equal((await client.get('after')).value, 'v');
});

test('client.snapshot.save(file): a verified backup from the first node that serves one', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const [dead] = await freePorts(1);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-client-backup-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const client = new Client([`127.0.0.1:${dead}`, `127.0.0.1:${c.port('n1')}`], { keepAlive: false });
  t.after(() => client.close());
  for (let i = 0; i < 20; i++) await client.put(`b/${i}`, String(i));
  const file = path.join(dir, 'cluster.backup');
  const failed: string[] = [];
  const saved = await client.snapshot.save(file, { onFailure: (node) => failed.push(node.url) });
  assert.deepEqual(failed, [`http://127.0.0.1:${dead}`], 'the dead endpoint was tried first and reported');
  assert.equal(saved.node.url, `http://127.0.0.1:${c.port('n1')}`);
  assert.equal(saved.backup.header.keyCount, 20);
  // What is on the disk is what was checked.
  const again = expectIntact(await checkBackupFile(file));
  assert.equal(again.sha256, saved.backup.sha256);
  assert.deepEqual(await readdir(dir), ['cluster.backup'], 'no .part file left');
  // No node serves one: every failure named, the previous file untouched.
  const none = new Client(`127.0.0.1:${dead}`, { keepAlive: false });
  const err = await none.snapshot.save(file).catch((e: unknown) => e);
  assert.ok(err instanceof BackupFailedError, String(err));
  assert.equal(err.failures.length, 1);
  assert.equal(expectIntact(await checkBackupFile(file)).sha256, saved.backup.sha256);
});

test('client.election(name): campaign, leader, observe and resign through the cluster client', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const endpoints = ['n1', 'n2', 'n3'].map((id) => `127.0.0.1:${c.port(id)}`);
  const a = new Client(endpoints);
  const b = new Client([...endpoints].reverse());
  t.after(() => {
    a.close();
    b.close();
  });
  const first = await a.election('svc').campaign('a', { ttl: 5 });
  assert.deepEqual(await b.election('svc').leader(), { key: first.key, value: 'a', token: first.token });
  const second = b.election('svc').campaign('b', { ttl: 5 });
  const stop = new AbortController();
  t.after(() => stop.abort());
  const seen = b.election('svc').observe({ signal: stop.signal });
  assert.equal((await seen.next()).value?.value, 'a');
  await first.resign();
  const next = await second;
  assert.ok(next.token > first.token, 'the later leader has the larger token');
  // The observer may see no leader between the two; it does see b.
  let got = (await seen.next()).value;
  if (got === null) got = (await seen.next()).value;
  assert.equal(got?.value, 'b');
  await next.resign();
});
