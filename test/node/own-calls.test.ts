// Goal: a node's own calls to another node (its no-space alarm handed to the leader) carry its own
// credentials — the token as a bearer token, the client certificate over https when it has TLS
// files — and a node started with an auth file but no token of its own says at start that those
// calls will be refused (auth.no_own_token, with the catalogue's fields).

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { alarmToLeader, ownCallScheme } from '../../src/app/own-calls.js';
import { startNode } from '../../src/app/start-node.js';
import { RaftkvApiError } from '../../src/client/index.js';
import { logEvents } from '../../src/node/log-events.js';
import type { NodeOptions } from '../../src/node/options.js';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { httpsStub } from '../support/https-stub.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { makeTestCerts, opensslMissing } from '../support/tls-certs.js';

const skip = (await opensslMissing()) ?? false;

async function startWithAuth(
  t: { after: (fn: () => Promise<void>) => void },
  ownCalls?: NodeOptions['ownCalls'],
) {
  const authFile = await writeAuthFile(t, [testUsers.admin]);
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-own-calls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [port] = await freePorts(1);
  const lines: Record<string, unknown>[] = [];
  const node = await startNode({
    id: 'n1',
    cluster: { n1: { host: LOOPBACK, port: port! } },
    dataDir: dir,
    logFormat: 'json',
    logSink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
    authFile,
    ...(ownCalls !== undefined && { ownCalls }),
  });
  t.after(() => node.stop());
  return { authFile, events: (name: string) => lines.filter((l) => l.event === name) };
}

test('auth on and no token of its own: auth.no_own_token at start; with one, nothing', async (t) => {
  const without = await startWithAuth(t);
  const [warning] = without.events('auth.no_own_token');
  assert.ok(warning, 'auth.no_own_token logged');
  assert.equal(warning.level, 'warn');
  assert.equal(warning.file, without.authFile);
  const { time: _t, level: _l, node: _n, event: _e, msg: _m, ...fields } = warning;
  assert.deepEqual(Object.keys(fields), Object.keys(logEvents['auth.no_own_token'].fields));
  const withToken = await startWithAuth(t, { token: testUsers.admin.token });
  assert.equal(withToken.events('auth.no_own_token').length, 0);
  assert.equal(withToken.events('auth.enabled').length, 1);
});

test("the alarm goes to the leader with the node's token and, with TLS files, over https with its client certificate", {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'required' });
  const base: NodeOptions = { id: 'n2', cluster: { n2: { host: LOOPBACK, port: 1 } }, dataDir: '.' };
  assert.equal(ownCallScheme(base), 'http');
  const options: NodeOptions = {
    ...base,
    ownCalls: {
      token: testUsers.admin.token,
      tls: {
        ca: await readFile(certs.ca),
        cert: await readFile(certs.client.cert),
        key: await readFile(certs.client.key),
      },
    },
  };
  assert.equal(ownCallScheme(options), 'https');
  // The stand-in knows no alarms (404): what matters is how the call arrived.
  await assert.rejects(
    alarmToLeader(options, stub.address, { node: 'n2', active: true }, 5000),
    (e: unknown) => e instanceof RaftkvApiError && e.status === 404,
  );
  assert.deepEqual(stub.seen, [
    {
      method: 'POST',
      path: '/admin/alarms',
      authorization: `Bearer ${testUsers.admin.token}`,
      clientName: 'client',
    },
  ]);
});
