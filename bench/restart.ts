// Restart of a 3-node cluster holding N keys, measured again and again from the same data: a
// fresh cluster of real processes on 127.0.0.1 with the node's default timing (heartbeat 100 ms,
// election timeout 1 s), fsync on; N distinct 16-byte keys (256-byte values by default) preloaded
// with 256 puts in flight to the leader; then (unless --skip-snapshot) a snapshot of all N keys on
// the leader (POST /admin/snapshot), as bench:keys takes one, while the followers keep their own
// automatic snapshot and the WAL after it. All three are killed with SIGKILL and their data dirs
// copied once; each run restores the copies, starts the three nodes at once and times from spawn
// to every node healthy (GET /health 200), with what each node's log says of its recovery
// (node.starting: walMs, snapshotMs, restoreMs; node.listening; leader.elected), and reads each
// node's VmRSS, VmHWM and /metrics heap once every node holds the N keys again. Prints a markdown
// report; `--out FILE` also writes it, `--json` also prints the results as one JSON line. Not part
// of the tests. Every process and temp dir it starts is removed at the end, by PID, also on
// failure, SIGINT and SIGTERM.
//
// Run: npm run build && node dist/bench/restart.js [--keys 1000000] [--value-size 256] [--runs 3]
//        [--skip-snapshot] [--out FILE] [--json]

import { cpSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { keyOf } from '../src/bench/load.js';
import { type ApiRequest, apiRequests } from '../src/client/index.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { StopWaiting, waitFor } from '../test/support/wait.js';
import {
  endpointOf,
  log,
  parseCount,
  parseFlags,
  percentile,
  preload,
  printReport,
  Reaper,
} from './common.js';
import { heapOf, parseStatusMemory } from './keys-report.js';

const usage = [
  'usage: node dist/bench/restart.js [--keys 1000000] [--value-size 256] [--runs 3] [--skip-snapshot]',
  '         [--out FILE] [--json]',
].join('\n');

function parseOptions() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '1000000' },
      'value-size': { type: 'string', default: '256' },
      runs: { type: 'string', default: '3' },
      'skip-snapshot': { type: 'boolean', default: false },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    help: values.help,
    values,
    keys: parseCount(values.keys, '--keys', 1),
    valueSize: parseCount(values['value-size'], '--value-size', 1),
    runs: parseCount(values.runs, '--runs', 1),
  };
}

const { values, keys, valueSize, runs } = parseFlags('restart', usage, parseOptions);
const value = 'v'.repeat(valueSize);
const putOf = (i: number): ApiRequest => apiRequests.put(keyOf(i, 16), value);
/** A bound against hangs that grows with the data, not a speed assertion. */
const deadlineMs = 60_000 + Math.ceil(keys / 1000) * 200;
const reaper = new Reaper();

interface NodeRun {
  readonly id: string;
  /** Milliseconds from spawn: node.starting (recovery done), node.listening, leader.elected (if it won). */
  readonly startingMs: number | null;
  readonly listeningMs: number | null;
  readonly electedMs: number | null;
  readonly healthyMs: number;
  /** node.starting's fields: WAL entries after the snapshot, and the recovery steps. */
  readonly entries: number | null;
  readonly walMs: number | null;
  readonly snapshotMs: number | null;
  readonly restoreMs: number | null;
  readonly rssMiB: number;
  readonly hwmMiB: number;
  readonly heapUsedMiB: number | null;
  readonly externalMiB: number | null;
}

interface Run {
  readonly allHealthyMs: number;
  readonly nodes: readonly NodeRun[];
  /** The 1-minute load average before and after the run. */
  readonly load: readonly [number, number];
}

interface AfterLoad {
  readonly id: string;
  readonly role: 'leader' | 'follower';
  readonly rssMiB: number;
  readonly heapUsedMiB: number | null;
  readonly externalMiB: number | null;
}

function memoryOf(pid: number | undefined): { rssMiB: number; hwmMiB: number } {
  try {
    return parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return { rssMiB: Number.NaN, hwmMiB: Number.NaN };
  }
}

/** The first line of an incarnation logging `event` (the text format's `event=` field). */
function eventLine(cluster: ProcessCluster, id: string, event: string, incarnation: number): string | null {
  return cluster.node(id).lines(`event=${event} `, incarnation)[0] ?? null;
}

/** Milliseconds from `since` (epoch ms) to the line's timestamp, or null. */
function lineMs(line: string | null, since: number): number | null {
  const t = line === null ? Number.NaN : Date.parse(line.slice(0, line.indexOf(' ')));
  return Number.isNaN(t) ? null : t - since;
}

function numField(line: string | null, name: string): number | null {
  const m = line === null ? null : new RegExp(`\\s${name}=(\\d+(?:\\.\\d+)?)(\\s|$)`).exec(line);
  return m === null ? null : Number(m[1]);
}

/** Every node has applied all that is committed and holds exactly `keys` keys. */
async function checkKeys(cluster: ProcessCluster, when: string): Promise<void> {
  await cluster.waitConverged(cluster.ids, deadlineMs);
  const infos = await Promise.all(cluster.ids.map((id) => cluster.debug(id)));
  if (infos.some((d) => d.keys !== keys)) {
    throw new Error(
      `${when}: expected ${keys} keys, found ${infos.map((d) => `${d.nodeId}=${d.keys}`).join(', ')}`,
    );
  }
}

async function heap(cluster: ProcessCluster, id: string) {
  return heapOf('raftkv', await cluster.client(id).metrics({ timeoutMs: 10_000 }));
}

async function restartOnce(cluster: ProcessCluster, pristine: Map<string, string>): Promise<Run> {
  for (const id of cluster.ids) {
    const dir = cluster.node(id).dataDir;
    rmSync(dir, { recursive: true, force: true });
    cpSync(pristine.get(id)!, dir, { recursive: true });
  }
  const loadBefore = os.loadavg()[0]!;
  const spawnedAt = Date.now();
  const t0 = performance.now();
  for (const id of cluster.ids) cluster.node(id).start();
  const incarnation = new Map(cluster.ids.map((id) => [id, cluster.node(id).incarnation]));
  const healthy = new Map<string, number>();
  await Promise.all(
    cluster.ids.map((id) =>
      waitFor(
        `${id} healthy after the restart`,
        async () => {
          if (!cluster.node(id).running) throw new StopWaiting(`${id} exited:\n${cluster.node(id).tail(30)}`);
          if (!(await cluster.client(id).health({ timeoutMs: 5000 })).ok) return false;
          healthy.set(id, performance.now() - t0);
          return true;
        },
        { timeoutMs: deadlineMs, intervalMs: 10 },
      ),
    ),
  );
  await checkKeys(cluster, 'after the restart');
  const nodes = await Promise.all(
    cluster.ids.map(async (id): Promise<NodeRun> => {
      const inc = incarnation.get(id)!;
      const starting = eventLine(cluster, id, 'node.starting', inc);
      const h = await heap(cluster, id);
      return {
        id,
        startingMs: lineMs(starting, spawnedAt),
        listeningMs: lineMs(eventLine(cluster, id, 'node.listening', inc), spawnedAt),
        electedMs: lineMs(eventLine(cluster, id, 'leader.elected', inc), spawnedAt),
        healthyMs: healthy.get(id)!,
        entries: numField(starting, 'entries'),
        walMs: numField(starting, 'walMs'),
        snapshotMs: numField(starting, 'snapshotMs'),
        restoreMs: numField(starting, 'restoreMs'),
        ...memoryOf(cluster.node(id).pid),
        heapUsedMiB: h.heapUsedMiB,
        externalMiB: h.externalMiB,
      };
    }),
  );
  await cluster.kill9All();
  return {
    allHealthyMs: Math.max(...nodes.map((n) => n.healthyMs)),
    nodes,
    load: [loadBefore, os.loadavg()[0]!],
  };
}

const ms = (v: number | null): string => (v === null ? '–' : (v / 1000).toFixed(2));
const mib = (v: number | null): string => (v === null || Number.isNaN(v) ? '–' : v.toFixed(0));

function report(afterLoad: readonly AfterLoad[], results: readonly Run[]): string {
  const sorted = results.map((r) => r.allHealthyMs).sort((a, b) => a - b);
  const lines = [
    `## Restart of 3 nodes holding ${keys} keys (${valueSize}-byte values)`,
    '',
    `${os.cpus().length} cores; ${results.length} runs from the same data dirs` +
      (values['skip-snapshot'] ? '' : ', the leader having taken a snapshot of every key before the kill') +
      `. All healthy after: median ${ms(percentile(sorted, 50))} s (${sorted.map((v) => ms(v)).join(', ')}).`,
    '',
    'After the preload (before the kill):',
    '',
    '| node | role | RSS MiB | heap used MiB | external MiB |',
    '| --- | --- | --- | --- | --- |',
    ...afterLoad.map(
      (n) => `| ${n.id} | ${n.role} | ${mib(n.rssMiB)} | ${mib(n.heapUsedMiB)} | ${mib(n.externalMiB)} |`,
    ),
  ];
  results.forEach((r, i) => {
    lines.push(
      '',
      `Run ${i + 1}: all healthy after ${ms(r.allHealthyMs)} s (load average ${r.load[0].toFixed(2)} → ${r.load[1].toFixed(2)}); ` +
        'times in seconds from spawn, recovery steps from node.starting:',
      '',
      '| node | WAL entries | read WAL | check snapshot | restore | recovered | listening | elected | healthy | RSS MiB | VmHWM MiB | heap used MiB | external MiB |',
      '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
      ...r.nodes.map(
        (n) =>
          `| ${n.id} | ${n.entries ?? '–'} | ${ms(n.walMs)} | ${ms(n.snapshotMs)} | ${ms(n.restoreMs)} | ` +
          `${ms(n.startingMs)} | ${ms(n.listeningMs)} | ${ms(n.electedMs)} | ${ms(n.healthyMs)} | ` +
          `${mib(n.rssMiB)} | ${mib(n.hwmMiB)} | ${mib(n.heapUsedMiB)} | ${mib(n.externalMiB)} |`,
      ),
    );
  });
  return `${lines.join('\n')}\n`;
}

async function main(): Promise<void> {
  log(`starting 3 nodes...`);
  // The node's own timing defaults: an empty timing passes no timing flags.
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  try {
    const leader = await cluster.waitForLeader(cluster.ids, 30_000);
    log(`leader ${leader}; preloading ${keys} keys...`);
    const pre = await preload(reaper, endpointOf(cluster, leader), keys, putOf, 256);
    log(`  ${pre.seconds.toFixed(0)} s (${pre.rate.toFixed(0)} puts/s)`);
    await checkKeys(cluster, 'after the preload');
    const afterLoad = await Promise.all(
      cluster.ids.map(async (id): Promise<AfterLoad> => {
        const h = await heap(cluster, id);
        return {
          id,
          role: id === leader ? 'leader' : 'follower',
          rssMiB: memoryOf(cluster.node(id).pid).rssMiB,
          heapUsedMiB: h.heapUsedMiB,
          externalMiB: h.externalMiB,
        };
      }),
    );
    if (!values['skip-snapshot']) {
      log('snapshot of every key on the leader...');
      await cluster.client(leader).snapshot({ timeoutMs: 180_000 });
    }
    await cluster.kill9All();
    // The data dirs as the kill left them: each run starts from a copy.
    const pristine = new Map(cluster.ids.map((id) => [id, `${cluster.node(id).dataDir}.killed`]));
    for (const id of cluster.ids) cpSync(cluster.node(id).dataDir, pristine.get(id)!, { recursive: true });
    const results: Run[] = [];
    for (let i = 0; i < runs; i++) {
      log(`restart ${i + 1} of ${runs}...`);
      const r = await restartOnce(cluster, pristine);
      log(`  all healthy after ${ms(r.allHealthyMs)} s`);
      results.push(r);
    }
    printReport(report(afterLoad, results), values.out);
    if (values.json) console.log(JSON.stringify({ keys, valueSize, afterLoad, runs: results }));
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`${message}\n--- node output ---\n${cluster.diagnostics(20)}`, { cause: e });
  } finally {
    await cluster.cleanup();
    reaper.clusters.delete(cluster);
  }
}

await reaper.run('restart', main);
