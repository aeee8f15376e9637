// Goal: when the leader stops, another is elected and writes go on; the old leader, restarted on its data dir, catches up.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

test('leader stops, a new one is elected, writes continue, the old leader rejoins and catches up', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const oldLeader = await c.waitForLeader();
  const before = await c.debug(oldLeader);

  for (let i = 0; i < 10; i++)
    assert.equal((await c.putRetrying(oldLeader, `before/${i}`, `b${i}`)).status, 200);
  assert.equal((await c.putRetrying(oldLeader, 'moving', 'old')).status, 200);

  await c.stopNode(oldLeader);
  assert.equal(c.node(oldLeader), undefined);

  const newLeader = await c.waitForLeader();
  assert.notEqual(newLeader, oldLeader);
  const after = await c.debug(newLeader);
  assert.ok(after.term > before.term, `term ${after.term} after ${before.term}`);

  // Writes go on through both survivors (one forwards to the other).
  const survivors = c.runningIds();
  let lastIndex = 0;
  for (let i = 0; i < 20; i++) {
    const r = await c.put(survivors[i % 2]!, `during/${i}`, `d${i}`);
    assert.equal(r.status, 200, r.text);
    lastIndex = Math.max(lastIndex, r.body.index);
  }
  const moved = await c.put(survivors[1]!, 'moving', 'new');
  assert.equal(moved.status, 200, moved.text);
  lastIndex = Math.max(lastIndex, moved.body.index);
  for (const id of survivors) assert.equal((await c.get(id, 'moving')).body.value, 'new');

  // The old leader comes back on its data dir: it has what it had, and catches up on the rest.
  await c.startNode(oldLeader);
  const commit = (await c.debug(newLeader)).commitIndex;
  assert.ok(commit >= lastIndex);
  await waitFor(
    `${oldLeader} applies up to the leader's commit ${commit}`,
    async () => (await c.debug(oldLeader)).lastApplied >= commit,
    { timeoutMs: 15_000 },
  );
  await waitFor(
    `${oldLeader} serves the value written while it was down`,
    async () => (await c.get(oldLeader, 'moving', 'stale')).body?.value === 'new',
    { timeoutMs: 15_000 },
  );
  const list = await c.request(oldLeader, 'GET', '/kv?prefix=during/&consistency=stale');
  assert.equal(list.body.items.length, 20);
  for (let i = 0; i < 10; i++)
    assert.equal((await c.get(oldLeader, `before/${i}`, 'stale')).body.value, `b${i}`);

  // It follows the new leader, and the cluster still takes writes from it.
  // waitForLeader includes the rejoined node: all three agree on one leader.
  await c.waitForLeader();
  assert.equal(c.node(oldLeader)?.fatalError, null);
  assert.equal((await c.putRetrying(oldLeader, 'after-rejoin', 'x')).status, 200);
  assert.equal((await c.get(survivors[0]!, 'after-rejoin')).body.value, 'x');
  await waitFor('healthy', async () => (await c.request(oldLeader, 'GET', '/health')).status === 200, {
    timeoutMs: 10_000,
  });
});

test('a stopped follower misses writes, restarts and catches up from the log', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  assert.equal((await c.putRetrying(follower, 'x', '1')).status, 200);
  await c.stopNode(follower);
  // The leader still has a majority with the third node.
  for (let i = 0; i < 10; i++) assert.equal((await c.putRetrying(leader, 'x', `${i + 2}`)).status, 200);
  await c.startNode(follower);
  await waitFor(
    'the restarted follower sees the last write',
    async () => (await c.get(follower, 'x', 'stale')).body?.value === '11',
    { timeoutMs: 15_000 },
  );
  // A linearizable read on it needs no waiting at all.
  assert.equal((await c.get(follower, 'x')).body.value, '11');
  assert.equal(c.logged(follower, 'installed snapshot'), false, 'caught up from the log, no snapshot needed');
});
