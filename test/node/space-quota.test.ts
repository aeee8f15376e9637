// Goal: a cluster whose state reaches its quota keeps working for everything but growth. The
// leader puts its --quota-bytes in the log; once the state is full a growing write gets 507
// no_space (definite: nothing written) on the leader and through a follower; reads go on, deletes
// and shrinking writes apply, and once deletes made room writes resume without a restart. The
// refusal and the recovery each log one line, /debug shows the state, and the answering node's
// metrics count the refusals.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

const QUOTA = 24_000;

test('a tiny quota fills, refuses growth, serves reads and deletes, and resumes writes', async (t) => {
  const c = await startCluster(t, { size: 3, quotaBytes: QUOTA, minFreeBytes: 0 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  const space = async (id: string) =>
    (await c.debug(id)).space as {
      stateBytes: number;
      quotaBytes: number | null;
      alarms: string[];
      refusing: boolean;
    };
  await waitFor(
    'the leader put its quota in the log, and every node applied it',
    async () => (await Promise.all(c.ids.map(space))).every((s) => s.quotaBytes === QUOTA),
    { timeoutMs: 15_000 },
  );

  // Fill: 1 KiB values until the first refusal.
  const value = 'v'.repeat(1000);
  let stored = 0;
  let refused: Awaited<ReturnType<typeof c.put>> | null = null;
  for (let i = 0; i < 100 && refused === null; i++) {
    const r = await c.put(leader, `k${i}`, value);
    if (r.status === 200) stored++;
    else refused = r;
  }
  assert.ok(refused !== null, 'the quota was reached');
  assert.ok(stored >= 5, `some writes fit first (${stored})`);
  assert.equal(refused.status, 507, refused.text);
  assert.equal(refused.body.code, 'no_space');
  assert.equal(refused.body.definite, true);
  assert.equal(refused.body.reason, 'quota');
  assert.equal(refused.body.quotaBytes, QUOTA);
  assert.equal((await c.get(leader, `k${stored}`)).status, 404, 'the refused write wrote nothing');

  // Through a follower the answer is the same. It hands the write to the leader over the peer
  // connection; the leader appends it (it refuses at once only the writes it takes itself) and
  // the state machine refuses it as it applies, so the follower answers from its own apply.
  const viaFollower = await c.put(follower, 'another', value);
  assert.equal(viaFollower.status, 507, viaFollower.text);
  assert.equal(viaFollower.body.code, 'no_space');
  assert.equal(viaFollower.body.definite, true);
  assert.equal(viaFollower.body.reason, 'quota');
  assert.equal(viaFollower.body.quotaBytes, QUOTA);
  assert.equal((await c.get(leader, 'another')).status, 404, 'the refused write wrote nothing');
  // Each refusal is counted by the node that answered it, by reason.
  const rejected = async (id: string): Promise<number> =>
    seriesValue(parseExposition(await c.client(id).metrics()), 'raftkv_requests_rejected_total', {
      reason: 'no_space_quota',
    });
  assert.equal(await rejected(leader), 1);
  assert.equal(await rejected(follower), 1);

  // A compare-and-set whose precondition fails is a 409, full or not; an alarm for a node that is
  // not a member is refused.
  const cas = await c.request(leader, 'POST', '/kv', {
    body: { key: 'k0', value: 'w'.repeat(2000), prevValue: 'not the value' },
  });
  assert.equal(cas.status, 409, cas.text);
  const ghost = await c.request(follower, 'POST', '/admin/alarms', {
    body: { node: 'ghost', alarm: 'no_space', active: true },
  });
  assert.equal(ghost.status, 400, ghost.text);

  // Snapshots and compaction still run at the quota (they are how space comes back).
  const snap = await c.request(leader, 'POST', '/admin/snapshot');
  assert.equal(snap.status, 200, snap.text);

  // Reads everywhere, a shrinking write, deletes.
  for (const id of c.ids) assert.equal((await c.get(id, 'k0')).body.value, value);
  assert.equal((await c.put(leader, 'k0', 'short')).status, 200, 'a shrinking write applies');
  for (let i = 1; i < stored; i++) {
    const d = await c.request(follower, 'DELETE', `/kv/k${i}`);
    assert.equal(d.status, 200, d.text);
  }
  // Writes resume by themselves.
  const again = await c.put(follower, 'after', value);
  assert.equal(again.status, 200, again.text);
  assert.ok((await space(leader)).stateBytes <= QUOTA);
  await waitFor('the recovery was logged', () => c.logged(leader, 'space again'), { timeoutMs: 10_000 });
  assert.ok(c.logged(leader, 'no space: writes that grow the state are refused'), 'the refusal was logged');
  assert.equal(c.logs.get(leader)!.filter((l) => l.includes('no space: writes that grow')).length, 1, 'once');
});
