// Goal: the teaching chapter's exercise 2 with real processes — kill -9 the leader: a new leader
// is elected, writes go on, the old leader restarts on its data dir and catches up as a follower.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';

async function writeKeys(cluster: ProcessCluster, via: string, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await cluster.put(via, `${prefix}${i}`, `${prefix}${i}-value`);
    assert.equal(r.status, 200, `write ${prefix}${i} via ${via}: ${r.text}`);
  }
}

test('exercise 2: after kill -9 of the leader a new one is elected and the old one catches up', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    const oldLeader = await cluster.waitForLeader();
    const oldTerm = (await cluster.debug(oldLeader)).term;
    await writeKeys(cluster, oldLeader, 'before/', 20);

    const exit = await cluster.kill9(oldLeader);
    assert.equal(exit.signal, 'SIGKILL');
    const survivors = cluster.ids.filter((id) => id !== oldLeader);
    const newLeader = await cluster.waitForLeader(survivors);
    const newTerm = (await cluster.debug(newLeader)).term;
    assert.notEqual(newLeader, oldLeader);
    assert.ok(newTerm > oldTerm, `new term ${newTerm} > old term ${oldTerm}`);

    // Writes continue, on the new leader and through the other survivor.
    const other = survivors.find((id) => id !== newLeader)!;
    await writeKeys(cluster, newLeader, 'during/', 15);
    await writeKeys(cluster, other, 'forwarded/', 5);

    // Everything written before the crash survived it.
    const before = await cluster.list(newLeader, 'before/');
    assert.equal(before.size, 20);

    // The old leader restarts on the same data dir, follows the new leader and catches up.
    await cluster.startNode(oldLeader);
    await waitFor(`${oldLeader} following ${newLeader} in term ${newTerm}`, async () => {
      const d = await cluster.debug(oldLeader);
      return d.state === 'follower' && d.leaderId === newLeader && d.term === newTerm;
    });
    await writeKeys(cluster, newLeader, 'after/', 5);
    await cluster.waitConverged();
    for (const [prefix, n] of [
      ['before/', 20],
      ['during/', 15],
      ['forwarded/', 5],
      ['after/', 5],
    ] as const) {
      const local = await cluster.list(oldLeader, prefix, 'stale');
      assert.equal(local.size, n, `${oldLeader} holds all of ${prefix}`);
      for (let i = 0; i < n; i++) assert.equal(local.get(`${prefix}${i}`), `${prefix}${i}-value`);
    }
    // It has committed exactly what the new leader committed.
    assert.equal((await cluster.debug(oldLeader)).commitIndex, (await cluster.debug(newLeader)).commitIndex);
  });
});
