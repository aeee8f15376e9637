// Failover benchmark: the time from kill -9 of the leader to the first successful write after it,
// with real node processes (the built CLI) on loopback. Per trial: wait for a settled cluster,
// kill the leader, and from that moment keep writing to the survivors (a follower forwards to the
// leader once it knows one) until one write answers 200; also noted is when a survivor first
// reports itself leader. The old leader is then restarted and caught up before the next trial.
// Not part of the tests.
//
// Run: npm run build && node dist/bench/failover.js [--trials 20] [--nodes 3]
//        [--heartbeat-interval 100] [--election-timeout 1000]
// Timing flags default to the node's own defaults (heartbeat 100 ms, election timeout 1000 ms).

import { parseArgs } from 'node:util';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { pause, waitFor } from '../test/support/wait.js';
import { percentile } from './common.js';

const { values } = parseArgs({
  options: {
    trials: { type: 'string', default: '20' },
    nodes: { type: 'string', default: '3' },
    'heartbeat-interval': { type: 'string' },
    'election-timeout': { type: 'string' },
    json: { type: 'boolean', default: false },
  },
});
const trials = Number(values.trials);
const nodes = Number(values.nodes);
const heartbeatIntervalMs =
  values['heartbeat-interval'] === undefined ? 100 : Number(values['heartbeat-interval']);
const electionTimeoutMs =
  values['election-timeout'] === undefined ? 1000 : Number(values['election-timeout']);

const cleanups: (() => Promise<void> | void)[] = [];
const hook = { after: (fn: () => Promise<void> | void) => void cleanups.push(fn) };
async function cleanup(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn();
}
process.once('SIGINT', () => {
  void cleanup().then(() => process.exit(130));
});

interface Trial {
  readonly killed: string;
  readonly newLeader: string;
  readonly electedMs: number;
  readonly firstWriteMs: number;
  readonly failedAttempts: number;
}

async function trial(cluster: ProcessCluster, n: number): Promise<Trial> {
  const leader = await cluster.waitForLeader(cluster.ids, 60_000);
  await cluster.waitConverged(cluster.ids, 60_000);
  const survivors = cluster.ids.filter((id) => id !== leader);
  let firstWrite = 0;
  let elected = 0;
  let newLeader = '';
  let failedAttempts = 0;
  let done = false;

  const t0 = performance.now();
  const killed = cluster.kill9(leader);
  // Two writers per survivor, each retrying at once (5 ms pacing) until some write succeeds.
  const writer = async (id: string, w: number): Promise<void> => {
    for (let i = 0; !done; i++) {
      try {
        const r = await cluster.put(id, `failover/${n}/${id}/${w}/${i}`, 'x', { timeoutMs: 10_000 });
        if (r.status === 200) {
          if (!done) firstWrite = performance.now() - t0;
          done = true;
          return;
        }
      } catch {
        // refused or reset: try again
      }
      failedAttempts++;
      await pause(5);
    }
  };
  // A watcher of the survivors' roles, for the election time alone.
  const watcher = async (): Promise<void> => {
    while (!done || elected === 0) {
      const infos = await cluster.debugAll(survivors);
      const l = infos.find((d) => d.state === 'leader');
      if (l !== undefined && elected === 0) {
        elected = performance.now() - t0;
        newLeader = l.nodeId;
        return;
      }
      await pause(5);
    }
  };
  await Promise.all([...survivors.flatMap((id) => [writer(id, 0), writer(id, 1)]), watcher()]);
  await killed;
  await cluster.startNode(leader, 60_000);
  await waitFor(
    `${leader} rejoined after restart`,
    async () => (await cluster.debug(leader)).leaderId !== null,
    { timeoutMs: 60_000 },
  );
  return { killed: leader, newLeader, electedMs: elected, firstWriteMs: firstWrite, failedAttempts };
}

async function main(): Promise<void> {
  const cluster = await ProcessCluster.create(hook, {
    size: nodes,
    timing: { heartbeatIntervalMs, electionTimeoutMs },
  });
  const results: Trial[] = [];
  console.log(
    `failover: ${nodes} nodes, heartbeat ${heartbeatIntervalMs} ms, election timeout ${electionTimeoutMs} ms, ${trials} trials`,
  );
  for (let i = 1; i <= trials; i++) {
    const r = await trial(cluster, i);
    results.push(r);
    console.log(
      `trial ${String(i).padStart(2)}: kill -9 ${r.killed} → ${r.newLeader} leads after ${r.electedMs.toFixed(0)} ms, ` +
        `first write ok after ${r.firstWriteMs.toFixed(0)} ms (${r.failedAttempts} failed attempts)`,
    );
  }
  const writes = results.map((r) => r.firstWriteMs).sort((a, b) => a - b);
  const elections = results.map((r) => r.electedMs).sort((a, b) => a - b);
  const summary = {
    nodes,
    heartbeatIntervalMs,
    electionTimeoutMs,
    trials,
    firstWriteMs: {
      min: Math.round(writes[0]!),
      median: Math.round(percentile(writes, 50)),
      p90: Math.round(percentile(writes, 90)),
      max: Math.round(writes.at(-1)!),
    },
    electedMs: {
      min: Math.round(elections[0]!),
      median: Math.round(percentile(elections, 50)),
      p90: Math.round(percentile(elections, 90)),
      max: Math.round(elections.at(-1)!),
    },
  };
  const w = summary.firstWriteMs;
  const e = summary.electedMs;
  console.log(
    `kill -9 of the leader → first successful write: median ${w.median} ms, p90 ${w.p90} ms, max ${w.max} ms (min ${w.min} ms)`,
  );
  console.log(
    `kill -9 of the leader → new leader:             median ${e.median} ms, p90 ${e.p90} ms, max ${e.max} ms (min ${e.min} ms)`,
  );
  if (values.json) console.log(JSON.stringify(summary));
}

try {
  await main();
} finally {
  await cleanup();
}
