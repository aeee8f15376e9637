// Goal: stopping every node and starting them again on the same data dirs loses no acknowledged write, term or vote.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

test('all nodes stop and start again on the same data dirs: every acknowledged key is there', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const n = 60;
  const written = new Map<string, string>();
  await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      const key = `key/${String(i).padStart(3, '0')}`;
      const value = `value ${i} ${'·'.repeat(i % 7)}`;
      const r = await c.putRetrying(c.ids[i % c.ids.length]!, key, value);
      assert.equal(r.status, 200, r.text);
      written.set(key, value);
    }),
  );
  // Overwrites and deletes must survive too, not just first writes.
  assert.equal((await c.putRetrying(leader, 'key/000', 'overwritten')).status, 200);
  written.set('key/000', 'overwritten');
  assert.equal((await c.request(leader, 'DELETE', '/kv/key/001')).body.deleted, true);
  written.delete('key/001');
  const idem = await c.put(leader, 'idem', 'once', { 'Idempotency-Key': 'survives-restart' });
  assert.equal(idem.status, 200);

  const terms = new Map<string, number>();
  for (const id of c.ids) terms.set(id, (await c.debug(id)).term);

  await c.stopAll();
  assert.deepEqual(c.runningIds(), []);
  await c.startAll();
  const newLeader = await c.waitForLeader();

  for (const id of c.ids) {
    const d = await c.debug(id);
    assert.ok(d.term >= terms.get(id)!, `${id}: term ${d.term} went back from ${terms.get(id)}`);
  }
  for (const id of c.ids) {
    // Linearizable list: everything committed before the stop is visible on every node.
    const list = await c.request(id, 'GET', '/kv?prefix=key/');
    assert.equal(list.status, 200, list.text);
    const got = new Map(list.body.items.map((i: { key: string; value: string }) => [i.key, i.value]));
    assert.deepEqual(
      got,
      new Map([...written].sort(([a], [b]) => (a < b ? -1 : 1))),
      `${id}: keys after restart`,
    );
    assert.equal((await c.get(id, 'key/001')).status, 404);
  }
  // The idempotency table is replicated state: it survives the restart too.
  const retry = await c.put(newLeader, 'idem', 'once', { 'Idempotency-Key': 'survives-restart' });
  assert.deepEqual(retry.body, idem.body);

  // And the restarted cluster takes new writes.
  assert.equal((await c.putRetrying(c.followerOf(newLeader), 'after', 'restart')).status, 200);
  await waitFor(
    'every node applies the new write',
    async () =>
      (await Promise.all(c.ids.map((id) => c.get(id, 'after', 'stale')))).every((r) => r.status === 200),
    { timeoutMs: 10_000 },
  );
});
