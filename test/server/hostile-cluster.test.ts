// Goal: the bounded version of `npm run fuzz` (docs/fuzzing.md), in `npm test`: a few thousand
// seeded hostile and well-formed requests against a real 3-node cluster (node processes on
// loopback), leader and followers; afterwards every node is healthy, no answer broke the
// contract and every acknowledged write reads back, linearizably, on every node.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ProcessCluster } from '../support/process-cluster.js';
import { runHostileFuzz, statusSummary } from './hostile-run.js';

test('a seeded hostile run against a 3-node cluster breaks nothing', { timeout: 120_000 }, async (t) => {
  const cluster = await ProcessCluster.create(t);
  await cluster.waitForLeader();
  const requests = Number(process.env.RAFTKV_FUZZ_REQUESTS ?? 3_000);
  const seed = Number(process.env.RAFTKV_FUZZ_SEED ?? 20261207);
  const r = await runHostileFuzz(cluster, { requests, seed, concurrency: 8 }, (line) => t.diagnostic(line));
  t.diagnostic(`${requests} requests in ${r.seconds.toFixed(1)} s; answers ${statusSummary(r.byStatus)}`);
  assert.deepEqual(r.failures, [], `seed ${seed}`);
  assert.ok(r.keysWritten > 0, 'some writes were acknowledged');
  assert.ok(r.readsChecked >= r.keysWritten * cluster.ids.length);
});
