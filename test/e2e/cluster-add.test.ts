// Goal: the local cluster grows as a user grows it — `raftkv cluster` in one terminal, `raftkv
// cluster add` in another, both real processes of the built CLI: the new node (n4, on the next
// port, in DIR/n4) joins, becomes a voter by itself, holds what was written before it came,
// stops on SIGTERM while staying a member, and `raftkv cluster add --id n4` restarts it on its data.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { RaftkvClient } from '../../src/client/index.js';
import { CliProcess } from '../support/cli.js';
import { testTiming, timingArgs } from '../support/node-process.js';
import { freeConsecutivePorts, LOOPBACK } from '../support/ports.js';
import { StopWaiting, waitFor } from '../support/wait.js';

test('raftkv cluster add: n4 joins the running cluster, becomes a voter, holds the data; stopped, it stays a member', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-cluster-add-'));
  const base = await freeConsecutivePorts(4);
  const urls = [0, 1, 2, 3].map((i) => `http://${LOOPBACK}:${base + i}`);
  const endpoints = [0, 1, 2].map((i) => `${LOOPBACK}:${base + i}`).join(',');
  const clients = urls.map((url) => new RaftkvClient(url, { keepAlive: false, timeoutMs: 3000 }));
  const processes: CliProcess[] = [];
  // Registered before anything starts: every command stopped by its PID (its nodes with it, or by
  // themselves once its end of their stdin closes), the nodes' ports quiet, the temp dir removed.
  t.after(async () => {
    await Promise.all(processes.map((p) => p.stop().catch(() => undefined)));
    try {
      await waitFor(
        'every node stopped',
        async () => {
          const up = await Promise.all(
            clients.map((c) =>
              c.status({ timeoutMs: 1000 }).then(
                () => true,
                () => false,
              ),
            ),
          );
          return up.every((u) => !u);
        },
        { timeoutMs: 30_000, intervalMs: 100 },
      );
    } finally {
      for (const c of clients) c.close();
      await rm(root, { recursive: true, force: true });
    }
  });
  const run = (args: string[]): CliProcess => {
    const p = new CliProcess([...args, '--data-dir', path.join(root, 'data'), ...timingArgs(testTiming)]);
    processes.push(p);
    return p;
  };
  /** Fails the wait at once, with the command's output, if it has exited. */
  const alive = (p: CliProcess, what: string): void => {
    if (!p.running) throw new StopWaiting(`${what} exited:\n${p.output()}`);
  };
  const roleOf = async (id: string): Promise<string | undefined> =>
    (await clients[0]!.members()).members.find((m) => m.id === id)?.role;

  const cluster = run(['cluster', '--base-port', String(base)]);
  await waitFor(
    'a write through the new cluster',
    async () => {
      alive(cluster, 'raftkv cluster');
      await clients[0]!.put('before-n4', 'written-by-n1..n3', { idempotencyKey: 'before-n4' });
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );

  const add = run(['cluster', 'add', '--endpoints', endpoints]);
  const voter = async (): Promise<boolean> => {
    alive(add, 'raftkv cluster add');
    return (await roleOf('n4')) === 'voter' && add.output().includes('n4: now a voter');
  };
  await waitFor('n4 a voter, and raftkv cluster add saying so', voter, {
    timeoutMs: 60_000,
    intervalMs: 100,
  });
  const out = add.output();
  assert.match(
    out,
    new RegExp(`n4 at http://127\\.0\\.0\\.1:${base + 3} \\(data dir .*n4\\) joins through ${endpoints}`),
  );
  assert.match(out, /n4 \| .*listening/, "the node's log, prefixed with its id");
  assert.ok(out.indexOf('n4: added to the cluster as a learner') < out.indexOf('n4: now a voter'), out);

  // What was written before n4 existed is on n4: in its own state, and read through it.
  await waitFor(
    'before-n4 in n4’s own state',
    async () => (await clients[3]!.get('before-n4', { consistency: 'stale' })).value === 'written-by-n1..n3',
  );
  assert.equal((await clients[3]!.get('before-n4')).value, 'written-by-n1..n3');

  // SIGTERM stops the node, not its membership.
  const stopped = await add.stop();
  assert.deepEqual(stopped, { code: 0, signal: null }, add.output());
  assert.match(
    add.output(),
    /n4 stopped; it is still a member \(a voter\)\. Restart it with: raftkv cluster add --id n4 /,
  );
  assert.match(add.output(), /or remove it with: raftkv member remove n4/);
  assert.equal(await roleOf('n4'), 'voter');

  // The same id again: restarted on its data dir, not added again.
  const again = run(['cluster', 'add', '--endpoints', endpoints, '--id', 'n4']);
  await waitFor(
    'n4 answering again',
    async () => {
      alive(again, 'raftkv cluster add --id n4');
      return (await clients[3]!.get('before-n4', { consistency: 'stale' })).value === 'written-by-n1..n3';
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  assert.match(again.output(), /n4 is already a member \(voter\): restarting it .* it is not added again/);
  assert.deepEqual(await again.stop(), { code: 0, signal: null }, again.output());
  assert.deepEqual(await cluster.stop(), { code: 0, signal: null }, cluster.output());
  assert.match(cluster.output(), /raftkv cluster: all nodes stopped/);
});
