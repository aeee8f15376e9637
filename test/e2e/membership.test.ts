// Goal: the operator's membership recipes on real processes, under a steady write load, with no
// acknowledged write lost: grow 3 → 5 with `raftkv start --join` (learners promoted by the leader
// once caught up), replace a node that died (kill -9, remove it, join a fresh one under a new id),
// refuse a member whose data is gone under its old id, remove the current leader, shrink to 3.
// The time each step took is reported.

import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { test } from 'node:test';
import type { ProcessCluster } from '../support/process-cluster.js';
import { ProcessCluster as Cluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';
import { WriteLoad } from '../support/write-load.js';

async function voters(c: ProcessCluster, via: string): Promise<string> {
  const r = await c.node(via).client.members();
  return r.members
    .map((m) => `${m.id}:${m.role}`)
    .sort()
    .join(' ');
}

/** Runs one step, reports how long it took; a failed step says which, with the nodes' last lines. */
async function timed<T>(
  t: { diagnostic(m: string): void },
  c: ProcessCluster,
  what: string,
  f: () => Promise<T>,
): Promise<T> {
  const started = Date.now();
  try {
    const out = await f();
    t.diagnostic(`${what}: ${Date.now() - started} ms`);
    return out;
  } catch (e) {
    throw new Error(
      `step "${what}" failed after ${Date.now() - started} ms: ${String(e)}\n${c.diagnostics(25)}`,
    );
  }
}

test('grow 3 → 5, replace a dead node, remove the leader, shrink to 3, under writes: no acknowledged write lost', async (t) => {
  const c = await Cluster.create(t, { size: 3 });
  await c.waitForLeader();
  // One write at a time through the running members in turn; a write refused or of unknown
  // outcome is not retried (not acknowledged, so not checked).
  const load = new WriteLoad({
    prefix: 'w',
    client: (_writer, n) => {
      const ids = c.runningIds();
      const id = ids[n % ids.length];
      return id === undefined ? undefined : c.client(id);
    },
    tries: 'once',
    timeoutMs: 3000,
    failurePauseMs: 10,
  });
  load.start();
  // A step that fails stops the load too (its loop must not outlive the nodes).
  t.after(() => load.stop());

  // Grow: two nodes join; each is added as a learner and promoted once caught up.
  await timed(t, c, 'n4 joins and becomes a voter', async () => {
    await c.join('n4');
    await waitFor('n4 is a voter', async () => (await voters(c, 'n1')).includes('n4:voter'), {
      timeoutMs: 60_000,
    });
  });
  await timed(t, c, 'n5 joins and becomes a voter', async () => {
    await c.join('n5');
    await waitFor('n5 is a voter', async () => (await voters(c, 'n1')).includes('n5:voter'), {
      timeoutMs: 60_000,
    });
  });
  assert.equal(await voters(c, 'n4'), 'n1:voter n2:voter n3:voter n4:voter n5:voter');

  // Replace a node whose disk is gone: kill -9 it, remove it, wipe its data, join a fresh node.
  const leader = await c.waitForLeader();
  const dead = ['n2', 'n3', 'n1'].find((id) => id !== leader)!;
  await timed(t, c, `${dead} killed and removed`, async () => {
    await c.kill9(dead);
    await rm(c.node(dead).dataDir, { recursive: true, force: true });
    const survivor = c.runningIds()[0]!;
    await waitFor(`${dead} removed`, async () => {
      const r = await c.request(survivor, 'DELETE', `/cluster/members/${dead}`);
      return r.status === 200 || r.status === 404 ? r : null;
    });
  });
  await timed(t, c, 'n6 joins in its place and becomes a voter', async () => {
    await c.join('n6');
    await waitFor('n6 is a voter', async () => (await voters(c, 'n6')).includes('n6:voter'), {
      timeoutMs: 60_000,
    });
  });

  // A member whose disk is gone cannot come back under its id: counted as holding the entries and
  // votes it lost, it could let a committed entry be lost. It must be removed (below) instead.
  await timed(t, c, 'n4, its data gone, refused under its id', async () => {
    const n4 = c.node('n4');
    await n4.kill9();
    await rm(n4.dataDir, { recursive: true, force: true });
    n4.start(); // the same `raftkv start --join` command line
    const exit = await n4.waitExit(70_000);
    assert.equal(exit.code, 1, `${JSON.stringify(exit)}\n${n4.tail(10)}`);
    assert.ok(n4.lines('a member that lost its data cannot come back under its id').length > 0, n4.tail(10));
    assert.ok(
      n4.lines('event=datadir.refused').some((l) => l.includes('cause=lost')),
      n4.tail(10),
    );
  });

  // Remove the current leader: it hands over, then steps down and stops.
  const oldLeader = await c.waitForLeader();
  await timed(t, c, `leader ${oldLeader} removed`, async () => {
    // As an operator would: ask, and if the answer is lost (the leader stops as soon as its
    // removal commits, and may not finish answering), look at the membership through another node.
    const other = c.runningIds().find((id) => id !== oldLeader)!;
    await waitFor(`${oldLeader} removed`, async () => {
      if (c.node(oldLeader).running) {
        const r = await c.request(oldLeader, 'DELETE', `/cluster/members/${oldLeader}`).catch(() => null);
        if (r?.status === 200) return true;
      }
      return !(await voters(c, other)).includes(`${oldLeader}:`);
    });
    const exit = await c.node(oldLeader).waitExit(20_000);
    assert.equal(exit.code, 0, `a removed node exits 0 (${JSON.stringify(exit)})`);
  });
  const newLeader = await c.waitForLeader(c.runningIds());
  assert.notEqual(newLeader, oldLeader);

  // Shrink to three: the dead n4 is removed, as an operator would.
  await timed(t, c, 'shrink to 3: n4 removed', async () => {
    const via = c.runningIds()[0]!;
    await waitFor('n4 removed', async () => {
      const r = await c.request(via, 'DELETE', '/cluster/members/n4');
      return r.status === 200 || r.status === 404 ? r : null;
    });
  });

  await load.stop();
  t.diagnostic(`writes acknowledged: ${load.acked.size}, failed or unknown: ${load.failures}`);
  assert.ok(load.acked.size > 20, `the load made progress (${load.acked.size} writes)`);
  // Every acknowledged write is there, read linearizably through a member.
  const reader = c.runningIds()[0]!;
  for (const [key, { value }] of load.acked) {
    const r = await c.get(reader, key);
    assert.equal(r.body.value, value, `${key} after the membership changes`);
  }
  const members = await voters(c, reader);
  assert.equal(members.split(' ').length, 3, members);
  assert.ok(!members.includes('n4:'), members);
});

test('a member the cluster started with, restarted with --join on its data dir, is a voter that can lead', async (t) => {
  // The membership never changed, so its data holds no configuration entry: it must be given the
  // one it started with, or it would know no voters and never campaign.
  const c = await Cluster.create(t, { size: 3 });
  await c.waitForLeader();
  assert.equal((await c.put('n2', 'before', 'restart')).status, 200);
  const n1 = await c.restartJoining('n1');
  assert.equal(n1.lines('added to the cluster').length, 0, 'a member is not added again');
  await waitFor(
    'n1 has caught up',
    async () => (await c.get('n1', 'before', 'stale')).body.value === 'restart',
  );
  // It can lead: leadership moves to it on request (a node that knows no voters never campaigns).
  await waitFor('leadership moved to n1', async () => {
    const leader = await c.waitForLeader();
    if (leader === 'n1') return true;
    await c
      .client(leader)
      .moveLeader('n1')
      .catch(() => null);
    return false;
  });
  assert.equal(await voters(c, 'n1'), 'n1:voter n2:voter n3:voter');
});
