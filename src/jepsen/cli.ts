// `npm run jepsen -- [flags]`: one Jepsen-style run against real node processes in network
// namespaces. Prints the report; exit code 0 valid, 1 anomaly found, 2 usage error, 3 undecided
// (checker budget, final read failed) or the run itself failed (e.g. not root).

import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  booleanOption,
  type FlagDef,
  flagLines,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseChoice,
  parseInteger,
  stringOption,
  UsageError,
} from '../cli/args.js';
import { readModes } from '../cli/start-options.js';
import { minSmallDiskMiB } from './disks.js';
import { type Family, families, isFamily } from './nemesis.js';
import { renderReport } from './report.js';
import { emergency, type RunOptions, runJepsen } from './runner.js';

const familyNames = Object.keys(families).join(', ');

export const jepsenFlags: readonly FlagDef[] = [
  { name: 'nodes', value: 'N', default: '5', help: 'cluster size (at most 9)' },
  { name: 'time', value: 'S', default: '60', help: 'seconds of workload under faults' },
  {
    name: 'nemesis',
    value: 'LIST',
    default: 'partition,kill,pause',
    help: 'comma-separated fault families, all or none (see below)',
  },
  { name: 'clients', value: 'N', default: '10', help: 'concurrent clients' },
  {
    name: 'watchers',
    value: 'N',
    default: '3',
    help: 'watches of every key for the whole run, checked against the committed history (0: none)',
  },
  { name: 'seed', value: 'S', default: 'random, printed', help: 'schedule and choices follow from it' },
  { name: 'out', value: 'DIR', default: 'jepsen-out/seed-S', help: 'history, report, node logs and data' },
  { name: 'unsafe-stale-reads', help: 'every read with ?consistency=stale (shows the runner catching bugs)' },
  {
    name: 'secure',
    help: 'TLS and auth on: HTTPS with client certificates, mutual peer TLS, an auth file (admin token)',
  },
  {
    name: 'read-mode',
    value: 'safe|lease',
    default: 'safe',
    help: "the nodes' --read-mode: ReadIndex (safe) or leader lease",
  },
  {
    name: 'node-cli',
    value: 'FILE',
    default: 'the one built with this runner',
    help: 'the raftkv CLI (dist/src/cli/main.js) the nodes run, e.g. another build',
  },
  { name: 'subnet', value: 'A.B.C', default: '10.77.0', help: "the test network's /24" },
  {
    name: 'small-disk',
    value: 'MB',
    default: 'off',
    help: `each node's data dir on its own tmpfs of MB MiB (at least ${minSmallDiskMiB})`,
  },
  { name: 'heartbeat-interval', value: 'MS', default: '50', help: 'node timing' },
  { name: 'election-timeout', value: 'MS', default: '500', help: 'node timing' },
  { name: 'request-timeout', value: 'MS', default: '1500', help: 'node request deadline' },
  { name: 'client-timeout', value: 'MS', default: '3000', help: 'client gives up, op indeterminate' },
  { name: 'keys', value: 'N', default: '4', help: 'register keys in use at once' },
  { name: 'ops-per-key', value: 'N', default: '200', help: 'ops before a key slot moves to a fresh key' },
  { name: 'set-fraction', value: 'F', default: '0.2', help: 'fraction of ops that are set adds' },
  { name: 'quiet', value: 'S', default: '5', help: 'seconds of reads after the final heal' },
  { name: 'fault-seconds', value: 'LO-HI', default: '3-8', help: 'how long a fault lasts' },
  { name: 'gap-seconds', value: 'LO-HI', default: '2-5', help: 'quiet time between faults' },
  { name: 'check-time-limit', value: 'S', default: '120', help: 'checker wall-time budget' },
];

const usage = [
  'Usage: npm run jepsen -- [flags]      (needs root: ip netns, iptables)',
  '',
  'Flags:',
  ...flagLines(jepsenFlags),
  '',
  `Fault families: ${familyNames}.`,
  '"disk" needs --small-disk, and "all" includes it only with --small-disk. With --small-disk the',
  'nodes run with --min-free-bytes of a quarter of their disk.',
  '"membership" (replace a node, shrink and grow) runs on a schedule of its own, at the same time as',
  'the other families; each node it replaces comes back as a new member (n3 → n3.2) with --join.',
  'Exit codes: 0 valid, 1 anomaly found, 2 usage error, 3 undecided or the run failed.',
  '',
].join('\n');

function range(name: string, v: string | undefined, dflt: [number, number]): [number, number] {
  if (v === undefined) return [dflt[0] * 1000, dflt[1] * 1000];
  const m = /^(\d+(?:\.\d+)?)-(\d+(?:\.\d+)?)$/.exec(v);
  if (!m || Number(m[1]) > Number(m[2])) throw new UsageError(`--${name} must be LO-HI seconds, got "${v}"`);
  return [Number(m[1]) * 1000, Number(m[2]) * 1000];
}

/** The run's options from its command line; throws UsageError. */
export function runOptions(args: ParsedArgs, log: (line: string) => void): RunOptions {
  noMorePositionals(args, 0);
  const int = (name: string, dflt: number, min = 0, max?: number): number => {
    const raw = stringOption(args, name);
    return raw === undefined ? dflt : parseInteger(raw, `--${name}`, min, max);
  };
  const nemesisList = (stringOption(args, 'nemesis') ?? 'partition,kill,pause')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s !== 'none');
  const smallDiskRaw = stringOption(args, 'small-disk');
  const smallDiskMiB =
    smallDiskRaw === undefined ? null : parseInteger(smallDiskRaw, '--small-disk', minSmallDiskMiB);
  const chosen: Family[] = [];
  for (const name of nemesisList) {
    // Without small disks there is nothing to fill, and `all` keeps meaning what it did before.
    if (name === 'all')
      chosen.push(
        ...(Object.keys(families) as Family[]).filter((f) => f !== 'disk' || smallDiskMiB !== null),
      );
    else if (isFamily(name)) chosen.push(name);
    else throw new UsageError(`unknown nemesis "${name}" (known: ${familyNames}, all, none)`);
  }
  if (chosen.includes('disk') && smallDiskMiB === null)
    throw new UsageError("--nemesis disk needs --small-disk MB (the nodes' file systems it fills)");
  const seed = int('seed', Math.floor(Math.random() * 1_000_000));
  const setFractionRaw = stringOption(args, 'set-fraction');
  const setFraction = setFractionRaw === undefined ? 0.2 : Number(setFractionRaw);
  if (!(setFraction >= 0 && setFraction <= 1)) throw new UsageError('--set-fraction must be in 0..1');
  const readMode = parseChoice(stringOption(args, 'read-mode') ?? 'safe', '--read-mode', readModes);
  // Resolved now: the nodes are started from inside their namespaces, and a typo should be a
  // usage error rather than five nodes that never come up.
  const nodeCliRaw = stringOption(args, 'node-cli');
  const nodeCli = nodeCliRaw === undefined ? null : path.resolve(nodeCliRaw);
  if (nodeCli !== null && !existsSync(nodeCli)) throw new UsageError(`--node-cli: no file ${nodeCli}`);
  return {
    nodes: int('nodes', 5, 1, 9),
    timeSec: int('time', 60, 1),
    nemesis: [...new Set(chosen)],
    clients: int('clients', 10, 1),
    seed,
    out: stringOption(args, 'out') ?? `jepsen-out/seed-${seed}`,
    unsafeStaleReads: booleanOption(args, 'unsafe-stale-reads'),
    secure: booleanOption(args, 'secure'),
    readMode,
    nodeCli,
    subnet: stringOption(args, 'subnet') ?? '10.77.0',
    smallDiskBytes: smallDiskMiB === null ? null : smallDiskMiB * 2 ** 20,
    heartbeatMs: int('heartbeat-interval', 50, 1),
    electionMs: int('election-timeout', 500, 5),
    requestTimeoutMs: int('request-timeout', 1500, 1),
    clientTimeoutMs: int('client-timeout', 3000, 1),
    keys: int('keys', 4, 1),
    opsPerKey: int('ops-per-key', 200, 1),
    setFraction,
    buckets: 4,
    watchers: int('watchers', 3, 0),
    quietSec: int('quiet', 5),
    staggerMs: 10,
    faultMs: range('fault-seconds', stringOption(args, 'fault-seconds'), [3, 8]),
    gapMs: range('gap-seconds', stringOption(args, 'gap-seconds'), [2, 5]),
    checkTimeLimitMs: int('check-time-limit', 120, 1) * 1000,
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
    const args = parseArgs(process.argv.slice(2), jepsenFlags);
    if (args.help) {
      process.stdout.write(usage);
      return;
    }
    options = runOptions(args, log);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`error: ${e.message}\n\n${usage}`);
    process.exit(2);
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
