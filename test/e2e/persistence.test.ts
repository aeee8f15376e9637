// Goal: the teaching chapter's exercise 4 with real processes — write, stop every node, restart
// every node: every acknowledged write is there. Once with SIGTERM (graceful: exit 0, even with
// writes in flight) and once with kill -9 of every node at the same moment.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkWorkload, defaultWorkload, Workload } from '../crash/workload.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { seedFromEnv } from '../support/random.js';

const seed = seedFromEnv('RAFTKV_CRASH_SEED');

/** Writes `n` keys with 16 concurrent writers; all must be acknowledged. */
async function writeAll(cluster: ProcessCluster, prefix: string, n: number): Promise<Map<string, string>> {
  const written = new Map<string, string>();
  let next = 0;
  const writer = async (): Promise<void> => {
    for (let i = next++; i < n; i = next++) {
      const id = cluster.ids[i % cluster.ids.length]!;
      const key = `${prefix}${i}`;
      const value = `${prefix}${i}:${'x'.repeat(i % 300)}`;
      const r = await cluster.put(id, key, value);
      assert.equal(r.status, 200, `write ${key} via ${id}: ${r.text}`);
      written.set(key, value);
    }
  };
  await Promise.all(Array.from({ length: 16 }, writer));
  return written;
}

async function assertAllThere(cluster: ProcessCluster, prefix: string, expected: Map<string, string>) {
  const leader = await cluster.waitForLeader();
  const got = await cluster.list(leader, prefix);
  assert.equal(got.size, expected.size, `${prefix}: ${got.size} keys of ${expected.size}`);
  for (const [k, v] of expected) assert.equal(got.get(k), v, k);
  await cluster.waitConverged();
  for (const id of cluster.ids) {
    const local = await cluster.list(id, prefix, 'stale');
    assert.deepEqual(local, got, `${id} holds the same as the leader`);
  }
}

test('exercise 4: SIGTERM every node, restart: every acknowledged write is there', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    await cluster.waitForLeader();
    const written = await writeAll(cluster, 'p/', 200);

    const exits = await cluster.stopAll();
    for (const [id, e] of exits) assert.deepEqual(e, { code: 0, signal: null }, `${id} exits 0 on SIGTERM`);
    for (const id of cluster.ids)
      assert.ok(cluster.node(id).lines('stopped').length > 0, `${id} logged its stop`);

    await cluster.startAll();
    await assertAllThere(cluster, 'p/', written);
    // A torn tail is not expected after a graceful stop.
    for (const id of cluster.ids) assert.deepEqual(cluster.node(id).lines('torn'), [], id);
  });
});

test('exercise 4: SIGTERM every node while 32 clients write: exit 0, nothing acknowledged lost', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  const w = new Workload(cluster, seed, { ...defaultWorkload, prefix: 'load/' });
  await cluster.diagnose(async () => {
    await cluster.waitForLeader();
    w.start();
    let exits: Map<string, { code: number | null; signal: string | null }>;
    try {
      await w.waitForAcks(300, 'writes acknowledged under load');
      exits = await cluster.stopAll();
    } finally {
      await w.stop();
    }
    for (const [id, e] of exits) assert.deepEqual(e, { code: 0, signal: null }, `${id} exits 0 on SIGTERM`);
    await cluster.startAll();
    const r = await checkWorkload(cluster, w);
    t.diagnostic(
      `${r.ok} acknowledged, ${r.unknown} unknown (${r.unknownVisible} visible), ${r.failed} failed`,
    );
  }, `seed ${seed}`);
});

test('exercise 4: kill -9 every node at once, restart: every acknowledged write is there', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    await cluster.waitForLeader();
    const written = await writeAll(cluster, 'k/', 200);

    await cluster.kill9All();
    await cluster.startAll();
    await assertAllThere(cluster, 'k/', written);

    // And once more, with a second round of writes on top of the recovered state.
    const more = await writeAll(cluster, 'k2/', 100);
    await cluster.kill9All();
    await cluster.startAll();
    await assertAllThere(cluster, 'k/', written);
    await assertAllThere(cluster, 'k2/', more);
  });
});
