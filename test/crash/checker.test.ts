// Goal: the crash test's check (workload.ts) really catches what it is there to catch. A short
// workload runs without faults, then the data is tampered with through the API — an acknowledged
// key deleted, an acknowledged value replaced, a key nobody wrote added, a hot key set back to an
// older acknowledged value — and the check must name every one of them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessCluster } from '../support/process-cluster.js';
import { seedFromEnv } from '../support/random.js';
import { checkWorkload, defaultWorkload, Workload } from './workload.js';

const seed = seedFromEnv('RAFTKV_CRASH_SEED');

test('the crash check catches a lost write, a replaced value, an invented key and a stale hot key', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  const w = new Workload(cluster, seed, { ...defaultWorkload, clients: 8, hotKeys: 1, hotFraction: 0.3 });
  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();
    w.start();
    try {
      await w.waitForAcks(200, 'writes acknowledged');
    } finally {
      await w.stop();
    }
    // Untouched, the check passes.
    await checkWorkload(cluster, w);

    const acked = w.writes.filter((r) => r.outcome === 'ok' && !r.key.includes('/hot/'));
    const lost = acked[0]!;
    const replaced = acked[1]!;
    const hot = w.writes.filter((r) => r.outcome === 'ok' && r.key === w.hotKey(0));
    const older = hot.find((a) => hot.some((b) => b.start > a.end));
    assert.ok(older !== undefined, 'two hot-key writes one after the other');

    assert.equal(
      (await cluster.request(leader, 'DELETE', `/kv/${encodeURIComponent(lost.key)}`)).status,
      200,
    );
    assert.equal((await cluster.put(leader, replaced.key, `${replaced.value}!`)).status, 200);
    assert.equal((await cluster.put(leader, `${w.clientPrefix(0)}never`, 'invented')).status, 200);
    assert.equal((await cluster.put(leader, `${defaultWorkload.prefix}elsewhere`, 'invented')).status, 200);
    assert.equal((await cluster.put(leader, older.key, older.value)).status, 200);

    await assert.rejects(checkWorkload(cluster, w), (e: Error) => {
      assert.match(e.message, new RegExp(`acknowledged write of ${lost.key} is lost: the key is absent`));
      assert.match(e.message, new RegExp(`key ${replaced.key} holds a value no client wrote`));
      assert.match(e.message, new RegExp(`key ${w.clientPrefix(0)}never exists but no client ever wrote it`));
      assert.match(e.message, /1 of them outside every prefix written/);
      assert.match(
        e.message,
        new RegExp(`key ${older.key} holds a value written before an acknowledged later write`),
      );
      return true;
    });
  });
});
