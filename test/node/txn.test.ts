// Goal: POST /txn on a real in-process cluster — through any node (a follower forwards), atomic
// at one index, a compare-and-swap that two contenders cannot both win, an Idempotency-Key
// answered with the first results, and every malformed body a 400 or 413 that names the element
// at fault, before anything is proposed.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KV_LIMITS } from '../../src/kv/index.js';
import { startCluster } from '../support/cluster.js';

test('a transaction through a follower: one index, both branches, idempotent retries', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  assert.equal((await c.putRetrying(leader, 'cfg/a', '1')).status, 200);
  const body = {
    compare: [{ key: 'cfg/a', target: 'value', op: '==', value: '1' }],
    success: [
      { put: { key: 'cfg/a', value: '2' } },
      { put: { key: 'cfg/b', value: 'x' } },
      { get: { key: 'cfg/a' } },
    ],
    failure: [{ get: { key: 'cfg/a' } }],
  };
  const headers = { 'Idempotency-Key': 'txn-1' };
  const first = await c.request(follower, 'POST', '/txn', { body, headers });
  assert.equal(first.status, 200, first.text);
  assert.equal(first.body.succeeded, true);
  const index = Number(first.body.index);
  const results = first.body.results as Record<string, Record<string, unknown>>[];
  assert.equal(results.length, 3);
  assert.deepEqual(results[0]!.put, {
    key: 'cfg/a',
    value: '2',
    version: 2,
    createIndex: index - 1,
    modIndex: index,
  });
  assert.equal(results[1]!.put!.modIndex, index, 'every op at the one index');
  assert.equal(results[2]!.get!.value, '2', 'a get sees the put before it');
  // The retry gets the first answer, though the compare no longer holds.
  const again = await c.request(leader, 'POST', '/txn', { body, headers });
  assert.equal(again.status, 200, again.text);
  assert.deepEqual(again.body, first.body);
  // Without the key, the compare fails now: the failure branch reads the current value.
  const failed = await c.request(follower, 'POST', '/txn', { body });
  assert.equal(failed.status, 200, failed.text);
  assert.equal(failed.body.succeeded, false);
  assert.deepEqual((failed.body.results as { get: { value: string } }[])[0]!.get.value, '2');
  // The same Idempotency-Key on a put is a definite 400: it answered a transaction.
  const reused = await c.request(leader, 'POST', '/kv', { body: { key: 'k', value: 'v' }, headers });
  assert.equal(reused.status, 400, reused.text);
  assert.match(String(reused.body.error), /transaction/);
});

test('create-if-absent by transaction: of many contenders exactly one wins', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'];
  const answers = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      c.request(nodes[i % 3]!, 'POST', '/txn', {
        body: {
          compare: [{ key: 'lock/job', target: 'createIndex', op: '==', value: 0 }],
          success: [{ put: { key: 'lock/job', value: `owner-${i}` } }],
          failure: [{ get: { key: 'lock/job' } }],
        },
      }),
    ),
  );
  for (const a of answers) assert.equal(a.status, 200, a.text);
  const winners = answers.filter((a) => a.body.succeeded === true);
  assert.equal(winners.length, 1);
  const owner = (winners[0]!.body.results as { put: { value: string } }[])[0]!.put.value;
  for (const a of answers.filter((x) => x.body.succeeded === false)) {
    assert.equal(
      (a.body.results as { get: { value: string } }[])[0]!.get.value,
      owner,
      'losers see the winner',
    );
  }
  assert.equal((await c.get(leader, 'lock/job')).body.value, owner);
});

test('malformed transactions are 400 or 413, naming the element at fault', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  const many = Array.from({ length: KV_LIMITS.maxTxnOps + 1 }, (_, i) => ({ get: { key: `k${i}` } }));
  const big = 'x'.repeat(KV_LIMITS.maxValueBytes);
  const cases: [unknown, number, RegExp][] = [
    [[], 400, /JSON object/],
    [{ compares: [] }, 400, /unknown field "compares"/],
    [{ compare: {} }, 400, /compare must be a list/],
    [{ compare: [{ key: 'a', target: 'size', op: '==', value: 1 }] }, 400, /compare\[0\]\.target/],
    [{ compare: [{ key: 'a', target: 'version', op: '=', value: 1 }] }, 400, /compare\[0\]\.op/],
    [
      { compare: [{ key: 'a', target: 'version', op: '==', value: -1 }] },
      400,
      /compare\[0\]\.value must be an integer/,
    ],
    [{ compare: [{ key: 'a', target: 'exists', op: '<', value: true }] }, 400, /== or != for target exists/],
    [{ compare: [{ key: 'a', target: 'value', op: '==' }] }, 400, /missing "value"/],
    [{ compare: [{ key: '', target: 'value', op: '==', value: 'v' }] }, 400, /compare\[0\]\.key/],
    [{ success: [{ put: { key: 'a' } }] }, 400, /success\[0\]\.put is missing "value"/],
    [{ success: [{ put: { key: 'a', value: 1 } }] }, 400, /success\[0\]\.put\.value/],
    [{ success: [{ put: { key: 'a', value: 'v', lease: 0 } }] }, 400, /lease id/],
    [{ success: [{ put: { key: 'a', value: 'v' }, get: { key: 'a' } }] }, 400, /exactly one of/],
    [{ failure: [{ range: { key: 'a' } }] }, 400, /failure\[0\] has unknown field "range"/],
    [{ success: [{ delete: { key: 'a' } }, { put: { key: 'a', value: 'v' } }] }, 400, /writes key "a" twice/],
    [{ success: many }, 413, /at most 128/],
    [
      { success: [{ put: { key: 'a', value: big } }, { put: { key: 'b', value: big } }] },
      413,
      /pass \d+ bytes/,
    ],
    [{ success: [{ put: { key: 'a', value: `${big}x` } }] }, 413, /success\[0\]\.put\.value/],
  ];
  for (const [body, status, message] of cases) {
    const a = await c.request(id, 'POST', '/txn', { body });
    assert.equal(a.status, status, `${JSON.stringify(body).slice(0, 120)} → ${a.text.slice(0, 200)}`);
    assert.match(String(a.body.error), message, JSON.stringify(body).slice(0, 120));
  }
  const lease = await c.request(id, 'POST', '/txn', {
    body: { success: [{ put: { key: 'a', value: 'v', lease: 77 } }] },
  });
  assert.equal(lease.status, 404, lease.text);
  assert.equal(lease.body.code, 'lease_not_found');
  assert.equal((await c.get(id, 'a')).status, 404, 'nothing written');
});
