// Goal: the teaching chapter's exercise 1 with real processes — start a 3-node cluster, wait for
// the election, set a key on the leader, read the same value from every node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';

test('exercise 1: a value set on the leader is read back from every node', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();

    const w = await cluster.put(leader, 'greeting', 'hello, raft');
    assert.equal(w.status, 200, w.text);
    assert.equal(w.body.value, 'hello, raft');
    assert.ok(w.body.index > 0);

    // Linearizable reads (the default) on every node, followers included, see the write at once.
    for (const id of cluster.ids) {
      const r = await cluster.get(id, 'greeting');
      assert.equal(r.status, 200, `${id}: ${r.text}`);
      assert.equal(r.body.value, 'hello, raft', id);
      assert.ok(r.body.index >= w.body.index, `${id} read at index ${r.body.index} < ${w.body.index}`);
    }
    // Local (stale) reads catch up on every node.
    for (const id of cluster.ids) {
      await waitFor(
        `stale read of greeting on ${id}`,
        async () => (await cluster.get(id, 'greeting', 'stale')).body?.value === 'hello, raft',
      );
    }

    // A write sent to a follower is forwarded to the leader; every node then reads it.
    const follower = cluster.ids.find((id) => id !== leader)!;
    const f = await cluster.put(follower, 'via-follower', 'forwarded');
    assert.equal(f.status, 200, f.text);
    for (const id of cluster.ids)
      assert.equal((await cluster.get(id, 'via-follower')).body?.value, 'forwarded');

    // An absent key is 404 on every node.
    for (const id of cluster.ids) assert.equal((await cluster.get(id, 'never-set')).status, 404);

    // The same through the CLI's client commands.
    const put = await runCli(['put', 'cli-key', 'cli value', '--endpoints', cluster.endpoints()]);
    assert.equal(put.code, 0, `raftkv put: ${put.stderr}`);
    for (const id of cluster.ids) {
      const get = await runCli(['get', 'cli-key', '--endpoints', cluster.endpoints([id])]);
      assert.equal(get.code, 0, `raftkv get on ${id}: ${get.stderr}`);
      assert.match(get.stdout, /cli value/);
    }
  });
});
