// Goal: `raftkv cluster`'s control API on a real supervisor of real nodes. It says where it is
// (stdout, and DATA_DIR/supervisor.json readable by its owner only, gone once it exits) and
// refuses a caller without its token. A leader killed through it (SIGKILL) is down for good —
// the others elect, take writes, and the supervisor goes on; restarted, it rejoins on its data
// dir and catches up. A node's POST /ui/nodes/{id}/process passes a kill and a restart on to it.

import assert from 'node:assert/strict';
import { access } from 'node:fs/promises';
import { test } from 'node:test';
import type { SupervisedNode } from '../../src/cli/supervisor-control.js';
import { pidAlive } from '../../src/jepsen/netns.js';
import { request } from '../support/http.js';
import { SupervisedCluster } from '../support/supervised-cluster.js';
import { waitFor } from '../support/wait.js';

test('raftkv cluster: kill a leader through the control API, the others go on; restart it, it catches up', async (t) => {
  const c = await SupervisedCluster.start(t);
  assert.match(c.file!.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(c.file!.pid, c.process.pid);
  assert.equal(c.file!.endpoints, c.endpoints());
  assert.equal(await c.fileMode(), 0o600);
  await waitFor('the control line on stdout', () => c.process.output().includes(`control: ${c.file!.url}`));
  assert.ok(!c.process.output().includes(c.file!.token), 'the token is not printed');

  // Without the token, or with another: 401, and nothing is done.
  for (const token of [null, 'not-the-token-of-this-supervisor']) {
    const a = await c.control(token).send({ method: 'POST', path: '/nodes/n1/kill' });
    assert.equal(a.status, 401, a.text);
  }

  const first = await c.waitForLeader();
  const before = await c.nodes();
  assert.deepEqual(
    before.map((n) => ({ id: n.id, running: n.running, exits: n.exits })),
    c.ids.map((id) => ({ id, running: true, exits: 0 })),
  );
  const leaderPid = before.find((n) => n.id === first.id)!.pid!;
  assert.ok(pidAlive(leaderPid));
  const w1 = await c.client(first.id).put('before', 'kill', { idempotencyKey: 'before-kill' });

  const killed = await c.act(first.id, 'kill');
  assert.equal(killed.status, 200, killed.text);
  assert.deepEqual(
    { running: (killed.body as SupervisedNode).running, pid: (killed.body as SupervisedNode).pid },
    { running: false, pid: null },
  );
  assert.ok(!pidAlive(leaderPid), 'the process is gone');
  const others = c.ids.filter((id) => id !== first.id);
  const next = await c.waitForLeader(others, first.term);
  assert.notEqual(next.id, first.id);
  const w2 = await c.client(next.id).put('after', 'kill', { idempotencyKey: 'after-kill' });
  assert.ok(w2.index > w1.index);
  assert.ok(c.process.running, 'the supervisor goes on');
  await waitFor('the supervisor saying so', () =>
    c.process.output().includes(`${first.id} was killed by SIGKILL, as the control API asked`),
  );
  assert.equal((await c.nodes()).find((n) => n.id === first.id)!.exits, 1);

  const restarted = await c.act(first.id, 'restart');
  assert.equal(restarted.status, 200, restarted.text);
  const r = restarted.body as SupervisedNode;
  assert.equal(r.running, true);
  assert.ok(r.pid !== null && r.pid !== leaderPid && pidAlive(r.pid));
  // Back on its data dir: it has what it had, and what it missed.
  const back = c.client(first.id);
  await waitFor(
    `${first.id} applied the write made while it was down`,
    async () => (await back.get('after', { consistency: 'stale', minIndex: w2.index })).value === 'kill',
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.equal((await back.get('before', { consistency: 'stale' })).value, 'kill');
  await c.waitForLeader();

  // The dashboard's route on a node: a kill and a restart of another node passed on to the supervisor.
  const page = c.client(next.id);
  const victim = c.ids.find((id) => id !== next.id)!;
  const k = await request(page, 'POST', `/ui/nodes/${victim}/process`, { body: { action: 'kill' } });
  assert.equal(k.status, 200, k.text);
  assert.equal(k.body.running, false);
  assert.equal((await c.nodes()).find((n) => n.id === victim)!.running, false);
  assert.equal((await request(page, 'GET', '/ui/state')).body.supervised, true);
  const s = await request(page, 'POST', `/ui/nodes/${victim}/process`, { body: { action: 'restart' } });
  assert.equal(s.status, 200, s.text);
  assert.equal(s.body.running, true);
  await waitFor(
    `${victim} answering again`,
    async () => (await c.client(victim).status()).nodeId === victim,
    {
      timeoutMs: 30_000,
      intervalMs: 100,
    },
  );

  // A signal ends it all as before: exit 0, and supervisor.json is gone.
  assert.deepEqual(await c.process.stop(), { code: 0, signal: null }, c.process.output());
  await assert.rejects(access(c.supervisorFile), /ENOENT/);
});
