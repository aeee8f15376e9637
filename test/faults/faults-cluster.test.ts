// Goal: each fault does to a running 3-node cluster what its real counterpart would. An isolated
// leader is replaced by the other two, which take writes; a write through it never commits (it
// fails, and is not in the log after the heal); healed, it catches up. Cutting one link leaves
// the cluster working. A paused follower falls behind, answers nothing but the operator routes,
// and catches up once resumed. A follower cut off from the leader refuses to forward a write, as
// a refused connection would (definite). A slow disk makes a write wait for it; delayed messages
// only slow the cluster down. Every wait is a condition with a deadline; no timing is asserted
// but "at least the delay".

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noFaults } from '../../src/api/faults.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/** A write's failure as the error table has it: codes of a definite refusal, or an unknown outcome. */
function assertFailedWrite(a: Answer, what: string): void {
  assert.notEqual(a.status, 200, `${what}: ${a.text}`);
  const definite: Record<string, boolean> = {
    no_leader: true,
    not_leader: true,
    leadership_lost: false,
    timeout: false,
  };
  assert.ok(a.body.code in definite, `${what}: unexpected ${a.text}`);
  assert.equal(a.body.definite, definite[a.body.code], `${what}: ${a.text}`);
}

async function valueOn(c: TestCluster, id: string, key: string): Promise<string | null> {
  const a = await c.get(id, key, 'stale');
  return a.status === 200 ? a.body.value : null;
}

test('an isolated leader is replaced; a write through it never commits; healed, it catches up', async (t) => {
  const c = await startCluster(t, { enableFaults: true });
  const old = await c.waitForLeader();
  const { term } = await c.debug(old);
  assert.equal((await c.putRetrying(old, 'k', 'v1')).status, 200);

  await c.client(old).setFaults({ isolate: true });
  const others = c.ids.filter((id) => id !== old);
  const next = await c.waitForLeader({ among: others, afterTerm: term });
  assert.equal((await c.putRetrying(next, 'k', 'v2')).status, 200);
  // Client HTTP to the isolated node still works; its writes cannot commit.
  const lost = await c.put(old, 'lost', 'x');
  assertFailedWrite(lost, 'a write through the isolated node');
  assert.equal(await valueOn(c, old, 'k'), 'v1');
  const status = await c.debug(old);
  assert.notEqual(status.state, 'leader', 'no longer leads (CheckQuorum)');

  assert.deepEqual(await c.client(old).healFaults(), noFaults);
  await waitFor(`${old} has v2`, async () => (await valueOn(c, old, 'k')) === 'v2', { timeoutMs: 15_000 });
  await c.waitForLeader();
  // The write it took while cut off is not in the cluster's log.
  const after = await c.get(next, 'lost');
  assert.equal(after.status, 404, after.text);
  assert.equal((await c.putRetrying(old, 'k', 'v3')).status, 200);
});

test('one link cut (leader to a follower): the cluster keeps working, then the follower catches up', async (t) => {
  const c = await startCluster(t, { enableFaults: true });
  const leader = await c.waitForLeader();
  const [cut, other] = c.ids.filter((id) => id !== leader) as [string, string];
  await c.client(leader).setFaults({ dropTo: [cut] });
  for (let i = 0; i < 5; i++) {
    assert.equal((await c.putRetrying(leader, `a${i}`, `${i}`)).status, 200);
    assert.equal((await c.putRetrying(other, `b${i}`, `${i}`)).status, 200);
  }
  assert.equal(await valueOn(c, other, 'a4'), '4');
  assert.equal(await valueOn(c, cut, 'a4'), null, 'the cut follower hears nothing of the leader');
  await c.client(leader).healFaults();
  await waitFor(`${cut} catches up`, async () => (await valueOn(c, cut, 'b4')) === '4', {
    timeoutMs: 15_000,
  });
});

test('a paused follower falls behind and catches up after resume', async (t) => {
  const c = await startCluster(t, { enableFaults: true });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  assert.equal((await c.putRetrying(leader, 'k0', 'v')).status, 200);
  await waitFor(`${follower} applied k0`, async () => (await valueOn(c, follower, 'k0')) === 'v');
  await c.client(follower).setFaults({ paused: true });
  const before = (await c.debug(follower)).lastApplied;
  for (let i = 1; i <= 10; i++) assert.equal((await c.putRetrying(leader, `k${i}`, 'v')).status, 200);
  const leaderApplied = (await c.debug(leader)).lastApplied;
  const paused = await c.debug(follower);
  assert.equal(paused.lastApplied, before, 'a paused node applies nothing');
  assert.ok(paused.lastApplied < leaderApplied);
  assert.ok((paused.faults as { heldMessages: number }).heldMessages > 0, 'peer messages are held');
  // Still a follower of the same leader: it cannot have noticed anything while paused.
  assert.equal(paused.leaderId, leader);

  await c.client(follower).setFaults({ paused: false });
  await waitFor(
    `${follower} catches up`,
    async () => (await c.debug(follower)).lastApplied >= leaderApplied,
    {
      timeoutMs: 15_000,
    },
  );
  assert.equal(await valueOn(c, follower, 'k10'), 'v');
  assert.equal(((await c.debug(follower)).faults as { heldMessages: number }).heldMessages, 0);
});

test('a follower cut off from the leader does not forward writes to it: not_leader, definite', async (t) => {
  const c = await startCluster(t, { enableFaults: true });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  // Only its messages to the leader are lost: it still hears the leader, so it knows who leads.
  await c.client(follower).setFaults({ dropTo: [leader] });
  const a = await c.put(follower, 'k', 'v');
  assert.equal(a.status, 503, a.text);
  assert.equal(a.body.code, 'not_leader');
  assert.equal(a.body.definite, true);
  assert.match(a.body.error, /cut off .* by fault injection/);
  assert.equal((await c.get(leader, 'k')).status, 404, 'nothing was written');
  await c.client(follower).healFaults();
  assert.equal((await c.putRetrying(follower, 'k', 'v')).status, 200);
});

test('a slow disk: a write on a one-node cluster takes at least the delay', async (t) => {
  const c = await startCluster(t, { size: 1, enableFaults: true });
  await c.waitForLeader();
  assert.equal((await c.putRetrying('n1', 'warm', 'up')).status, 200);
  const delay = 300;
  await c.client('n1').setFaults({ diskDelayMs: delay });
  const from = performance.now();
  const a = await c.put('n1', 'k', 'v');
  const took = performance.now() - from;
  assert.equal(a.status, 200, a.text);
  assert.ok(took >= delay, `the write took ${took} ms, less than the disk delay`);
  await c.client('n1').healFaults();
  assert.equal((await c.putRetrying('n1', 'k', 'w')).status, 200);
});

test('delayed messages slow the cluster down but lose nothing', async (t) => {
  const c = await startCluster(t, { enableFaults: true });
  const leader = await c.waitForLeader();
  // Well under the election timeout (500 ms): no election, just slower commits.
  await c.client(leader).setFaults({ messageDelayMs: 40 });
  const from = performance.now();
  assert.equal((await c.putRetrying(leader, 'k', 'v')).status, 200);
  assert.ok(performance.now() - from >= 40, 'a commit needs the AppendEntries to arrive');
  for (let i = 0; i < 20; i++) assert.equal((await c.putRetrying(leader, `m${i}`, `${i}`)).status, 200);
  for (const id of c.ids) {
    await waitFor(`${id} has every write`, async () => (await valueOn(c, id, 'm19')) === '19');
  }
  await c.client(leader).healFaults();
});
