// Goal: the API client's typed calls return what the API answers and throw what it refuses with
// (the error code, the status, whether it is definite), on a real 3-node cluster; and a call
// without an answer says whether it ever reached the node, keeps to its deadline and stops when
// its signal aborts it.

import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  apiRequests,
  PreconditionFailedError,
  RaftkvApiError,
  RaftkvClient,
  RaftkvConnectionError,
} from '../../src/client/index.js';
import { TestCluster } from '../support/cluster.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';

describe('typed calls on a cluster', () => {
  let c: TestCluster;
  let leader: string;
  let follower: string;
  let client: RaftkvClient;
  before(async () => {
    c = await TestCluster.start();
    leader = await c.waitForLeader();
    follower = c.followerOf(leader);
    // Through a follower, with kept-alive connections: it forwards writes to the leader.
    client = new RaftkvClient(c.client(follower).url);
  });
  after(async () => {
    client.close();
    await c.cleanup();
  });

  test('put, get, compare-and-set, delete, list', async () => {
    const put = await client.put('a/1', 'one', { idempotencyKey: 'client-test-1' });
    assert.equal(put.key, 'a/1');
    assert.equal(put.value, 'one');
    assert.ok(put.index > 0);
    assert.deepEqual(await client.put('a/1', 'one', { idempotencyKey: 'client-test-1' }), put, 'a retry');

    const got = await client.get('a/1');
    assert.equal(got.value, 'one');
    assert.ok(got.index >= put.index);
    assert.equal((await client.get('a/1', { consistency: 'stale' })).key, 'a/1');
    const absent = await client.get('a/none');
    assert.equal(absent.value, null, 'absent is an answer, not an error');

    await client.compareAndSet('a/2', null, 'two');
    assert.equal((await client.compareAndSet('a/2', 'two', 'deux')).value, 'deux');
    await assert.rejects(
      client.put('a/2', 'zwei', { prevValue: 'two' }),
      (e: unknown) =>
        e instanceof PreconditionFailedError &&
        e.status === 409 &&
        e.code === 'precondition_failed' &&
        e.definite &&
        e.current === 'deux',
    );

    const list = await client.list('a/');
    assert.deepEqual(
      list.items.map((i) => [i.key, i.value]),
      [
        ['a/1', 'one'],
        ['a/2', 'deux'],
      ],
    );
    assert.equal(list.more, false);
    const page = await client.list('a/', { limit: 1, consistency: 'stale' });
    assert.equal(page.items.length, 1);
    assert.equal(page.more, true);

    const del = await client.delete('a/1', { idempotencyKey: 'client-test-del' });
    assert.deepEqual([del.key, del.deleted], ['a/1', true]);
    assert.equal((await client.delete('a/1')).deleted, false);
  });

  test('the node: status, probes, snapshot, alarms', async () => {
    const status = await client.status();
    assert.equal(status.nodeId, follower);
    assert.equal(status.state, 'follower');
    assert.equal(status.leaderId, leader);
    for (const probe of [client.health(), client.livez(), client.readyz()]) {
      const p = await probe;
      assert.equal(p.ok, true);
      assert.equal(p.nodeId, follower);
    }
    const snap = await c.client(leader).snapshot({ timeoutMs: 60_000 });
    assert.equal(snap.nodeId, leader);
    assert.ok(snap.index > 0);
    // The snapshot taken is timed in the leader's metrics; the follower knows its leader.
    const leaderMetrics = parseExposition(await c.client(leader).metrics());
    const taken = 'raftkv_snapshot_duration_seconds';
    assert.equal(seriesValue(leaderMetrics, taken, {}, `${taken}_count`), snap.taken ? 1 : 0);
    assert.equal(seriesValue(parseExposition(await client.metrics()), 'raftkv_has_leader'), 1);
    const space = await client.alarms();
    assert.deepEqual(space.alarms, []);
    assert.equal(typeof space.stateBytes, 'number');
  });

  test('refusals carry the code, the status and whether they are definite', async () => {
    await assert.rejects(
      client.put('', 'v'),
      (e: unknown) =>
        e instanceof RaftkvApiError && e.status === 400 && e.code === 'bad_request' && e.definite,
    );
    await assert.rejects(
      client.put('big', 'x'.repeat(2 << 20)),
      (e: unknown) => e instanceof RaftkvApiError && e.status === 413 && e.code === 'too_large',
    );
    await assert.rejects(
      client.put('k', 'v', { idempotencyKey: 'x'.repeat(300) }),
      (e: unknown) =>
        e instanceof RaftkvApiError && e.code === 'bad_request' && /Idempotency-Key/.test(e.message),
    );
    // A raw request: any status is an answer.
    const a = await client.send({ method: 'GET', path: '/nowhere' });
    assert.equal(a.status, 404);
    assert.equal((a.body as { code?: string }).code, 'not_found');
    assert.deepEqual(apiRequests.get('a b/ü'), { method: 'GET', path: '/kv/a%20b%2F%C3%BC' });
  });
});

describe('calls without an answer', () => {
  test('a refused connection never reached the node', async () => {
    const [port] = await freePorts(1);
    const client = new RaftkvClient(`${LOOPBACK}:${port}`, { keepAlive: false });
    await assert.rejects(
      client.get('k'),
      (e: unknown) =>
        e instanceof RaftkvConnectionError &&
        !e.connected &&
        !e.timedOut &&
        e.code === 'ECONNREFUSED' &&
        e.reason === 'connection refused',
    );
  });

  test('the deadline holds, and an aborted call rejects with its signal reason', async () => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, LOOPBACK, resolve));
    const client = new RaftkvClient(`http://${LOOPBACK}:${(silent.address() as AddressInfo).port}`, {
      timeoutMs: 200,
    });
    try {
      await assert.rejects(
        client.status(),
        (e: unknown) =>
          e instanceof RaftkvConnectionError && e.timedOut && e.connected && /200 ms/.test(e.reason),
      );
      const controller = new AbortController();
      const call = client.put('k', 'v', { timeoutMs: 60_000, signal: controller.signal });
      controller.abort(new Error('changed my mind'));
      await assert.rejects(call, /changed my mind/);
      await assert.rejects(client.get('k', { signal: AbortSignal.abort() }), (e: unknown) => {
        return e instanceof Error && e.name === 'AbortError';
      });
    } finally {
      client.close();
      silent.closeAllConnections();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });
});
