// Goal: a node cut off from a majority never acknowledges a write or a linearizable read (503/504 within the request timeout), while stale reads still answer.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { waitFor } from '../support/wait.js';

const requestTimeoutMs = 1000;
/** Room for scheduling on a loaded machine; the bound is against hanging, not a speed test. */
const slackMs = 4000;

async function timed(what: Promise<Answer>): Promise<{ r: Answer; ms: number }> {
  const start = Date.now();
  const r = await what;
  return { r, ms: Date.now() - start };
}

/** Writes, deletes and linearizable reads on `id` all fail with 503/504, each within the request timeout. */
async function assertNoQuorumAnswers(c: TestCluster, id: string, round: number): Promise<void> {
  const attempts: [string, Promise<Answer>][] = [
    ['put', c.put(id, `lost-${round}`, 'never acknowledged')],
    ['cas', c.request(id, 'POST', '/kv', { body: { key: 'k', value: 'z', prevValue: 'v' } })],
    ['delete', c.request(id, 'DELETE', '/kv/k')],
    ['get', c.get(id, 'k')],
    ['list', c.request(id, 'GET', '/kv?prefix=k')],
  ];
  for (const [what, pending] of attempts) {
    const { r, ms } = await timed(pending);
    assert.ok(
      r.status === 503 || r.status === 504,
      `${what} on ${id} (round ${round}): ${r.status} ${r.text}`,
    );
    assert.equal(typeof r.body?.error, 'string', r.text);
    assert.equal(typeof r.body?.code, 'string', r.text);
    assert.ok(ms < requestTimeoutMs + slackMs, `${what} answered after ${ms} ms`);
  }
  // Stale reads are served from local state.
  const stale = await c.get(id, 'k', 'stale');
  assert.equal(stale.status, 200, stale.text);
  assert.equal(stale.body.value, 'v');
  const staleList = await c.request(id, 'GET', '/kv?prefix=k&consistency=stale');
  assert.equal(staleList.status, 200, staleList.text);
  assert.deepEqual(
    staleList.body.items.map((i: { key: string; value: string }) => ({ key: i.key, value: i.value })),
    [{ key: 'k', value: 'v' }],
  );
  assert.equal((await c.request(id, 'GET', '/debug')).status, 200);
}

for (const survivorRole of ['leader', 'follower'] as const) {
  test(`the ${survivorRole} alone: writes and linearizable reads fail with 503/504, stale reads answer`, async (t) => {
    const c = await startCluster(t, { size: 3, requestTimeoutMs });
    const leader = await c.waitForLeader();
    assert.equal((await c.putRetrying(leader, 'k', 'v')).status, 200);
    const survivor = survivorRole === 'leader' ? leader : c.followerOf(leader);
    // Let the survivor apply the write, so its stale read below has it.
    await waitFor('applied', async () => (await c.get(survivor, 'k', 'stale')).body?.value === 'v', {
      timeoutMs: 10_000,
    });

    await Promise.all(c.ids.filter((id) => id !== survivor).map((id) => c.stopNode(id)));
    assert.deepEqual(c.runningIds(), [survivor]);

    // Right away: the survivor may still believe in a leader (itself, or a stopped one).
    await assertNoQuorumAnswers(c, survivor, 1);

    // Once it has noticed (check-quorum / election timeout), it knows no leader and is unhealthy.
    await waitFor(
      'the survivor gives up on the leader',
      async () => {
        const d = await c.debug(survivor);
        return d.state !== 'leader' && d.leaderId === null;
      },
      { timeoutMs: 10_000 },
    );
    assert.equal((await c.request(survivor, 'GET', '/health')).status, 503);
    await assertNoQuorumAnswers(c, survivor, 2);
    assert.equal(c.node(survivor)?.fatalError, null);

    // With a majority back, the cluster works again. The failed writes' outcome was unknown:
    // they may or may not have committed, so they are not checked.
    await c.startAll();
    const newLeader = await c.waitForLeader();
    const r = await c.putRetrying(survivor, 'k', 'back');
    assert.equal(r.status, 200, r.text);
    assert.equal((await c.get(newLeader, 'k')).body.value, 'back');
  });
}
