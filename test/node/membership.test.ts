// Goal: membership changes on real nodes (in process, real WAL, real peer connections): a brand-new
// node joins as a learner and is promoted by itself once caught up; a member is replaced; the
// leader can be moved and removed; a removed node stops and its data dir refuses to start again;
// every refusal has its code; no acknowledged write is lost on the way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { type Answer, request } from '../support/http.js';
import { waitFor } from '../support/wait.js';

async function api(
  c: TestCluster,
  id: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  return request(c.client(id), method, path, body === undefined ? {} : { body });
}

/** The members as `id` lists them (linearizable), e.g. "n1:voter n2:voter n4:learner". */
async function members(c: TestCluster, id: string): Promise<string> {
  const r = await api(c, id, 'GET', '/cluster/members');
  assert.equal(r.status, 200, r.text);
  return (r.body.members as { id: string; role: string }[])
    .map((m) => `${m.id}:${m.role}`)
    .sort()
    .join(' ');
}

/** Retries while another change or a fresh leader's first commit holds the request back. */
async function change(
  c: TestCluster,
  id: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<Answer> {
  return waitFor(`${method} ${path} accepted`, async (note) => {
    const r = await api(c, id, method, path, body);
    note(r.text);
    if (r.status === 409 && r.body.code === 'membership_change_in_progress') return null;
    if (r.status === 503) return null;
    return r;
  });
}

/** Starts brand-new node `id` and asks member `via` to add it (promoted once caught up unless `learner`). */
async function joinAndAdd(c: TestCluster, via: string, id: string, learner: boolean): Promise<Answer> {
  await c.joinNode(id);
  const added = await change(c, via, 'POST', '/cluster/members', { id, address: c.address(id), learner });
  assert.equal(added.status, 200, added.text);
  return added;
}

test('a new node joins as a learner, is promoted once caught up, and serves reads', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  for (let i = 0; i < 20; i++) assert.equal((await c.putRetrying(leader, `k${i}`, `v${i}`)).status, 200);

  // Any member takes the request; a follower forwards it to the leader.
  const follower = c.runningIds().find((id) => id !== leader)!;
  const added = await joinAndAdd(c, follower, 'n4', false);
  assert.ok(added.body.members.some((m: { id: string; role: string }) => m.id === 'n4'));

  // Promoted by the leader once caught up and stable, without anyone asking.
  await waitFor('n4 is a voter', async (note) => {
    const now = await members(c, leader);
    note(now);
    return now === 'n1:voter n2:voter n3:voter n4:voter';
  });
  const read = await c.get('n4', 'k19');
  assert.equal(read.body.value, 'v19');
  const again = await api(c, leader, 'POST', '/cluster/members', { id: 'n4', address: c.address('n4') });
  assert.equal(again.status, 409);
  assert.equal(again.body.code, 'member_exists');
});

test('a learner stays a learner until promoted; promoting a caught-up one works', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  await joinAndAdd(c, leader, 'n4', true);
  assert.equal(await members(c, leader), 'n1:voter n2:voter n3:voter n4:learner');
  // Refusals while it catches up are collected and checked after the wait (a throw inside the
  // condition would only count as "not yet").
  const notReady: Answer[] = [];
  const promoted = await waitFor('n4 promoted', async (note) => {
    const r = await api(c, leader, 'POST', '/cluster/members/n4/promote');
    note(r.text);
    if (r.status === 409 && r.body.code === 'learner_not_ready') {
      notReady.push(r);
      return null;
    }
    return r;
  });
  for (const r of notReady) assert.equal(typeof r.body.behind, 'number', r.text);
  assert.equal(promoted.status, 200, promoted.text);
  assert.equal(await members(c, leader), 'n1:voter n2:voter n3:voter n4:voter');
  const unknown = await api(c, leader, 'POST', '/cluster/members/n9/promote');
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, 'member_not_found');
});

test('replace a member (a new one joins, the old one is removed); the removed node stops and cannot start on its data dir again', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const victim = c.ids.find((id) => id !== leader)!;
  for (let i = 0; i < 10; i++) assert.equal((await c.putRetrying(leader, `a${i}`, `${i}`)).status, 200);

  await joinAndAdd(c, leader, 'n4', false);
  await waitFor('n4 is a voter', async () => (await members(c, leader)).includes('n4:voter'));

  const removed = await change(c, leader, 'DELETE', `/cluster/members/${victim}`);
  assert.equal(removed.status, 200, removed.text);
  assert.ok(!removed.body.members.some((m: { id: string }) => m.id === victim));
  await waitFor(`${victim} stopped`, () => c.node(victim)?.removed === true || undefined);
  await c.node(victim)?.stopped;
  await c.stopNode(victim);
  await assert.rejects(c.startNode(victim), /was removed from the cluster/);

  for (let i = 0; i < 10; i++) {
    const r = await c.get('n4', `a${i}`);
    assert.equal(r.body.value, `${i}`);
  }
  const last = await api(c, leader, 'DELETE', `/cluster/members/${victim}`);
  assert.equal(last.status, 404);
  assert.equal(last.body.code, 'member_not_found');
});

test('leadership moves on request, and the leader can remove itself (it hands over, then steps down)', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const target = c.ids.find((id) => id !== leader)!;
  const moved = await api(c, leader, 'POST', '/cluster/leader', { to: target });
  assert.equal(moved.status, 200, moved.text);
  assert.equal(moved.body.leaderId, target);
  assert.equal(await c.waitForLeader(), target);

  const removed = await change(c, target, 'DELETE', `/cluster/members/${target}`);
  assert.equal(removed.status, 200, removed.text);
  const next = await waitFor('a new leader among the others', async () => {
    const l = await c.currentLeader();
    return l !== null && l !== target ? l : null;
  });
  assert.equal(
    await members(c, next),
    c.ids
      .filter((id) => id !== target)
      .map((id) => `${id}:voter`)
      .join(' '),
  );
  assert.equal((await c.putRetrying(next, 'after', 'removal')).status, 200);
  const unknownTarget = await api(c, next, 'POST', '/cluster/leader', { to: 'n9' });
  assert.equal(unknownTarget.status, 404);
});
