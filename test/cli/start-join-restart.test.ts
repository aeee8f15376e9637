// Goal: `raftkv start --join` restarts a member on its data dir even while the cluster has no
// leader — as when most members restart at once (a whole StatefulSet after an outage). Of five
// voters, two that started the cluster and one that joined are stopped; the two left cannot elect
// a leader, so no member can answer a linearizable read of the membership. The joined member,
// restarted with the same `raftkv start --join` command on its data dir, takes a member's own view
// instead, starts, and with it the three elect a leader and take writes. A node without data of its
// own gets no such view (it waits for a leader, which must add it anyway).

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startNode } from '../../src/app/start-node.js';
import { runStart } from '../../src/cli/start.js';
import { TestCluster } from '../support/cluster.js';
import { request } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/** Adds `id` (joined already) and waits until it is a voter. */
async function addVoter(c: TestCluster, via: string, id: string): Promise<void> {
  await waitFor(`${id} added`, async (note) => {
    const r = await request(c.client(via), 'POST', '/cluster/members', {
      body: { id, address: c.address(id) },
    });
    note(r.text);
    return r.status === 200 || (r.status === 409 && r.body.code === 'member_exists') ? r : null;
  });
  await waitFor(`${id} is a voter`, async () => {
    const r = await request(c.client(via), 'GET', '/cluster/members');
    return r.body.members?.some((m: { id: string; role: string }) => m.id === id && m.role === 'voter');
  });
}

/** `raftkv start` in process: resolves with its exit code; `stop` is its SIGTERM. */
function runStartInProcess(argv: string[]): {
  exit: Promise<number>;
  stop: () => void;
  output: () => string;
} {
  let output = '';
  let onSignal: ((signal: string) => void) | null = null;
  const exit = runStart(
    argv,
    {},
    {
      startNode,
      onSignal: (h) => {
        onSignal = h;
      },
      onStdinClosed: () => {},
      io: {
        out: (t) => {
          output += t;
        },
        err: (t) => {
          output += t;
        },
      },
    },
  );
  return { exit, stop: () => onSignal?.('SIGTERM'), output: () => output };
}

test('a joined member restarts with --join on its data dir while the cluster has no leader', async (t) => {
  const c = await TestCluster.start({ size: 3, logLevel: 'warn' });
  let n4: ReturnType<typeof runStartInProcess> | null = null;
  t.after(async () => {
    n4?.stop();
    await n4?.exit;
    await c.cleanup();
  });
  const leader = await c.waitForLeader();
  for (const id of ['n4', 'n5']) {
    await c.joinNode(id);
    await addVoter(c, leader, id);
  }
  assert.equal((await c.putRetrying(leader, 'before', '1')).status, 200);

  // n4 stops; so do two of the members the cluster started with. n3 and n5 are 2 of 5 voters.
  const survivors = ['n3', 'n5'];
  await c.stopNode('n4');
  await Promise.all(['n1', 'n2'].map((id) => c.stopNode(id)));
  const noLeader = await request(c.client('n3'), 'GET', '/cluster/members');
  assert.equal(noLeader.status >= 500, true, `no linearizable membership without a leader: ${noLeader.text}`);

  // A brand-new node in its place would wait for a leader; n4, on its own data, starts.
  const fresh = await mkdtemp(path.join(os.tmpdir(), 'raftkv-join-'));
  t.after(() => rm(fresh, { recursive: true, force: true }));
  const endpoints = survivors.map((id) => c.address(id)).join(',');
  const stranger = runStartInProcess([
    '--id',
    'n9',
    '--join',
    endpoints,
    '--listen',
    '127.0.0.1:1',
    '--data-dir',
    fresh,
    '--election-timeout',
    '500',
    '--heartbeat-interval',
    '50',
  ]);
  assert.equal(await stranger.exit, 1, stranger.output());
  assert.match(stranger.output(), /no member answered with the cluster's members/);

  n4 = runStartInProcess([
    '--id',
    'n4',
    '--join',
    endpoints,
    '--listen',
    c.address('n4'),
    '--data-dir',
    c.dataDir('n4'),
    '--election-timeout',
    '500',
    '--heartbeat-interval',
    '50',
    '--log-level',
    'warn',
  ]);
  const restarted = n4;
  const put = await c.putRetrying('n3', 'after', '2', 30_000);
  assert.equal(put.status, 200, `${put.text}\n${restarted.output()}`);
  const read = await c.get('n5', 'before');
  assert.equal(read.body.value, '1');
  restarted.stop();
  assert.equal(await restarted.exit, 0, restarted.output());
  n4 = null;
});
