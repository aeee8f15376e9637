// Goal: the `raftkv cluster` supervisor runs one process per node, forwards their output prefixed
// with the node id, reports a node that dies while the others keep running, and stops every node
// on a signal (SIGTERM, then SIGKILL after the grace period). Stand-in node processes replace
// `raftkv start` here; they only print and wait for signals.

import assert from 'node:assert/strict';
import { access, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runCluster } from '../../src/cli/cluster.js';
import { readSupervisorFile, type SupervisedNode } from '../../src/cli/supervisor-control.js';
import { RaftkvClient } from '../../src/client/index.js';
import { type CapturedIo, capturedIo } from '../support/captured-io.js';

const fakeNode = `
const id = process.argv[process.argv.indexOf('--id') + 1];
const mode = process.env.FAKE_MODE ?? '';
if (!process.argv.includes('--stop-with-stdin')) process.exit(9);
process.on('SIGTERM', () => {
  if (mode === 'stubborn') { process.stderr.write(id + ' ignores SIGTERM\\n'); return; }
  process.stderr.write(id + ' got SIGTERM\\n');
  process.exit(0);
});
if (mode === 'crash-n2' && id === 'n2') process.exit(3);
if (mode === 'crash-all') process.exit(4);
// Ready (the SIGTERM handler is in place):
process.stderr.write('hello from ' + id + '\\n');
// Where its supervisor is: the environment, never the command line.
const url = process.env.RAFTKV_SUPERVISOR_URL;
const token = process.env.RAFTKV_SUPERVISOR_TOKEN ?? '';
const inArgv = process.argv.some((a) => token !== '' && a.includes(token));
process.stderr.write(id + ' supervisor ' + (url ?? 'none') + ' token ' + token.length + ' in argv ' + inArgv + '\\n');
setInterval(() => {}, 60000);
`;

async function withScript(fn: (command: string[], dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-cluster-'));
  try {
    const script = join(dir, 'fake-node.mjs');
    await writeFile(script, fakeNode);
    await fn([process.execPath, script], dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function start(
  h: CapturedIo,
  command: string[],
  dir: string,
  argv: string[],
  mode: string,
  gracePeriodMs = 10_000,
) {
  let signal: (s: string) => void = () => {};
  const code = runCluster(
    ['--data-dir', dir, '--base-port', '17001', ...argv],
    { PATH: process.env.PATH, FAKE_MODE: mode },
    {
      io: h.io,
      onSignal: (handler) => {
        signal = handler;
      },
      command,
      pollIntervalMs: 60_000,
      gracePeriodMs,
    },
  );
  return { code, signal: (s: string) => signal(s) };
}

test('prints the nodes, forwards their output with a prefix, and stops them all on SIGINT (exit 0)', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '2'], '');
    await h.until('n1 | hello from n1', 'n2 | hello from n2');
    assert.match(h.text(), /raftkv cluster: 2 node\(s\)/);
    assert.match(h.text(), /n1 {2}http:\/\/127\.0\.0\.1:17001 {2}\(data dir .*n1\)/);
    assert.match(h.text(), /n2 {2}http:\/\/127\.0\.0\.1:17002/);
    assert.match(h.text(), /clients: raftkv status --endpoints 127\.0\.0\.1:17001,127\.0\.0\.1:17002/);
    run.signal('SIGINT');
    assert.equal(await run.code, 0);
    assert.match(h.text(), /n1 \| n1 got SIGTERM/);
    assert.match(h.text(), /n2 \| n2 got SIGTERM/);
    assert.match(h.text(), /raftkv cluster: all nodes stopped/);
  });
});

test('a node that dies is reported with the command to rerun it; the others keep running', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '3'], 'crash-n2');
    await h.until('n2 exited with code 3', 'hello from n1', 'hello from n3');
    assert.match(
      h.text(),
      /n2 exited with code 3; the other nodes keep running\. To run it again by hand: .* start --id n2 --cluster n1=127\.0\.0\.1:17001,/,
    );
    run.signal('SIGTERM');
    assert.equal(await run.code, 0);
    assert.match(h.text(), /n1 got SIGTERM/);
    assert.match(h.text(), /n3 got SIGTERM/);
  });
});

test('when every node has exited, the supervisor exits 1', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '2'], 'crash-all');
    assert.equal(await run.code, 1);
    assert.match(h.text(), /every node has exited/);
  });
});

test('a node that ignores SIGTERM is killed after the grace period', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '1'], 'stubborn', 100);
    await h.until('hello from n1');
    run.signal('SIGTERM');
    assert.equal(await run.code, 0);
    assert.match(h.text(), /n1 ignores SIGTERM/);
    assert.match(h.text(), /n1 still running after 100 ms; sending SIGKILL/);
  });
});

test('the control API: the nodes get it by environment; kill, stop, restart; every node killed is not the end', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '2'], '');
    await h.until('hello from n1', 'hello from n2');
    const file = join(dir, 'supervisor.json');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const f = readSupervisorFile(file);
    assert.equal(f.endpoints, '127.0.0.1:17001,127.0.0.1:17002');
    assert.match(h.text(), new RegExp(`control: ${f.url} kills, stops and restarts nodes`));
    await h.until(`n1 supervisor ${f.url} token ${f.token.length} in argv false`);
    assert.ok(f.token.length >= 32);
    const control = new RaftkvClient(f.url, { keepAlive: false, token: f.token });
    const act = async (id: string, action: string): Promise<SupervisedNode> => {
      const a = await control.send({ method: 'POST', path: `/nodes/${id}/${action}` });
      assert.equal(a.status, 200, a.text);
      return a.body as SupervisedNode;
    };
    const killed = await act('n1', 'kill');
    assert.deepEqual(
      { running: killed.running, pid: killed.pid, exits: killed.exits },
      { running: false, pid: null, exits: 1 },
    );
    assert.match(h.text(), /killing n1 \(SIGKILL, through the control API\)/);
    assert.match(h.text(), /n1 was killed by SIGKILL, as the control API asked/);
    // A stop is SIGTERM: the node says so.
    const stopped = await act('n2', 'stop');
    assert.equal(stopped.running, false);
    await h.until('n2 | n2 got SIGTERM');
    // Every node down through the control API: the supervisor goes on, ready to start them again.
    assert.ok(!h.text().includes('every node has exited'));
    assert.equal((await act('n1', 'kill')).exits, 1, 'killing a node that is down does nothing');
    const again = await act('n1', 'restart');
    assert.equal(again.running, true);
    assert.ok(again.pid !== null);
    await h.until('started n1 again');
    const nodes = (await control.send({ method: 'GET', path: '/nodes' })).body as SupervisedNode[];
    assert.deepEqual(
      nodes.map((n) => [n.id, n.running, n.exits]),
      [
        ['n1', true, 1],
        ['n2', false, 1],
      ],
    );
    run.signal('SIGTERM');
    assert.equal(await run.code, 0);
    await assert.rejects(access(file), /ENOENT/, 'supervisor.json is removed at exit');
  });
});

test('--no-control: no control API, no supervisor.json, no supervisor for the nodes', async () => {
  await withScript(async (command, dir) => {
    const h = capturedIo();
    const run = start(h, command, dir, ['--nodes', '1', '--no-control'], '');
    await h.until('n1 supervisor none');
    assert.ok(!h.text().includes('control:'));
    await assert.rejects(access(join(dir, 'supervisor.json')), /ENOENT/);
    run.signal('SIGTERM');
    assert.equal(await run.code, 0);
  });
});
