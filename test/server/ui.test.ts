// Goal: the dashboard's routes. GET /ui and its files are served with an ETag and answered 304
// when the browser has them, nothing outside ui/ is served, and GET /ui/state gathers every
// member's status and log tail — a stopped member shows as unreachable, not as a stalled page.
// GET /debug?logTail=N describes the last entries of the log, never their values.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noFaults } from '../../src/api/faults.js';
import { startCluster } from '../support/cluster.js';
import { request } from '../support/http.js';

test('GET /ui serves the page with an ETag, 304 when current; nothing outside ui/', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  const client = c.client('n1');
  const page = await request(client, 'GET', '/ui');
  assert.equal(page.status, 200);
  assert.match(String(page.headers['content-type']), /^text\/html/);
  assert.match(page.text, /<html/);
  const etag = page.headers.etag;
  assert.ok(typeof etag === 'string' && etag.length > 2);
  assert.equal(page.headers['cache-control'], 'no-cache');
  const again = await request(client, 'GET', '/ui/', { headers: { 'if-none-match': etag } });
  assert.equal(again.status, 304);
  assert.equal(again.text, '');
  for (const path of [
    '/ui/../package.json',
    '/ui/%2e%2e%2fpackage.json',
    '/ui/.hidden.js',
    '/ui/none.js',
    '/ui/a/b.js',
  ]) {
    const a = await request(client, 'GET', path);
    assert.equal(a.status, 404, `${path}: ${a.text}`);
    assert.equal(a.body.code, 'not_found');
  }
});

test('GET /debug?logTail=N: the last entries, described without their values', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const leader = await c.waitForLeader();
  assert.equal((await c.put(leader, 'config/color', 'a secret value')).status, 200);
  const client = c.client(leader);
  const d = await request(client, 'GET', '/debug?logTail=3');
  assert.equal(d.status, 200);
  const log = d.body.log as { index: number; term: number; type: string; summary: string }[];
  assert.ok(log.length >= 1 && log.length <= 3);
  const last = log.at(-1)!;
  assert.deepEqual(
    { type: last.type, summary: last.summary, index: last.index },
    { type: 'command', summary: 'put config/color', index: d.body.logLength },
  );
  assert.ok(!d.text.includes('a secret value'));
  assert.equal((await request(client, 'GET', '/debug')).body.log, undefined, 'no log without logTail');
  for (const bad of ['101', '-1', 'x', '1.5']) {
    const a = await request(client, 'GET', `/debug?logTail=${bad}`);
    assert.equal(a.status, 400, a.text);
    assert.match(a.body.error, /logTail/);
  }
});

test('GET /ui/state: every member with its status and log; a stopped one unreachable', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  assert.equal((await c.put(leader, 'k', 'v')).status, 200);
  const follower = c.followerOf(leader);
  const view = await request(c.client(follower), 'GET', '/ui/state');
  assert.equal(view.status, 200, view.text);
  assert.equal(view.body.servedBy, follower);
  assert.equal(view.body.leaderId, leader);
  const members = view.body.members as {
    id: string;
    reachable: boolean;
    status: { state: string; log: unknown[] };
  }[];
  assert.deepEqual(members.map((m) => m.id).sort(), ['n1', 'n2', 'n3']);
  for (const m of members) {
    assert.equal(m.reachable, true, m.id);
    assert.equal(m.status.state, m.id === leader ? 'leader' : 'follower');
    assert.ok(m.status.log.length > 0);
  }
  const down = c.ids.find((id) => id !== leader && id !== follower)!;
  await c.stopNode(down);
  const after = await request(c.client(follower), 'GET', '/ui/state');
  const gone = (
    after.body.members as { id: string; reachable: boolean; error: string; status: unknown }[]
  ).find((m) => m.id === down)!;
  assert.equal(gone.reachable, false);
  assert.equal(gone.status, null);
  assert.ok(gone.error.length > 0);
});

test('/ui/nodes/{id}/faults: a fault button set and healed through the node serving the page', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  const page = c.client(follower);
  // Isolate the leader through a follower's page: the others elect a new one.
  const set = await request(page, 'POST', `/ui/nodes/${leader}/faults`, { body: { isolate: true } });
  assert.equal(set.status, 200, set.text);
  assert.equal(set.body.isolate, true);
  assert.equal(
    ((await c.debug(leader)).faults as { isolate: boolean }).isolate,
    true,
    'set on the member named, not the one asked',
  );
  assert.equal(((await c.debug(follower)).faults as { isolate: boolean }).isolate, false);
  const healed = await request(page, 'DELETE', `/ui/nodes/${leader}/faults`);
  assert.equal(healed.status, 200, healed.text);
  assert.equal(((await c.debug(leader)).faults as { isolate: boolean }).isolate, false);
  // The member's refusals and the page's own checks come back as they are.
  const bad = await request(page, 'POST', `/ui/nodes/${leader}/faults`, { body: { isolate: 'yes' } });
  assert.equal(bad.status, 400);
  assert.match(bad.body.error, /isolate/);
  const self = await request(page, 'POST', `/ui/nodes/${leader}/faults`, { body: { dropTo: [leader] } });
  assert.equal(self.status, 400, self.text);
  const nobody = await request(page, 'POST', '/ui/nodes/n9/faults', { body: {} });
  assert.equal(nobody.status, 404);
  assert.equal((await request(page, 'GET', `/ui/nodes/${leader}/faults`)).status, 404);
});

test("a paused node's own page resumes it: /ui/nodes/{self}/faults is answered while paused", async (t) => {
  // A short request timeout: a relay held at the pause would come back 504 soon.
  const c = await startCluster(t, { size: 1, enableFaults: true, requestTimeoutMs: 1500 });
  await c.waitForLeader();
  const page = c.client('n1');
  for (const resume of ['POST', 'DELETE'] as const) {
    const paused = await request(page, 'POST', '/ui/nodes/n1/faults', { body: { paused: true } });
    assert.equal(paused.status, 200, paused.text);
    assert.equal(paused.body.paused, true);
    assert.equal((await c.request('n1', 'GET', '/readyz')).status, 503, 'paused');
    const view = await request(page, 'GET', '/ui/state');
    assert.equal(view.status, 200, view.text);
    const resumed = await request(page, resume, '/ui/nodes/n1/faults', {
      ...(resume === 'POST' && { body: { paused: false } }),
    });
    assert.equal(resumed.status, 200, `${resume}: ${resumed.text}`);
    assert.deepEqual(resumed.body, noFaults);
    assert.equal((await c.request('n1', 'GET', '/readyz')).status, 200, `${resume}: resumed`);
    assert.equal((await c.putRetrying('n1', 'k', resume)).status, 200);
  }
});

test('/ui/nodes/{id}/faults on nodes without --enable-faults: the member says faults_disabled', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  const a = await request(c.client('n1'), 'POST', '/ui/nodes/n1/faults', { body: { paused: true } });
  assert.equal(a.status, 403);
  assert.equal(a.body.code, 'faults_disabled');
});

test('GET /ui/docs/NAME.md: the README and the docs the notes link to, as text; nothing else', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  const client = c.client('n1');
  const readme = await request(client, 'GET', '/ui/docs/README.md');
  assert.equal(readme.status, 200);
  assert.match(String(readme.headers['content-type']), /^text\/plain; charset=utf-8/);
  assert.match(readme.text, /^# raftkv/);
  const faults = await request(client, 'GET', '/ui/docs/faults.md');
  assert.equal(faults.status, 200);
  assert.match(faults.text, /admin\/faults/);
  for (const path of [
    '/ui/docs/../package.json',
    '/ui/docs/none.md',
    '/ui/docs/images/dashboard.png',
    '/ui/docs/README.txt',
  ]) {
    assert.equal((await request(client, 'GET', path)).status, 404, path);
  }
});
