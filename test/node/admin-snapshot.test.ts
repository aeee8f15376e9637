// Goal: POST /admin/snapshot takes a snapshot of the node's state now (outside the cadence rules),
// answers once it is recorded, and a restart recovers from it.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

test('POST /admin/snapshot snapshots now, on leader and follower; a restart starts from it', async (t) => {
  // The default cadence (10,000 entries) takes no snapshot in this test by itself.
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  for (let i = 0; i < 40; i++) assert.equal((await c.putRetrying(leader, `s/${i}`, `v${i}`)).status, 200);
  const commit = (await c.debug(leader)).commitIndex;
  assert.equal((await c.debug(leader)).snapshotIndex, 0);

  const r = await c.request(leader, 'POST', '/admin/snapshot');
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.nodeId, leader);
  assert.equal(r.body.taken, true);
  assert.ok(r.body.index >= commit, `snapshot at ${r.body.index}, commit was ${commit}`);
  assert.equal(r.body.keys, 40);
  assert.ok(r.body.bytes > 40 * 3, `${r.body.bytes} bytes`);
  assert.equal(typeof r.body.ms, 'number');
  assert.equal((await c.debug(leader)).snapshotIndex, r.body.index);
  assert.ok(c.logged(leader, 'snapshot taken'));

  // Nothing applied since: the existing snapshot is reported, none is taken.
  const again = await c.request(leader, 'POST', '/admin/snapshot');
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.taken, false);
  assert.equal(again.body.index, r.body.index);

  // A follower snapshots its own applied state.
  await waitFor('follower applied', async () => (await c.debug(follower)).lastApplied >= commit, {
    timeoutMs: 10_000,
  });
  const f = await c.request(follower, 'POST', '/admin/snapshot');
  assert.equal(f.status, 200, f.text);
  assert.equal(f.body.taken, true);
  assert.equal(f.body.keys, 40);

  // Wrong method: a clear 404, nothing taken (GET is the backup: test/node/backup.test.ts).
  assert.equal((await c.request(leader, 'DELETE', '/admin/snapshot')).status, 404);

  // A restart recovers from the snapshot (plus the WAL after it).
  assert.equal((await c.putRetrying(leader, 's/after', 'x')).status, 200);
  const before = c.logs.get(leader)!.length;
  await c.restartNode(leader);
  const starting = c.logs
    .get(leader)!
    .slice(before)
    .find((l) => l.includes(' starting '));
  assert.ok(starting, 'logged its start');
  assert.equal(Number(/ snapshot=(\d+)/.exec(starting)?.[1]), r.body.index, starting);
  await c.waitForLeader();
  const all = await c.request(leader, 'GET', '/kv?prefix=s/&limit=100');
  assert.equal(all.status, 200, all.text);
  assert.equal(all.body.items.length, 41);
});
