// Goal: with --auth-file on, a cluster of real processes still does what needs a token: every
// follower's no-space alarm reaches the leader (the node's own call, made with its --token) and
// is applied on every node; `raftkv snapshot save` with an admin's --token saves a verified backup,
// and without one is refused with the node's 401. And `raftkv cluster --auth-file` starts nodes
// that serve an authorized get, the supervisor says whose token the nodes use (by name, never the
// token) and shows the leader through its own polls.
//
// The alarm is raised the way docs/space.md describes: --min-free-bytes larger than any disk makes
// every node find its disk "low" at its first check.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { CliProcess, runCli } from '../support/cli.js';
import { freeConsecutivePorts } from '../support/ports.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';

const huge = String(10 ** 15);

test("with auth on, followers' no-space alarms reach the leader, and snapshot save works with --token", {
  timeout: 120_000,
}, async (t) => {
  const authFile = await writeAuthFile(t, [testUsers.admin, testUsers.writer]);
  const cluster = await ProcessCluster.create(t, {
    size: 3,
    extraArgs: ['--auth-file', authFile, '--token', testUsers.admin.token, '--min-free-bytes', huge],
    token: testUsers.admin.token,
  });
  const leader = await cluster.waitForLeader();
  const alarms = async (id: string): Promise<string> => {
    const space = (await cluster.client(id).status()).space as { alarms: string[] };
    return [...space.alarms].sort().join(',');
  };
  // A follower's alarm is only applied once the leader took it: with the token, it did.
  await waitFor('every node to apply all three alarms', async () =>
    (await Promise.all(cluster.ids.map(alarms))).every((a) => a === 'n1,n2,n3'),
  );
  for (const id of cluster.ids) {
    assert.deepEqual(cluster.node(id).lines('auth.no_own_token'), [], `${id} has a token of its own`);
    if (id !== leader) {
      // A 401 anywhere in a line but its timestamp (whose milliseconds may read .401).
      const refusals = cluster
        .node(id)
        .lines('')
        .filter((l) => /(?<![.\d])401(?!\d)/.test(l.replace(/^\S+Z /, '')));
      assert.deepEqual(refusals, [], `${id}'s calls to the leader were not refused`);
    }
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-own-calls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'backup.snap');
  const endpoints = cluster.endpoints();
  const refused = await runCli(['snapshot', 'save', file, '--endpoints', endpoints]);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, /snapshot save failed: .*401 unauthenticated/);
  const writer = await runCli([
    'snapshot',
    'save',
    file,
    '--endpoints',
    endpoints,
    '--token',
    testUsers.writer.token,
  ]);
  assert.equal(writer.code, 1, writer.stderr);
  assert.match(writer.stderr, /403 permission_denied/, 'an admin route');
  const saved = await runCli([
    'snapshot',
    'save',
    file,
    '--endpoints',
    endpoints,
    '--token',
    testUsers.admin.token,
  ]);
  assert.equal(saved.code, 0, saved.stderr);
  assert.match(saved.stdout, /^saved .*backup\.snap: index \d+, 0 keys, \d+ bytes \(verified; from /);
});

test('raftkv cluster --auth-file: nodes that need a token, given an admin one, named; an authorized get', {
  timeout: 120_000,
}, async (t) => {
  const authFile = await writeAuthFile(t, [testUsers.writer, testUsers.admin]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-cluster-auth-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const port = await freeConsecutivePorts(1);
  const supervisor = new CliProcess([
    'cluster',
    '--nodes',
    '1',
    '--base-port',
    String(port),
    '--data-dir',
    dir,
    '--auth-file',
    authFile,
    '--heartbeat-interval',
    '50',
    '--election-timeout',
    '500',
  ]);
  t.after(async () => {
    if (supervisor.running) await supervisor.stop();
  });
  await waitFor('the cluster to show its leader (its polls carry the token)', () =>
    supervisor.output().includes('leader: n1'),
  );
  const out = supervisor.output();
  assert.match(out, /nodes' own calls use the token of user "admin" \(the first admin of .*auth\.json\)/);
  assert.ok(!out.includes(testUsers.admin.token), 'the token itself is never printed');

  const endpoints = `127.0.0.1:${port}`;
  const put = await runCli(['put', 'k', 'v', '--endpoints', endpoints, '--token', testUsers.writer.token]);
  assert.equal(put.code, 0, put.stderr);
  const got = await runCli(['get', 'k', '--endpoints', endpoints, '--token', testUsers.writer.token]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout, 'v\n');
  const anonymous = await runCli(['get', 'k', '--endpoints', endpoints]);
  assert.equal(anonymous.code, 1);
  assert.match(anonymous.stderr, /requires a token/);
  assert.equal((await supervisor.stop()).code, 0);
});
