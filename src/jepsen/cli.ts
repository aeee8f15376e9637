// `npm run jepsen -- [flags]`: one Jepsen-style run against real node processes in network
// namespaces. Prints the report; exit code 0 valid, 1 anomaly found, 2 usage error, 3 undecided
// (checker budget, final read failed) or the run itself failed (e.g. not root).

import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModes } from '../cli/start-options.js';
import type { ReadMode } from '../raft/index.js';
import { minSmallDiskMiB } from './disks.js';
import { type Family, families, isFamily } from './nemesis.js';
import { renderReport } from './report.js';
import { emergency, type RunOptions, runJepsen } from './runner.js';

const usage = `Usage: npm run jepsen -- [flags]      (needs root: ip netns, iptables)

  --nodes N                 cluster size (default 5)
  --time S                  seconds of workload under faults (default 60)
  --nemesis LIST            comma-separated: ${Object.keys(families).join(', ')}, all, none
                            (default partition,kill,pause; disk needs --small-disk, and all
                            includes it only with --small-disk)
  --clients N               concurrent clients (default 10)
  --seed S                  schedule and choices follow from it (default: random, printed)
  --out DIR                 history, report, node logs and data (default jepsen-out/seed-S)
  --unsafe-stale-reads      every read with ?consistency=stale (shows the runner catching bugs)
  --read-mode safe|lease    the nodes' --read-mode: ReadIndex (safe) or leader lease (default safe)
  --node-cli FILE           the raftkv CLI (dist/src/cli/main.js) the nodes run, e.g. another
                            build (default: the one built with this runner)
  --subnet A.B.C            the test network's /24 (default 10.77.0)
  --small-disk MB           each node's data dir on its own tmpfs of MB MiB (at least ${minSmallDiskMiB}),
                            nodes run with --min-free-bytes of a quarter of it (default: off)
  --heartbeat-interval MS   node timing (default 50)
  --election-timeout MS     (default 500)
  --request-timeout MS      node request deadline (default 1500)
  --client-timeout MS       client gives up, op indeterminate (default 3000)
  --keys N                  register keys in use at once (default 4)
  --ops-per-key N           ops before a key slot moves to a fresh key (default 200)
  --set-fraction F          fraction of ops that are set adds (default 0.2)
  --quiet S                 seconds of reads after the final heal (default 5)
  --fault-seconds LO-HI     how long a fault lasts (default 3-8)
  --gap-seconds LO-HI       quiet time between faults (default 2-5)
  --check-time-limit S      checker wall-time budget (default 120)
`;

class UsageError extends Error {}

function int(name: string, v: string | undefined, dflt: number, min = 0): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer >= ${min}, got "${v}"`);
  return n;
}

function range(name: string, v: string | undefined, dflt: [number, number]): [number, number] {
  if (v === undefined) return [dflt[0] * 1000, dflt[1] * 1000];
  const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2])) throw new UsageError(`--${name} must be LO-HI seconds, got "${v}"`);
  return [Number(m[1]) * 1000, Number(m[2]) * 1000];
}

function isReadMode(s: string): s is ReadMode {
  return (readModes as readonly string[]).includes(s);
}

export function parseOptions(argv: readonly string[], log: (line: string) => void): RunOptions {
  const { values, positionals } = parseArgs({
    args: [...argv],
    allowPositionals: true,
    options: {
      nodes: { type: 'string' },
      time: { type: 'string' },
      nemesis: { type: 'string' },
      clients: { type: 'string' },
      seed: { type: 'string' },
      out: { type: 'string' },
      'unsafe-stale-reads': { type: 'boolean' },
      'read-mode': { type: 'string' },
      'node-cli': { type: 'string' },
      subnet: { type: 'string' },
      'small-disk': { type: 'string' },
      'heartbeat-interval': { type: 'string' },
      'election-timeout': { type: 'string' },
      'request-timeout': { type: 'string' },
      'client-timeout': { type: 'string' },
      keys: { type: 'string' },
      'ops-per-key': { type: 'string' },
      'set-fraction': { type: 'string' },
      quiet: { type: 'string' },
      'fault-seconds': { type: 'string' },
      'gap-seconds': { type: 'string' },
      'check-time-limit': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) throw new UsageError('');
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`);
  const nemesisList = (values.nemesis ?? 'partition,kill,pause')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  const smallDiskMiB =
    values['small-disk'] === undefined ? null : int('small-disk', values['small-disk'], 0, minSmallDiskMiB);
  const chosen: Family[] = [];
  for (const name of nemesisList) {
    // Without small disks there is nothing to fill, and `all` keeps meaning what it did before.
    if (name === 'all')
      chosen.push(
        ...(Object.keys(families) as Family[]).filter((f) => f !== 'disk' || smallDiskMiB !== null),
      );
    else if (isFamily(name)) chosen.push(name);
    else
      throw new UsageError(
        `unknown nemesis "${name}" (known: ${Object.keys(families).join(', ')}, all, none)`,
      );
  }
  if (chosen.includes('disk') && smallDiskMiB === null)
    throw new UsageError("--nemesis disk needs --small-disk MB (the nodes' file systems it fills)");
  const seed = int('seed', values.seed, Math.floor(Math.random() * 1_000_000));
  const setFraction = values['set-fraction'] === undefined ? 0.2 : Number(values['set-fraction']);
  if (!(setFraction >= 0 && setFraction <= 1)) throw new UsageError('--set-fraction must be in 0..1');
  const nodes = int('nodes', values.nodes, 5, 1);
  if (nodes > 9) throw new UsageError('--nodes must be at most 9');
  const readMode = values['read-mode'] ?? 'safe';
  if (!isReadMode(readMode))
    throw new UsageError(`--read-mode must be one of ${readModes.join(', ')}, got "${readMode}"`);
  // Resolved now: the nodes are started from inside their namespaces, and a typo should be a
  // usage error rather than five nodes that never come up.
  const nodeCli = values['node-cli'] === undefined ? null : path.resolve(values['node-cli']);
  if (nodeCli !== null && !existsSync(nodeCli)) throw new UsageError(`--node-cli: no file ${nodeCli}`);
  return {
    nodes,
    timeSec: int('time', values.time, 60, 1),
    nemesis: [...new Set(chosen)],
    clients: int('clients', values.clients, 10, 1),
    seed,
    out: values.out ?? `jepsen-out/seed-${seed}`,
    unsafeStaleReads: values['unsafe-stale-reads'] === true,
    readMode,
    nodeCli,
    subnet: values.subnet ?? '10.77.0',
    smallDiskBytes: smallDiskMiB === null ? null : smallDiskMiB * 2 ** 20,
    heartbeatMs: int('heartbeat-interval', values['heartbeat-interval'], 50, 1),
    electionMs: int('election-timeout', values['election-timeout'], 500, 5),
    requestTimeoutMs: int('request-timeout', values['request-timeout'], 1500, 1),
    clientTimeoutMs: int('client-timeout', values['client-timeout'], 3000, 1),
    keys: int('keys', values.keys, 4, 1),
    opsPerKey: int('ops-per-key', values['ops-per-key'], 200, 1),
    setFraction,
    buckets: 4,
    quietSec: int('quiet', values.quiet, 5),
    staggerMs: 10,
    faultMs: range('fault-seconds', values['fault-seconds'], [3, 8]),
    gapMs: range('gap-seconds', values['gap-seconds'], [2, 5]),
    checkTimeLimitMs: int('check-time-limit', values['check-time-limit'], 120, 1) * 1000,
    log,
  };
}

function log(line: string): void {
  process.stderr.write(`[jepsen ${new Date().toISOString().slice(11, 23)}] ${line}\n`);
}

function cleanupAndExit(code: number): never {
  try {
    emergency.cleanup?.();
  } finally {
    process.exit(code);
  }
}

async function main(): Promise<void> {
  let options: RunOptions;
  try {
    options = parseOptions(process.argv.slice(2), log);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof Error && 'code' in e)) {
      if (e.message) process.stderr.write(`error: ${e.message}\n\n`);
      process.stderr.write(usage);
      process.exit(e.message ? 2 : 0);
    }
    throw e;
  }
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(sig, () => {
      log(`${sig}: cleaning up`);
      cleanupAndExit(130);
    });
  }
  process.on('exit', () => emergency.cleanup?.());
  log(`seed ${options.seed}, output in ${options.out}`);
  const { report, exitCode } = await runJepsen(options);
  process.stdout.write(`${renderReport(report)}\n`);
  process.exitCode = exitCode;
}

process.on('uncaughtException', (e) => {
  process.stderr.write(`jepsen: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  cleanupAndExit(3);
});
process.on('unhandledRejection', (e) => {
  process.stderr.write(`jepsen: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  cleanupAndExit(3);
});

try {
  await main();
} catch (e) {
  process.stderr.write(`jepsen: ${e instanceof Error ? e.message : String(e)}\n`);
  cleanupAndExit(3);
}
