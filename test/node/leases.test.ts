// Goal: leases over HTTP on a real 3-node cluster (docs/leases.md): a lease granted through any
// node, a key tied to it, renewals that keep it past its TTL, the key gone once renewals stop
// (every node logs lease.expired, the metrics count it), revoke deleting its keys, a lease that
// survives a leader move, 404 lease_not_found for a lease that does not exist, 400 naming what
// is wrong in a bad request; and a backup taken while a lease exists restores with the lease,
// which then counts its TTL in the new cluster.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startNode } from '../../src/app/start-node.js';
import { parseSnapshotRestore } from '../../src/cli/snapshot-options.js';
import { runSnapshotRestore } from '../../src/cli/snapshot-restore.js';
import { openBackup } from '../support/backup.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { testClient } from '../support/http.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

/** fastTiming's election timeout (test/support/cluster.ts). */
const ELECTION_MS = 500;
/** Long enough that renewals every 400 ms ride out a slow fsync or an election on a busy machine. */
const TTL_S = 3;
const TTL_MS = TTL_S * 1000;

/** Renews lease `id` through `via` every `everyMs` until stopped; the send time of the last renewal acknowledged. */
function keepRenewing(c: TestCluster, via: () => string, id: number, everyMs: number) {
  let stopped = false;
  let lastAcked = performance.now();
  let failures = 0;
  const loop = (async () => {
    while (!stopped) {
      const sent = performance.now();
      const a = await c.request(via(), 'POST', `/leases/${id}/keepalive`).catch(() => null);
      if (a?.status === 200) lastAcked = sent;
      else if (a?.status === 404) throw new Error(`lease ${id} ended while renewed: ${a.text}`);
      else failures++;
      await new Promise((r) => setTimeout(r, a?.status === 200 ? everyMs : 50));
    }
  })();
  return {
    /** Stops renewing; resolves with the send time of the last renewal acknowledged. */
    async stop(): Promise<{ lastAcked: number; failures: number }> {
      stopped = true;
      await loop;
      return { lastAcked, failures };
    },
  };
}

async function gone(c: TestCluster, id: string, key: string, timeoutMs: number): Promise<number> {
  await waitFor(
    `${key} deleted with its lease`,
    async (note) => {
      const a = await c.get(id, key);
      note(a.text);
      return a.status === 404;
    },
    { timeoutMs, intervalMs: 20 },
  );
  return performance.now();
}

test('grant, tie a key, keep it alive past its TTL, expire, revoke, move the leader; 404s and 400s', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);

  // Through a follower: forwarded to the leader like a put.
  const granted = await c.request(follower, 'POST', '/leases', { body: { ttl: TTL_S } });
  assert.equal(granted.status, 200, granted.text);
  const id: number = granted.body.id;
  assert.deepEqual(granted.body, { id, ttl: TTL_S });
  const put = await c.request(follower, 'POST', '/kv', { body: { key: 'lock', value: 'me', lease: id } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.lease, id);
  assert.equal((await c.get(leader, 'lock')).body.lease, id, 'GET /kv/{key} shows the lease');
  const listed = await c.request(leader, 'GET', '/kv?prefix=lo');
  assert.equal(listed.body.items[0].lease, id, 'so does a listing');
  const info = await c.request(follower, 'GET', `/leases/${id}`);
  assert.equal(info.status, 200, info.text);
  assert.deepEqual(
    { id: info.body.id, ttl: info.body.ttl, keys: info.body.keys },
    { id, ttl: TTL_S, keys: ['lock'] },
  );
  assert.equal(typeof info.body.index, 'number');
  assert.ok(info.body.remaining >= 0 && info.body.remaining <= TTL_S, `remaining ${info.body.remaining}`);

  // Renewed every 400 ms for two TTLs: it lives on.
  const renewing = keepRenewing(c, () => follower, id, 400);
  const since = performance.now();
  await waitFor('two TTLs', () => performance.now() - since > 2 * TTL_MS, {
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  assert.equal((await c.get(leader, 'lock')).body.value, 'me', 'kept alive past its TTL');
  const { lastAcked } = await renewing.stop();
  // Not renewed any more: the key goes, no earlier than a TTL after the last renewal was sent.
  const endedAt = await gone(c, leader, 'lock', TTL_MS + 2 * ELECTION_MS + 10_000);
  assert.ok(
    endedAt - lastAcked >= TTL_MS,
    `ended ${Math.round(endedAt - lastAcked)} ms after the last renewal`,
  );
  for (const node of c.ids) {
    await waitFor(`${node} logs lease.expired`, () => c.logged(node, `event=lease.expired id=${id} keys=1`));
  }
  for (const [method, p] of [
    ['GET', `/leases/${id}`],
    ['POST', `/leases/${id}/keepalive`],
    ['DELETE', `/leases/${id}`],
  ] as const) {
    const a = await c.request(follower, method, p);
    assert.equal(a.status, 404, `${method} ${p}: ${a.text}`);
    assert.equal(a.body.code, 'lease_not_found');
    assert.equal(a.body.id, id);
    assert.equal(a.body.definite, true);
  }
  const metrics = parseExposition((await c.request(follower, 'GET', '/metrics')).text);
  assert.equal(seriesValue(metrics, 'raftkv_lease_expiries_total'), 1);
  assert.equal(seriesValue(metrics, 'raftkv_leases'), 0);

  // A put naming a lease that is gone writes nothing.
  const orphan = await c.request(leader, 'POST', '/kv', { body: { key: 'orphan', value: 'v', lease: id } });
  assert.equal(orphan.status, 404, orphan.text);
  assert.equal(orphan.body.code, 'lease_not_found');
  assert.equal((await c.get(leader, 'orphan')).status, 404);

  // Revoke: its keys go at once, in key order.
  const r = (await c.request(leader, 'POST', '/leases', { body: { ttl: 60 } })).body.id as number;
  for (const key of ['r/b', 'r/a']) {
    assert.equal(
      (await c.request(leader, 'POST', '/kv', { body: { key, value: 'x', lease: r } })).status,
      200,
    );
  }
  assert.equal(
    seriesValue(parseExposition((await c.request(leader, 'GET', '/metrics')).text), 'raftkv_leases'),
    1,
  );
  const revoked = await c.request(follower, 'DELETE', `/leases/${r}`);
  assert.equal(revoked.status, 200, revoked.text);
  assert.deepEqual(revoked.body.keys, ['r/a', 'r/b']);
  assert.equal(revoked.body.id, r);
  const after = await c.request(leader, 'GET', '/kv?prefix=r/');
  assert.deepEqual(after.body.items, []);

  // A lease survives a leader move: renewed through whichever node leads, it outlives its TTL.
  const m = (await c.request(leader, 'POST', '/leases', { body: { ttl: TTL_S } })).body.id as number;
  assert.equal(
    (await c.request(leader, 'POST', '/kv', { body: { key: 'moved', value: 'v', lease: m } })).status,
    200,
  );
  let current = leader;
  const renewingM = keepRenewing(c, () => current, m, 400);
  const moved = await c.request(leader, 'POST', '/cluster/leader', { body: { to: follower } });
  assert.equal(moved.status, 200, moved.text);
  current = follower;
  const movedAt = performance.now();
  await waitFor('two TTLs after the move', () => performance.now() - movedAt > 2 * TTL_MS, {
    timeoutMs: 20_000,
    intervalMs: 100,
  });
  assert.equal((await c.get(follower, 'moved')).body.value, 'v', 'renewed across the move');
  const stopM = await renewingM.stop();
  const endedM = await gone(c, follower, 'moved', TTL_MS + 2 * ELECTION_MS + 10_000);
  assert.ok(endedM - stopM.lastAcked >= TTL_MS);
  await waitFor('the new leader expired it', () => c.logged(follower, `event=lease.expired id=${m}`));
});

test('bad lease requests get a 400 naming what is wrong', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const n = await c.waitForLeader();
  const cases: [string, string, unknown, RegExp][] = [
    ['POST', '/leases', {}, /missing field "ttl"/],
    ['POST', '/leases', { ttl: 0 }, /ttl must be a whole number of seconds in 1\.\.9000000000, got 0/],
    ['POST', '/leases', { ttl: 1.5 }, /ttl must be a whole number/],
    ['POST', '/leases', { ttl: '5' }, /ttl must be a whole number/],
    ['POST', '/leases', { ttl: 9_000_000_001 }, /ttl must be a whole number/],
    ['POST', '/leases', { ttl: 5, id: 7 }, /unknown field "id" \(expected ttl\)/],
    ['POST', '/leases', 'ttl=5', /body is not valid JSON/],
    ['POST', '/leases', [5], /body must be a JSON object \{"ttl": SECONDS\}/],
    ['GET', '/leases/abc', undefined, /lease id in the path must be a positive integer, got "abc"/],
    ['GET', '/leases/0', undefined, /positive integer, got "0"/],
    ['POST', '/leases/-1/keepalive', undefined, /positive integer, got "-1"/],
    ['DELETE', '/leases/99999999999999999', undefined, /positive integer/],
    ['GET', '/leases/1?minIndex=x', undefined, /minIndex must be a log index/],
    [
      'POST',
      '/kv',
      { key: 'k', value: 'v', lease: 'x' },
      /lease must be a lease id \(a positive integer\), got "x"/,
    ],
    ['POST', '/kv', { key: 'k', value: 'v', lease: 0 }, /lease must be a lease id/],
    ['POST', '/kv', { key: 'k', value: 'v', lease: 2.5 }, /lease must be a lease id/],
    ['POST', '/kv', { key: 'k', value: 'v', lease: null }, /lease must be a lease id/],
  ];
  for (const [method, p, body, message] of cases) {
    const a = await c.request(n, method, p, body === undefined ? {} : { body });
    assert.equal(a.status, 400, `${method} ${p} ${JSON.stringify(body)}: ${a.text}`);
    assert.equal(a.body.code, 'bad_request');
    assert.equal(a.body.definite, true);
    assert.match(a.body.error, message);
  }
  const noRoute = await c.request(n, 'PUT', '/leases');
  assert.equal(noRoute.status, 404);
  assert.equal((await c.get(n, 'k')).status, 404, 'nothing was written');
});

test('a backup taken while a lease exists restores with it; the restored lease counts its TTL anew', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  const id = (await c.request(leader, 'POST', '/leases', { body: { ttl: 3 } })).body.id as number;
  assert.equal(
    (await c.request(leader, 'POST', '/kv', { body: { key: 'held', value: 'x', lease: id } })).status,
    200,
  );
  assert.equal((await c.request(leader, 'POST', '/kv', { body: { key: 'free', value: 'y' } })).status, 200);
  const parts: Uint8Array[] = [];
  await c.client(follower).backup(async (chunk) => {
    parts.push(chunk.slice());
  });
  const bytes = new Uint8Array(Buffer.concat(parts));
  const opened = openBackup(bytes);
  assert.deepEqual(opened.sm.lease(id)?.keys, ['held']);
  assert.equal(opened.sm.lease(id)?.ttl, 3);

  // Restored into a new one-node cluster: the lease is there with its key, and, not renewed
  // there, expires a TTL after the node started.
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-lease-restore-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'backup.snap');
  await writeFile(file, bytes);
  const [port] = await freePorts(1, LOOPBACK);
  const spec = `n1=${LOOPBACK}:${port}`;
  const io = { out: () => {}, err: () => {} };
  const dataDir = path.join(dir, 'n1');
  assert.equal(
    await runSnapshotRestore(
      parseSnapshotRestore([file, '--id', 'n1', '--cluster', spec, '--data-dir', dataDir]),
      io,
    ),
    0,
  );
  const startedAt = performance.now();
  const node = await startNode({
    id: 'n1',
    cluster: { n1: { host: LOOPBACK, port: port! } },
    dataDir,
    heartbeatIntervalMs: 50,
    electionTimeoutMs: 500,
    logSink: () => {},
  });
  t.after(() => node.stop());
  const client = testClient(`http://${LOOPBACK}:${port}`);
  const restored = await waitFor('the restored lease', async () => {
    const a = await client.lease(id);
    return a;
  });
  assert.deepEqual(restored.keys, ['held']);
  assert.equal(restored.ttl, 3);
  assert.equal((await client.get('free')).value, 'y');
  await waitFor('the restored lease expires', async () => (await client.get('held')).value === null, {
    timeoutMs: 3000 + 10_000,
  });
  assert.ok(performance.now() - startedAt >= 3000, 'not before a TTL after the restored node started');
  assert.equal((await client.get('free')).value, 'y', 'keys without a lease stay');
});
