// Goal: on real processes, a token is rotated by editing the auth file and sending SIGHUP — the old
// token stops working and the new one works, without a restart — while a broken file sent the same
// way is logged and changes nothing; and a node given a bad auth file refuses to start, saying why.

import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { test } from 'node:test';
import { apiRequests } from '../../src/client/index.js';
import { bearer, testUsers, writeAuthFile } from '../support/auth.js';
import { runCli } from '../support/cli.js';
import { request } from '../support/http.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';

const rotated = { ...testUsers.writer, token: 'writer-token-rotated-0123' };

test('SIGHUP re-reads the auth file: a rotated token works, the old one is refused, a broken file changes nothing', async (t) => {
  const authFile = await writeAuthFile(t, [testUsers.admin, testUsers.writer]);
  const cluster = await ProcessCluster.create(t, {
    size: 1,
    extraArgs: ['--auth-file', authFile, '--log-format', 'json'],
    token: testUsers.admin.token,
  });
  await cluster.waitForLeader();
  const node = cluster.node('n1');
  const putAs = (token: string) =>
    request(node.client, 'POST', '/kv', { body: { key: 'k', value: token }, headers: bearer(token) });
  assert.equal((await putAs(testUsers.writer.token)).status, 200);

  await writeFile(authFile, JSON.stringify({ users: [testUsers.admin, rotated] }));
  node.sendSignal('SIGHUP');
  await waitFor('the rotated token to work', async () => (await putAs(rotated.token)).status === 200);
  assert.equal((await putAs(testUsers.writer.token)).status, 401);
  assert.equal(node.lines('"event":"auth.reloaded"').length, 1);

  await writeFile(authFile, '{"users": [{"name": "x", "role": "root"');
  node.sendSignal('SIGHUP');
  await waitFor(
    'the failed reload to be logged',
    () => node.lines('"event":"auth.reload_failed"').length === 1,
  );
  assert.equal((await putAs(rotated.token)).status, 200, 'the users before the broken file stay in force');
  assert.equal((await node.client.send(apiRequests.get('k'))).status, 200, 'the admin token still works');
  assert.ok(node.running, 'SIGHUP does not stop the node');

  // The CLI sends --token; without one the node's 401 is its one-line error.
  const endpoints = cluster.endpoints(['n1']);
  const got = await runCli(['get', 'k', '--endpoints', endpoints, '--token', rotated.token]);
  assert.equal(got.code, 0, got.stderr);
  assert.equal(got.stdout.trim(), rotated.token);
  const refused = await runCli(['get', 'k', '--endpoints', endpoints]);
  assert.notEqual(refused.code, 0);
  assert.match(refused.stderr, /requires a token/);
});

test('a node given an auth file that names an unknown role refuses to start, naming it', async (t) => {
  const authFile = await writeAuthFile(t, [{ ...testUsers.reader, role: 'root' as 'read' }]);
  const r = await runCli([
    'start',
    '--id',
    'n1',
    '--cluster',
    'n1=127.0.0.1:1',
    '--data-dir',
    `${authFile}.data`,
    '--auth-file',
    authFile,
  ]);
  assert.equal(r.code, 1, r.stderr);
  assert.match(
    r.stderr,
    /cannot start node n1: auth file .*auth\.json: user "reader": role must be "read", "readwrite", "admin"; got "root"/,
  );
});
