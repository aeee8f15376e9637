// Goal: a node says how it is guarded when it starts — auth.enabled with an auth file, the
// auth.open_network warning when it binds a network address without one (and not on loopback) —
// and reloadAuth() logs auth.reloaded or auth.reload_failed, each with the catalogue's fields.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { startNode } from '../../src/app/start-node.js';
import { logEvents } from '../../src/node/log-events.js';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { freePorts, LOOPBACK } from '../support/ports.js';

async function runNode(
  t: { after: (fn: () => Promise<void>) => void },
  listenHost: string,
  authFile?: string,
) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-auth-events-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const [port] = await freePorts(1);
  const lines: Record<string, unknown>[] = [];
  const node = await startNode({
    id: 'n1',
    cluster: { n1: { host: LOOPBACK, port: port! } },
    listen: { host: listenHost, port: port! },
    dataDir: dir,
    logFormat: 'json',
    logSink: (l) => lines.push(JSON.parse(l) as Record<string, unknown>),
    ...(authFile !== undefined && { authFile }),
  });
  t.after(() => node.stop());
  const event = (name: string) => lines.filter((l) => l.event === name);
  return { node, event };
}

function fieldsOf(line: Record<string, unknown>): string[] {
  const { time: _t, level: _l, node: _n, event: _e, msg: _m, ...fields } = line;
  return Object.keys(fields).sort();
}

test('a node on every interface without an auth file warns; on loopback it does not', async (t) => {
  const open = await runNode(t, '0.0.0.0');
  const [warning] = open.event('auth.open_network');
  assert.ok(warning, 'auth.open_network logged');
  assert.equal(warning.level, 'warn');
  assert.deepEqual(fieldsOf(warning), Object.keys(logEvents['auth.open_network'].fields).sort());
  const local = await runNode(t, LOOPBACK);
  assert.equal(local.event('auth.open_network').length, 0);
});

test('auth.enabled at start; reloadAuth logs auth.reloaded, or auth.reload_failed for a broken file', async (t) => {
  const authFile = await writeAuthFile(t, [testUsers.admin]);
  const { node, event } = await runNode(t, '0.0.0.0', authFile);
  assert.equal(event('auth.open_network').length, 0);
  const [enabled] = event('auth.enabled');
  assert.ok(enabled);
  assert.equal(enabled.users, 1);
  assert.deepEqual(fieldsOf(enabled), Object.keys(logEvents['auth.enabled'].fields).sort());
  await writeFile(authFile, JSON.stringify({ users: [testUsers.admin, testUsers.reader] }));
  assert.equal(await node.reloadAuth(), true);
  const [reloaded] = event('auth.reloaded');
  assert.equal(reloaded?.users, 2);
  await writeFile(authFile, 'not json');
  assert.equal(await node.reloadAuth(), false);
  const [failed] = event('auth.reload_failed');
  assert.ok(failed);
  assert.equal(failed.level, 'warn');
  assert.match(String(failed.error), /not valid JSON/);
  assert.deepEqual(fieldsOf(failed), Object.keys(logEvents['auth.reload_failed'].fields).sort());
});
