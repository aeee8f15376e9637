// Goal: why a lock needs a fencing token, shown with real processes. Two `raftkv lock` commands
// contend for one lock on a 3-node cluster; each runs a worker that writes to a protected
// resource — a small HTTP service here — with its RAFTKV_LOCK_TOKEN, and the resource refuses
// any token lower than the highest it has seen. The holder is frozen (SIGSTOP of its whole
// process group: the lock command and its worker, as a long GC pause or a VM stall would) past
// its lease's TTL: its lease expires, the other contender takes the lock and writes. When the
// frozen holder wakes, its worker (which, like a real process stuck mid-task, does not stop at
// once) goes on writing with its old token — and the resource refuses every one of those writes.
// The same with the holder cut off by a real partition (its one node separated from the majority;
// needs root and network namespaces, skipped otherwise): its renewals cannot commit, its lease
// ends, the other takes over, and whatever it still sends is refused.
// What must hold: the resource accepted writes from one holder at a time, in token order, and
// none from a holder after a later holder's; the woken holder's command is told it lost the lock
// (exit 1); the other's exits 0.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type TestContext, test } from 'node:test';
import { CLI_PATH } from '../support/cli.js';
import { NetnsNetwork, netnsUnavailable } from '../support/netns.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { Prng, seedFromEnv } from '../support/random.js';
import { waitFor } from '../support/wait.js';

interface Write {
  readonly who: string;
  readonly token: number;
  readonly i: number;
  readonly accepted: boolean;
}

/** The protected resource: accepts a write only with a token at least the highest seen. */
async function startResource(t: { after: (fn: () => Promise<void> | void) => void }) {
  const writes: Write[] = [];
  let highest = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      const { who, token, i } = JSON.parse(body) as { who: string; token: number; i: number };
      const accepted = token >= highest;
      if (accepted) highest = token;
      writes.push({ who, token, i, accepted });
      res.writeHead(accepted ? 200 : 409).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/write`, writes };
}

// The worker: `count` writes, 50 ms apart, with the lock's token; it ignores SIGTERM, like a
// process that is slow to notice (the lock command SIGTERMs it when the lock is lost).
const worker = `
process.on('SIGTERM', () => {});
const [url, who, count] = process.argv.slice(2);
const token = Number(process.env.RAFTKV_LOCK_TOKEN);
for (let i = 0; i < Number(count); i++) {
  await fetch(url, { method: 'POST', body: JSON.stringify({ who, token, i }) }).catch(() => {});
  await new Promise((r) => setTimeout(r, 50));
}
`;

type Fault = 'freeze' | 'partition';

async function contend(t: TestContext, fault: Fault): Promise<void> {
  const network =
    fault === 'partition'
      ? await NetnsNetwork.create(t, 3, new Prng(seedFromEnv('RAFTKV_CRASH_SEED')))
      : undefined;
  const cluster = await ProcessCluster.create(t, {
    ...(network !== undefined && { network }),
    size: 3,
    timing: { heartbeatIntervalMs: 50, electionTimeoutMs: 500, requestTimeoutMs: 2000 },
  });
  const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-lock-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const workerFile = path.join(dir, 'worker.mjs');
  writeFileSync(workerFile, worker);
  const resource = await startResource(t);
  const children: ChildProcess[] = [];
  t.after(() => {
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try {
          process.kill(-c.pid, 'SIGCONT');
          process.kill(-c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  });
  const contender = (who: string, writes: number, endpoints: string) => {
    const child = spawn(
      process.execPath,
      [
        CLI_PATH,
        'lock',
        'resource',
        '--ttl',
        '2',
        '--endpoints',
        endpoints,
        '--',
        process.execPath,
        workerFile,
        resource.url,
        who,
        String(writes),
      ],
      // Its own process group, so the test can freeze the command and its worker together.
      { detached: true, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    child.stderr?.on('data', (c: Buffer) => {
      stderr += c.toString();
    });
    children.push(child);
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    return { child, exited, stderr: () => stderr };
  };

  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();
    // A talks to one follower only, B to the other two (for the partition: A's side is that follower).
    const [lone, ...majority] = [...cluster.ids.filter((id) => id !== leader), leader];
    // A takes the lock and starts writing (100 writes: about 5 s, longer than its TTL).
    const a = contender('A', 100, cluster.endpoints([lone!]));
    await waitFor('A writes', () => resource.writes.some((w) => w.who === 'A'), { timeoutMs: 20_000 });
    const b = contender('B', 20, cluster.endpoints(majority));
    await waitFor('B queued', async () => (await cluster.list(leader, 'resource/')).size === 2);
    if (fault === 'freeze') {
      // A is frozen (as a GC pause would) with the lock held; no renewals while frozen.
      process.kill(-a.child.pid!, 'SIGSTOP');
    } else {
      // A's only node is cut off from the majority: its renewals cannot commit there.
      await network!.partition([lone!]);
    }
    // A's lease expires: B gets the lock and writes.
    await waitFor('B writes', () => resource.writes.some((w) => w.who === 'B'), { timeoutMs: 20_000 });
    if (fault === 'freeze') process.kill(-a.child.pid!, 'SIGCONT');
    else await network!.heal();
    assert.equal(await b.exited, 0, b.stderr());
    assert.equal(await a.exited, 1, a.stderr());
    assert.match(a.stderr(), /lock resource lost/);

    const accepted = resource.writes.filter((w) => w.accepted);
    const aToken = resource.writes.find((w) => w.who === 'A')!.token;
    const bToken = resource.writes.find((w) => w.who === 'B')!.token;
    assert.ok(bToken > aToken, `B's token ${bToken} above A's ${aToken}`);
    // One holder at a time, in token order: A's accepted writes all come before B's first.
    for (let i = 1; i < accepted.length; i++) {
      assert.ok(accepted[i]!.token >= accepted[i - 1]!.token, 'accepted tokens never go back');
    }
    const firstB = accepted.findIndex((w) => w.who === 'B');
    assert.ok(
      accepted.slice(firstB).every((w) => w.who === 'B'),
      'no write of A accepted after B held the lock',
    );
    // The woken (or cut-off) worker did write with its stale token, and the resource refused it.
    const refused = resource.writes.filter((w) => !w.accepted);
    assert.ok(refused.length > 0, 'the woken holder tried to write');
    assert.ok(refused.every((w) => w.who === 'A' && w.token === aToken));
    t.diagnostic(
      `${fault}: A (token ${aToken}): ${resource.writes.filter((w) => w.who === 'A' && w.accepted).length} writes accepted, ${refused.length} refused after B took over; B (token ${bToken}): ${resource.writes.filter((w) => w.who === 'B').length} accepted`,
    );
  });
}

test('a frozen lock holder wakes after its lease ended: the fencing token keeps its writes out', (t) =>
  contend(t, 'freeze'));

test('a lock holder cut off by a partition: the fencing token keeps its writes out', async (t) => {
  const why = netnsUnavailable();
  if (why !== null) {
    t.skip(`real partitions unavailable: ${why}`);
    return;
  }
  await contend(t, 'partition');
});
