// Goal: with an auth file, every route answers every kind of caller as the route table says — 401
// without a valid token, 403 for a role too low, and never 401/403 for a caller the role covers;
// users limited to prefixes touch only their keys and learn nothing of others (403 before any
// lookup, present key or not); a write through a follower is checked against its caller's own token.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Role, roleCovers, UserTable } from '../../src/auth/index.js';
import { AccessControl, routeRequirements } from '../../src/server/access.js';
import type { Route } from '../../src/server/validate.js';
import { bearer, testUsers, writeAuthFile } from '../support/auth.js';
import { startCluster } from '../support/cluster.js';

/** One request per route (a Record, so a new route cannot be left out), harmless when admitted. */
const requests: Readonly<Record<Route, { method: string; path: string; body?: unknown }>> = {
  put: { method: 'POST', path: '/kv', body: { key: 'k', value: 'v' } },
  txn: { method: 'POST', path: '/txn', body: { success: [{ get: { key: 'k' } }] } },
  list: { method: 'GET', path: '/kv?prefix=' },
  get: { method: 'GET', path: '/kv/k' },
  delete: { method: 'DELETE', path: '/kv/k' },
  debug: { method: 'GET', path: '/debug' },
  health: { method: 'GET', path: '/health' },
  livez: { method: 'GET', path: '/livez' },
  readyz: { method: 'GET', path: '/readyz' },
  metrics: { method: 'GET', path: '/metrics' },
  snapshot: { method: 'POST', path: '/admin/snapshot' },
  backup: { method: 'GET', path: '/admin/snapshot' },
  alarms: { method: 'GET', path: '/admin/alarms' },
  alarm: { method: 'POST', path: '/admin/alarms', body: { node: 'n1', alarm: 'no_space', active: false } },
  members: { method: 'GET', path: '/cluster/members' },
  memberAdd: { method: 'POST', path: '/cluster/members', body: { id: 'n1', address: '127.0.0.1:1' } },
  memberPromote: { method: 'POST', path: '/cluster/members/nobody/promote' },
  memberRemove: { method: 'DELETE', path: '/cluster/members/nobody' },
  leaderMove: { method: 'POST', path: '/cluster/leader', body: { to: 'nobody' } },
  // A bad fromIndex: an admitted caller gets its 400 instead of a stream that never ends.
  watch: { method: 'GET', path: '/watch?key=k&fromIndex=soon' },
  leaseGrant: { method: 'POST', path: '/leases', body: { ttl: 60 } },
  leaseKeepalive: { method: 'POST', path: '/leases/999999/keepalive' },
  leaseInfo: { method: 'GET', path: '/leases/999999' },
  leaseRevoke: { method: 'DELETE', path: '/leases/999999' },
  ui: { method: 'GET', path: '/ui' },
  uiAsset: { method: 'GET', path: '/ui/index.html' },
  uiState: { method: 'GET', path: '/ui/state' },
  // An empty POST changes nothing (the node runs with --enable-faults).
  uiFaults: { method: 'POST', path: '/ui/nodes/n1/faults', body: {} },
  // No supervisor runs the test cluster: an admitted caller gets 404 not_supervised.
  uiProcess: { method: 'POST', path: '/ui/nodes/n1/process', body: { action: 'kill' } },
  // Exercise 4 needs a supervisor, which the test cluster lacks: an admitted caller gets 404
  // not_supervised and nothing runs; a run no one started is 404 too.
  uiExercises: { method: 'POST', path: '/ui/exercises', body: { exercise: 4 } },
  uiExercise: { method: 'GET', path: '/ui/exercises/nothing-here' },
  // On a node with --enable-faults: an empty POST changes nothing, a DELETE heals nothing.
  faults: { method: 'GET', path: '/admin/faults' },
  faultsSet: { method: 'POST', path: '/admin/faults', body: {} },
  faultsHeal: { method: 'DELETE', path: '/admin/faults' },
};

type Caller = {
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly role: Role | null;
};

const callers: readonly Caller[] = [
  { label: 'no credentials', headers: {}, role: null },
  { label: 'an unknown token', headers: bearer('not-a-token-of-anyone-0123'), role: null },
  { label: 'a Basic header', headers: { authorization: `Basic ${testUsers.admin.token}` }, role: null },
  { label: 'read', headers: bearer(testUsers.reader.token), role: 'read' },
  { label: 'readwrite', headers: bearer(testUsers.writer.token), role: 'readwrite' },
  { label: 'admin', headers: bearer(testUsers.admin.token), role: 'admin' },
];

test('every role against every route, as the route table says', async (t) => {
  const authFile = await writeAuthFile(t);
  const cluster = await startCluster(t, {
    size: 1,
    authFile,
    token: testUsers.admin.token,
    enableFaults: true,
  });
  await cluster.waitForLeader();
  for (const [route, r] of Object.entries(requests) as [Route, (typeof requests)[Route]][]) {
    const needed = new AccessControl({ users: () => new UserTable([]), metricsAuth: false }).required(route);
    for (const caller of callers) {
      const a = await cluster.request('n1', r.method, r.path, {
        ...(r.body !== undefined && { body: r.body }),
        headers: { authorization: '', ...caller.headers },
      });
      const what = `${caller.label} on ${route} (${r.method} ${r.path}): ${a.status} ${a.text.slice(0, 200)}`;
      if (needed === null) {
        assert.ok(a.status !== 401 && a.status !== 403, what);
      } else if (caller.role === null) {
        assert.equal(a.status, 401, what);
        assert.equal(a.body.code, 'unauthenticated', what);
        assert.equal(a.headers['www-authenticate'], 'Bearer realm="raftkv"', what);
      } else if (roleCovers(caller.role, needed)) {
        assert.ok(a.status !== 401 && a.status !== 403 && a.status < 500, what);
      } else {
        assert.equal(a.status, 403, what);
        assert.equal(a.body.code, 'permission_denied', what);
        assert.equal(a.body.required, needed, what);
      }
    }
  }
});

test('the route table: probes open, /metrics open unless --metrics-auth, keys by role, the rest admin', () => {
  const open = new AccessControl({ users: () => new UserTable([]), metricsAuth: false });
  const guarded = new AccessControl({ users: () => new UserTable([]), metricsAuth: true });
  assert.equal(open.required('metrics'), null);
  assert.equal(guarded.required('metrics'), 'admin');
  for (const probe of ['health', 'livez', 'readyz'] as const) assert.equal(guarded.required(probe), null);
  assert.deepEqual(
    Object.entries(routeRequirements).filter(([, r]) => r === 'read' || r === 'readwrite'),
    [
      ['get', 'read'],
      ['list', 'read'],
      ['put', 'readwrite'],
      ['txn', 'readwrite'],
      ['delete', 'readwrite'],
      ['watch', 'read'],
      ['leaseGrant', 'readwrite'],
      ['leaseKeepalive', 'readwrite'],
      ['leaseRevoke', 'readwrite'],
      ['leaseInfo', 'read'],
    ],
  );
});

test('a user limited to prefixes touches only its keys, and learns nothing about the others', async (t) => {
  const authFile = await writeAuthFile(t);
  const cluster = await startCluster(t, { size: 1, authFile, token: testUsers.admin.token });
  await cluster.waitForLeader();
  assert.equal((await cluster.put('n1', 'secret', 's')).status, 200);
  const as = (user: { token: string }) => ({ headers: bearer(user.token) });
  const w = testUsers.appWriter;
  const r = testUsers.appReader;
  const appX = await cluster.request('n1', 'POST', '/kv', { body: { key: 'app/x', value: '1' }, ...as(w) });
  assert.equal(appX.status, 200);
  for (const [method, path, body] of [
    ['POST', '/kv', { key: 'other', value: '1' }],
    ['POST', '/kv', { key: 'secret', value: '1', prevValue: 's' }],
    ['DELETE', '/kv/secret', undefined],
    ['GET', '/kv/secret', undefined],
  ] as const) {
    const a = await cluster.request('n1', method, path, { ...(body && { body }), ...as(w) });
    assert.equal(a.status, 403, `${method} ${path}: ${a.text}`);
    assert.equal(a.body.code, 'permission_denied');
  }
  // A present key and an absent one outside the prefixes get the same answer.
  const present = await cluster.request('n1', 'GET', '/kv/secret', as(r));
  const absent = await cluster.request('n1', 'GET', '/kv/nothing', as(r));
  assert.equal(present.status, 403);
  assert.equal(absent.status, 403);
  assert.equal(present.text.replace('secret', 'K'), absent.text.replace('nothing', 'K'));
  assert.equal((await cluster.request('n1', 'GET', '/kv/app/x', as(r))).body.value, '1');
  assert.equal((await cluster.request('n1', 'GET', '/kv/app/none', as(r))).status, 404);
  // Lists: a prefix inside the user's is served; one that could reach other keys is refused.
  const list = await cluster.request('n1', 'GET', '/kv?prefix=app/', as(r));
  const at = appX.body.index;
  assert.deepEqual(list.body.items, [
    { key: 'app/x', value: '1', version: 1, createIndex: at, modIndex: at },
  ]);
  for (const prefix of ['', 'ap', 'sec']) {
    assert.equal((await cluster.request('n1', 'GET', `/kv?prefix=${prefix}`, as(r))).status, 403, prefix);
  }
  assert.equal((await cluster.get('n1', 'secret')).body.value, 's', 'nothing outside the prefix changed');

  // Leases: such a user grants and renews one and ties its own keys to it (a put is checked as a
  // put); it may not revoke or read one, which may hold other users' keys.
  const lease = await cluster.request('n1', 'POST', '/leases', { body: { ttl: 60 }, ...as(w) });
  assert.equal(lease.status, 200, lease.text);
  const id = lease.body.id as number;
  const tie = (key: string) =>
    cluster.request('n1', 'POST', '/kv', { body: { key, value: '1', lease: id }, ...as(w) });
  assert.equal((await tie('app/l')).status, 200);
  assert.equal((await tie('other')).status, 403);
  assert.equal((await cluster.request('n1', 'POST', `/leases/${id}/keepalive`, as(w))).status, 200);
  for (const method of ['GET', 'DELETE']) {
    const a = await cluster.request('n1', method, `/leases/${id}`, as(w));
    assert.equal(a.status, 403, `${method} /leases/${id}: ${a.text}`);
    assert.match(a.body.error, /a lease may hold keys outside its prefixes/);
  }
  const revoked = await cluster.request('n1', 'DELETE', `/leases/${id}`, as(testUsers.writer));
  assert.equal(revoked.status, 200, revoked.text);
  assert.deepEqual(revoked.body.keys, ['app/l']);
});

test('a write through a follower carries its caller: read-only 403, readwrite 200', async (t) => {
  const authFile = await writeAuthFile(t);
  const cluster = await startCluster(t, { authFile, token: testUsers.admin.token });
  const leader = await cluster.waitForLeader();
  const follower = cluster.followerOf(leader);
  const body = { key: 'fwd', value: 'v' };
  const refused = await cluster.request(follower, 'POST', '/kv', {
    body,
    headers: bearer(testUsers.reader.token),
  });
  assert.equal(refused.status, 403, refused.text);
  assert.equal(refused.body.code, 'permission_denied');
  // The leader needs a token too: a 200 means the follower passed the caller's on.
  const done = await cluster.request(follower, 'POST', '/kv', {
    body,
    headers: bearer(testUsers.writer.token),
  });
  assert.equal(done.status, 200, done.text);
  assert.equal((await cluster.get(leader, 'fwd')).body.value, 'v');
  // With an auth file a follower relays writes as HTTP requests, never over the peer connection:
  // the leader must see the caller's token.
  const forwarding = (await cluster.debug(follower)).forwarding as Record<string, unknown>;
  assert.equal(forwarding.overPeer, false);
  assert.equal(forwarding.viaPeer, 0);
  assert.equal(forwarding.viaHttp, 1, 'the one the follower let through (it refused the reader itself)');
  const anonymous = await cluster.request(follower, 'POST', '/kv', { body, headers: { authorization: '' } });
  assert.equal(anonymous.status, 401, anonymous.text);
});
