// Goal: many concurrent writes through every node all succeed once each, at distinct committed indexes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

/** A little more election slack than the default: every write here must succeed, even on a busy machine. */
const timing = { size: 3, heartbeatIntervalMs: 50, electionTimeoutMs: 500 };

test('200 concurrent writes through different nodes succeed with distinct indexes, all committed', async (t) => {
  const c = await startCluster(t, timing);
  const leader = await c.waitForLeader();
  const term = (await c.debug(leader)).term;
  const n = 200;
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => c.put(c.ids[i % c.ids.length]!, `conc/${i}`, `v${i}`)),
  );
  const indexes = new Set<number>();
  for (const [i, r] of answers.entries()) {
    assert.equal(r.status, 200, `write ${i}: ${r.status} ${r.text}`);
    assert.equal(r.body.key, `conc/${i}`);
    assert.equal(r.body.value, `v${i}`);
    assert.ok(Number.isSafeInteger(r.body.index) && r.body.index > 0);
    indexes.add(r.body.index);
  }
  assert.equal(indexes.size, n, 'every write got its own log index');

  const maxIndex = Math.max(...indexes);
  const d = await c.debug(leader);
  if (d.state === 'leader' && d.term === term) {
    // The leader that answered: it committed (and applied) every index it answered with.
    assert.ok(
      maxIndex <= d.commitIndex,
      `index ${maxIndex} answered but leader's commit is ${d.commitIndex}`,
    );
    assert.ok(maxIndex <= d.lastApplied);
  } else {
    // Leadership moved meanwhile: the new leader learns the commit index with its first commit.
    const next = await c.waitForLeader();
    await waitFor('new leader commit', async () => (await c.debug(next)).commitIndex >= maxIndex, {
      timeoutMs: 10_000,
    });
  }

  // Each write is there exactly as written, read from every node.
  for (const id of c.ids) {
    const list = await c.request(id, 'GET', '/kv?prefix=conc/&limit=1000');
    assert.equal(list.status, 200, list.text);
    assert.equal(list.body.items.length, n);
    assert.equal(list.body.more, false);
    for (const { key, value } of list.body.items as { key: string; value: string }[]) {
      assert.equal(value, `v${key.slice('conc/'.length)}`);
    }
    assert.ok(list.body.index >= maxIndex);
  }
});

test('concurrent writes to one key: the final value is the one at the highest index', async (t) => {
  const c = await startCluster(t, timing);
  await c.waitForLeader();
  const answers = await Promise.all(
    Array.from({ length: 60 }, (_, i) => c.put(c.ids[i % c.ids.length]!, 'contended', `w${i}`)),
  );
  for (const r of answers) assert.equal(r.status, 200, r.text);
  const last = answers.reduce((a, b) => (a.body.index > b.body.index ? a : b));
  for (const id of c.ids) assert.equal((await c.get(id, 'contended')).body.value, last.body.value);
});

test('concurrent compare-and-set on one key: exactly one of the racers wins', async (t) => {
  const c = await startCluster(t, timing);
  await c.waitForLeader();
  const answers = await Promise.all(
    Array.from({ length: 30 }, (_, i) =>
      c.request(c.ids[i % c.ids.length]!, 'POST', '/kv', {
        body: { key: 'lock', value: `owner${i}`, prevValue: null },
      }),
    ),
  );
  const winners = answers.filter((r) => r.status === 200);
  assert.equal(winners.length, 1, answers.map((r) => r.status).join(','));
  for (const r of answers) {
    if (r.status === 200) continue;
    assert.equal(r.status, 409, r.text);
    assert.equal(r.body.value, winners[0]!.body.value);
  }
  assert.equal((await c.get(c.ids[0]!, 'lock')).body.value, winners[0]!.body.value);
});
