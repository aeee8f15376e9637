// Goal: the client's lock (etcd's recipe on leases) on a real in-process cluster — contenders
// hold it one at a time, in the order they asked, each with a larger fencing token; a holder's
// release lets the next one in at once; a holder whose lease is revoked behind its back learns it
// has lost the lock (`lost` fires) and the next contender takes over; a refused contender key is
// the API's error, not a lost lock, and leaves nothing behind.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftkvApiError } from '../../src/client/errors.js';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

test('contenders hold the lock one at a time, in order, with increasing fencing tokens', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'].map((id) => c.client(id));
  const held: string[] = [];
  let inside = 0;
  const tokens: number[] = [];
  const contender = async (i: number) => {
    const [first, ...rest] = [...nodes.slice(i % 3), ...nodes.slice(0, i % 3)];
    const lock = await first!.lock('jobs', { ttl: 5, failover: rest, owner: `c${i}` });
    inside++;
    assert.equal(inside, 1, 'two contenders inside at once');
    tokens.push(lock.token);
    held.push(`c${i}`);
    await new Promise((r) => setTimeout(r, 30));
    inside--;
    await lock.release();
  };
  // Each asks only once the one before it queued: their order is the queue's.
  const running: Promise<void>[] = [];
  for (let i = 0; i < 5; i++) {
    running.push(contender(i));
    await waitFor(`contender ${i} queued`, async () => {
      const list = await nodes[0]!.list('jobs/');
      return list.items.length >= i + 1 || held.length > i;
    });
  }
  await Promise.all(running);
  assert.deepEqual(held, ['c0', 'c1', 'c2', 'c3', 'c4']);
  assert.deepEqual(
    tokens,
    [...tokens].sort((a, b) => a - b),
  );
  assert.equal(new Set(tokens).size, 5);
  assert.deepEqual((await nodes[0]!.list('jobs/')).items, [], 'every contender key released');
});

test('a holder whose lease is revoked learns it lost the lock; the next contender takes over', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const before = performance.now();
  const a = await c.client('n1').lock('one', { ttl: 30 });
  // The lease lasts a TTL from the grant's send, which came after `before`.
  assert.ok(a.validUntil() >= before + 30_000, `valid until ${a.validUntil()}, asked at ${before}`);
  const waiting = c.client('n2').lock('one', { ttl: 30 });
  await c.client('n3').revokeLease(a.leaseId);
  await waitFor('the holder saw the loss', async () => a.lost.aborted);
  assert.match(String(a.lost.reason), /gone/);
  const b = await waiting;
  assert.ok(b.token > a.token);
  await a.release();
  await b.release();
  // Withdrawing while waiting: the contender's key goes with its lease.
  const holder = await c.client('n1').lock('two', { ttl: 30 });
  const stop = new AbortController();
  const waiter = c.client('n2').lock('two', { ttl: 30, signal: stop.signal });
  await waitFor('the waiter queued', async () => (await c.client('n1').list('two/')).items.length === 2);
  stop.abort(new Error('gave up'));
  await assert.rejects(waiter, /gave up/);
  await waitFor('its key is gone', async () => (await c.client('n1').list('two/')).items.length === 1);
  await holder.release();
  assert.equal(holder.lost.reason, 'released', 'released, not lost');
});

test('a refused owner value rejects with the API 413, not as a lost lock, and leaves nothing behind', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  await assert.rejects(
    c.client('n1').lock('big', { ttl: 30, owner: 'x'.repeat(1024 * 1024 + 1), failover: [c.client('n2')] }),
    (e) => e instanceof RaftkvApiError && e.status === 413,
  );
  assert.deepEqual((await c.client('n1').list('big/')).items, []);
  // The lock is free: the next contender takes it at once.
  const next = await c.client('n2').lock('big', { ttl: 30 });
  await next.release();
});
