// Goal: `raftkv cluster add` runs the planned node as a child the way `raftkv cluster` runs its
// nodes — log lines prefixed with its id — says when the cluster lists it and when it is a voter,
// stops it on a signal (exit 0) saying that it is still a member and how to restart or remove it,
// and reports a node that exits on its own (exit 1). A stand-in HTTP server plays the cluster's
// membership API and a stand-in script replaces `raftkv start`; the real thing is in
// test/e2e/cluster-add.test.ts.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { runClusterAdd } from '../../src/cli/cluster-add.js';
import type { Member } from '../../src/cli/cluster-add-plan.js';
import type { MembersResult } from '../../src/client/index.js';
import { encodeIdentity } from '../../src/storage/identity.js';
import { type CapturedIo, capturedIo } from '../support/captured-io.js';

const fakeNode = `
const arg = (name) => process.argv[process.argv.indexOf(name) + 1];
const id = arg('--id');
if (!process.argv.includes('--stop-with-stdin') || !process.argv.includes('--join')) process.exit(9);
process.on('SIGTERM', () => {
  process.stderr.write(id + ' got SIGTERM\\n');
  process.exit(0);
});
if (process.env.FAKE_MODE === 'crash') process.exit(3);
process.stderr.write('hello from ' + id + ' listening on ' + arg('--listen') + '\\n');
setInterval(() => {}, 60000);
`;

const clusterId = 'raftkv-fake';

/** The membership API of a cluster whose members the test sets; /debug answers as `debugId`. */
class FakeCluster {
  members: Member[] = [
    { id: 'n1', address: '127.0.0.1:17001', role: 'voter' },
    { id: 'n2', address: '127.0.0.1:17002', role: 'voter' },
    { id: 'n3', address: '127.0.0.1:17003', role: 'voter' },
  ];
  index = 3;
  debugId = 'n1';
  private readonly server = http.createServer((req, res) => {
    const send = (body: unknown): void => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/cluster/members') {
      const answer: MembersResult = { clusterId, members: this.members, leaderId: 'n1', index: this.index };
      send(answer);
    } else if (req.url === '/debug') {
      send({ nodeId: this.debugId, state: 'follower', term: 1 });
    } else {
      res.writeHead(404).end();
    }
  });

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  role(id: string, role: 'voter' | 'learner', address = '127.0.0.1:17004'): void {
    this.members = [...this.members.filter((m) => m.id !== id), { id, address, role }];
    this.index++;
  }
}

interface Run {
  readonly code: Promise<number>;
  signal(s: string): void;
}

async function withSetup(
  fn: (s: {
    h: CapturedIo;
    cluster: FakeCluster;
    endpoint: string;
    dir: string;
    run: (argv: string[], mode?: string) => Run;
  }) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-add-run-'));
  const cluster = new FakeCluster();
  try {
    const endpoint = await cluster.listen();
    const script = join(dir, 'fake-node.mjs');
    await writeFile(script, fakeNode);
    const h = capturedIo();
    const run = (argv: string[], mode = ''): Run => {
      let signal: (s: string) => void = () => {};
      const code = runClusterAdd(
        ['--endpoints', endpoint, '--data-dir', join(dir, 'data'), ...argv],
        { PATH: process.env.PATH, FAKE_MODE: mode },
        {
          io: h.io,
          onSignal: (handler) => {
            signal = handler;
          },
          command: [process.execPath, script],
          pollIntervalMs: 20,
          gracePeriodMs: 10_000,
        },
      );
      return { code, signal: (s) => signal(s) };
    };
    await fn({ h, cluster, endpoint, dir, run });
  } finally {
    await cluster.close();
    await rm(dir, { recursive: true, force: true });
  }
}

test('runs the next node, reports it added and a voter, and stops it on SIGINT, still a member', async () => {
  await withSetup(async ({ h, cluster, endpoint, dir, run }) => {
    const r = run(['--election-timeout', '600']);
    await h.until('n4 | hello from n4 listening on 127.0.0.1:17004');
    assert.match(
      h.text(),
      new RegExp(`n4 at http://127\\.0\\.0\\.1:17004 \\(data dir .*n4\\) joins through ${endpoint}`),
    );
    assert.match(h.text(), /Ctrl-C stops n4; it stays a member until: raftkv member remove n4 --endpoints/);
    cluster.role('n4', 'learner');
    await h.until(
      'n4: added to the cluster as a learner',
      'the leader promotes it to voter once it has caught up',
    );
    cluster.role('n4', 'voter');
    await h.until('n4: now a voter');
    r.signal('SIGINT');
    assert.equal(await r.code, 0);
    assert.match(h.text(), /n4 \| n4 got SIGTERM/);
    assert.match(h.text(), /raftkv cluster add: SIGINT: stopping 1 node\(s\)/);
    // By default a new id would be picked, so the restart command names this one.
    const dataDir = join(dir, 'data');
    assert.ok(
      h
        .text()
        .includes(
          `n4 stopped; it is still a member (a voter). Restart it with: raftkv cluster add --id n4 --endpoints ${endpoint} --data-dir ${dataDir} --election-timeout=600; or remove it with: raftkv member remove n4 --endpoints ${endpoint}\n`,
        ),
      h.text(),
    );
  });
});

test('--learner: says how to promote it', async () => {
  await withSetup(async ({ h, cluster, run }) => {
    const r = run(['--learner', '--id', 'extra', '--port', '18000']);
    await h.until('extra | hello from extra listening on 127.0.0.1:18000');
    cluster.role('extra', 'learner', '127.0.0.1:18000');
    await h.until('extra: stays a learner until: raftkv member promote extra --endpoints');
    r.signal('SIGTERM');
    assert.equal(await r.code, 0);
    assert.match(h.text(), /extra stopped; it is still a member \(a learner\)/);
  });
});

test('stopped before the cluster listed it: says so', async () => {
  await withSetup(async ({ h, run }) => {
    const r = run([]);
    await h.until('hello from n4');
    r.signal('SIGTERM');
    assert.equal(await r.code, 0);
    assert.match(
      h.text(),
      /n4 stopped before the cluster listed it; if it was added, remove it with: raftkv member remove n4/,
    );
  });
});

test('a node that exits on its own: reported with the command that runs it again, exit 1', async () => {
  await withSetup(async ({ h, run }) => {
    const r = run([], 'crash');
    assert.equal(await r.code, 1);
    assert.match(
      h.text(),
      /raftkv cluster add: n4 exited with code 3; to run it again by hand: .* start --id n4 --listen 127\.0\.0\.1:17004 /,
    );
  });
});

test('refusals exit 1 with one line: nothing answers, a planning refusal, a member that already runs', async () => {
  await withSetup(async ({ h, cluster, endpoint, dir }) => {
    const deps = { io: h.io, onSignal: () => {}, command: ['false'], pollIntervalMs: 20, gracePeriodMs: 100 };
    assert.equal(await runClusterAdd(['--endpoints', '127.0.0.1:1'], {}, deps), 1);
    assert.match(h.text(), /^raftkv cluster add: no member answered .*; is the cluster running\?/);

    const data = join(dir, 'data');
    assert.equal(
      await runClusterAdd(['--endpoints', endpoint, '--data-dir', data, '--id', 'n2'], {}, deps),
      1,
    );
    assert.match(h.text(), /n2 is already a member \(voter\), but .* holds no data/);

    // n4 is a member whose data dir is in place, and its address answers as n4: it already runs.
    cluster.role('n4', 'voter', endpoint);
    cluster.debugId = 'n4';
    await mkdir(join(data, 'n4'), { recursive: true });
    await writeFile(join(data, 'n4', 'IDENTITY'), encodeIdentity({ clusterId, nodeId: 'n4' }));
    assert.equal(
      await runClusterAdd(['--endpoints', endpoint, '--data-dir', data, '--id', 'n4'], {}, deps),
      1,
    );
    assert.ok(
      h
        .text()
        .endsWith(
          `raftkv cluster add: n4 already runs at ${endpoint} (it answers there): nothing to restart\n`,
        ),
      h.text(),
    );
  });
});
