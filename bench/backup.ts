// Saving a backup of a large store. N keys (default 10^5: the load generator's 16-byte keys,
// 256-byte values) are preloaded into a 3-node cluster of real processes (the built CLI, the
// node's default timing, a fresh temp dir). Then `raftkv snapshot save` — the built CLI, a child
// process — saves a backup from a follower twice: with the cluster idle, and while 8 writers keep
// writing unique keys through every node. For each save: the wall time from spawn to exit, the
// file's size, the CLI's peak RSS (VmHWM, read every 10 ms while it runs), the serving node's RSS
// before and its highest while the save ran (VmRSS every 10 ms), and the writes acknowledged
// meanwhile. Then the times of `raftkv snapshot status` and `raftkv snapshot restore` (into an
// empty dir) of the idle save, with the restore's peak RSS. Prints a markdown report; `--out
// FILE` also writes it, `--json` also prints the results as one JSON line. Not part of the tests.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure, SIGINT and
// SIGTERM.
//
// Run: npm run build && node dist/bench/backup.js [--keys 100000] [--value-size 256] [--out FILE] [--json]

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { keyOf } from '../src/bench/load.js';
import { type ApiRequest, apiRequests } from '../src/client/index.js';
import { AckedWrites } from '../test/support/backup.js';
import { CLI_PATH } from '../test/support/cli.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { waitFor } from '../test/support/wait.js';
import { endpointOf, log, parseCount, parseFlags, preload, printReport, Reaper } from './common.js';
import { peakRssMiB, rssMiB } from './proc.js';

const usage = 'usage: node dist/bench/backup.js [--keys 100000] [--value-size 256] [--out FILE] [--json]';

function parseOptions() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '100000' },
      'value-size': { type: 'string', default: '256' },
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
  };
}

const { values, keys, valueSize } = parseFlags('backup', usage, parseOptions);
const keySize = 16;
const value = 'v'.repeat(valueSize);
const putOf = (i: number): ApiRequest => apiRequests.put(keyOf(i, keySize), value);
const writers = 8;
const reaper = new Reaper();

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
  /** The command's own peak RSS, MiB. */
  readonly peakMiB: number;
  /** The highest RSS of each watched process while the command ran, MiB. */
  readonly watchedPeakMiB: readonly number[];
}

/** Runs `raftkv ARGS...` to its end, reading its peak RSS and that of `watch` every 10 ms. */
function runCliMeasured(args: readonly string[], watch: readonly (number | undefined)[] = []): Promise<Run> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [CLI_PATH, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    reaper.children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    let peakMiB = Number.NaN;
    const watchedPeakMiB = watch.map((pid) => rssMiB(pid));
    const sample = (): void => {
      const own = peakRssMiB(child.pid);
      if (!Number.isNaN(own)) peakMiB = Number.isNaN(peakMiB) ? own : Math.max(peakMiB, own);
      watch.forEach((pid, i) => {
        watchedPeakMiB[i] = Math.max(watchedPeakMiB[i]!, rssMiB(pid));
      });
    };
    const timer = setInterval(sample, 10);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearInterval(timer);
      reaper.children.delete(child);
      resolve({ code, stdout, stderr, ms: performance.now() - t0, peakMiB, watchedPeakMiB });
    });
  });
}

interface Save {
  readonly during: 'idle' | 'writes';
  readonly ms: number;
  readonly bytes: number;
  readonly index: number;
  readonly cliPeakMiB: number;
  readonly nodeBeforeMiB: number;
  readonly nodePeakMiB: number;
  readonly writesMeanwhile: number;
}

async function save(
  cluster: ProcessCluster,
  from: string,
  file: string,
  during: Save['during'],
  load: AckedWrites | null,
): Promise<Save> {
  const pid = cluster.node(from).pid;
  const nodeBeforeMiB = rssMiB(pid);
  const ackedBefore = load?.acked.size ?? 0;
  const r = await runCliMeasured(
    ['snapshot', 'save', file, '--endpoints', endpointOf(cluster, from), '--json'],
    [pid],
  );
  if (r.code !== 0) throw new Error(`snapshot save exited ${r.code}: ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { bytes: number; index: number };
  return {
    during,
    ms: r.ms,
    bytes: out.bytes,
    index: out.index,
    cliPeakMiB: r.peakMiB,
    nodeBeforeMiB,
    nodePeakMiB: r.watchedPeakMiB[0]!,
    writesMeanwhile: (load?.acked.size ?? 0) - ackedBefore,
  };
}

const mib = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);

async function main(): Promise<void> {
  const startedAt = new Date();
  log(
    `backup: ${keys} keys, ${valueSize}-byte values; load average ${os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  const leader = await cluster.waitForLeader(cluster.ids, 30_000);
  log(`  leader ${leader}; preloading...`);
  const pre = await preload(reaper, endpointOf(cluster, leader), keys, putOf, 256);
  log(`  preloaded in ${pre.seconds.toFixed(1)} s`);
  await cluster.waitConverged(cluster.ids, 120_000);
  const follower = cluster.ids.find((id) => id !== leader)!;
  const dir = reaper.tempDir('raftkv-bench-backup-');

  log(`  saving from ${follower}, idle...`);
  const idle = await save(cluster, follower, path.join(dir, 'idle.snap'), 'idle', null);
  log(`  saving from ${follower} while ${writers} writers write...`);
  const load = new AckedWrites(
    cluster.ids.map((id) => cluster.client(id)),
    'bench-w/',
  );
  load.start(writers);
  await waitFor('writes flowing', () => load.acked.size >= 100, { timeoutMs: 30_000 });
  const busy = await save(cluster, follower, path.join(dir, 'busy.snap'), 'writes', load);
  await load.stop();

  log('  status and restore of the idle save...');
  const status = await runCliMeasured(['snapshot', 'status', path.join(dir, 'idle.snap')]);
  if (status.code !== 0) throw new Error(`snapshot status exited ${status.code}: ${status.stderr}`);
  const restoreDir = path.join(dir, 'restored');
  const restore = await runCliMeasured([
    'snapshot',
    'restore',
    path.join(dir, 'idle.snap'),
    '--id',
    'n1',
    '--cluster',
    'n1=127.0.0.1:1',
    '--data-dir',
    restoreDir,
  ]);
  if (restore.code !== 0) throw new Error(`snapshot restore exited ${restore.code}: ${restore.stderr}`);

  const rows = [idle, busy].map(
    (s) =>
      `| ${s.during === 'idle' ? 'idle cluster' : `${writers} writers`} | ${s.ms.toFixed(0)} | ${mib(s.bytes)} | ${s.cliPeakMiB.toFixed(0)} | ${s.nodeBeforeMiB.toFixed(0)} → ${s.nodePeakMiB.toFixed(0)} | ${s.writesMeanwhile} |`,
  );
  const md = [
    `# Backup of ${keys.toLocaleString('en')} keys (${valueSize}-byte values)`,
    '',
    `${startedAt.toISOString()}, ${os.cpus().length} cores, Node ${process.version}; a 3-node cluster of real processes on 127.0.0.1, saved from a follower with \`raftkv snapshot save\`.`,
    '',
    '| save | wall ms | file MiB | CLI peak RSS MiB | serving node RSS MiB (before → highest) | writes acknowledged meanwhile |',
    '| --- | --- | --- | --- | --- | --- |',
    ...rows,
    '',
    `\`raftkv snapshot status\` of it: ${status.ms.toFixed(0)} ms (peak RSS ${status.peakMiB.toFixed(0)} MiB); ` +
      `\`raftkv snapshot restore\` into an empty dir: ${restore.ms.toFixed(0)} ms (peak RSS ${restore.peakMiB.toFixed(0)} MiB).`,
    '',
  ].join('\n');
  printReport(md, values.out);
  if (values.json)
    console.log(JSON.stringify({ startedAt, keys, valueSize, saves: [idle, busy], status, restore }));
}

await reaper.run('backup', main);
