// Where the raftkv leader spends its time under load: three nodes run under `node --cpu-prof`,
// the 64-client put load of bench:compare against the leader (the same generator, keys and values),
// then a graceful stop (when V8 writes the profiles) and a summary of the leader's profile: self
// time by kind of code, by the innermost project file on the stack, and the costliest functions
// by self and by total time, resolved through the build's source maps. `--summary FILE` prints
// that summary of a saved .cpuprofile. Not part of the tests.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure or SIGINT.
//
// Run: npm run bench:profile -- DIR [flags]   (builds first), or after a build:
//      node dist/bench/profile.js DIR [--duration 10s] [--warmup 2s] [--clients 64] [--keyspace 10000]
//                                     [--op put|put-any]   (put-any: spread over every node, as bench:compare)
//      node dist/bench/profile.js --summary FILE.cpuprofile

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { RaftkvClient } from '../src/client/index.js';
import { CLI_PATH } from '../test/support/cli.js';
import { freePorts, LOOPBACK } from '../test/support/ports.js';
import { StopWaiting, waitFor } from '../test/support/wait.js';
import {
  fmtMs,
  type LoadedCluster,
  log,
  type Member,
  parseDuration,
  parseFlags,
  parseList,
  Reaper,
  raftkvLeader,
  runCase,
  runLinearizable,
  stopChildren,
} from './common.js';

const usage = [
  'usage: node dist/bench/profile.js DIR [--duration 10s] [--warmup 2s] [--clients 64] [--keyspace 10000] [--op put|put-any]',
  '       node dist/bench/profile.js --summary FILE.cpuprofile',
].join('\n');

function parseOptions() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      duration: { type: 'string', default: '10s' },
      warmup: { type: 'string', default: '2s' },
      clients: { type: 'string', default: '64' },
      keyspace: { type: 'string', default: '10000' },
      op: { type: 'string', default: 'put' },
      summary: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.summary === undefined && !values.help && positionals.length !== 1) {
    throw new Error('give the directory for the profiles (or --summary FILE)');
  }
  return {
    help: values.help,
    dir: positionals[0],
    summary: values.summary,
    durationMs: parseDuration(values.duration, '--duration'),
    warmupMs: parseDuration(values.warmup, '--warmup'),
    clientCounts: parseList(values.clients, '--clients'),
    keyspace: parseList(values.keyspace, '--keyspace')[0]!,
    op: parseOp(values.op),
  };
}

function parseOp(op: string): 'put' | 'put-any' {
  if (op === 'put' || op === 'put-any') return op;
  throw new Error(`--op must be put or put-any, not ${op}`);
}

const { dir, summary, durationMs, warmupMs, clientCounts, keyspace, op } = parseFlags(
  'profile',
  usage,
  parseOptions,
);
/** As bench:compare loads it. */
const data = { keySize: 16, valueSize: 256, keyspace };

/** Every node and temp dir started here, removed on every way out. */
const reaper = new Reaper();

// ---------------------------------------------------------------------------------------------
// Summary of a .cpuprofile

interface ProfileNode {
  readonly id: number;
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber: number;
  };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

const sourceMaps = new Map<string, SourceMap | null>();

/** Where a function lives, short: `src/raft/raft.ts:107` (through the build's source maps), `node:_http_server:300`, `(native)`. */
function where(cf: ProfileNode['callFrame']): string {
  const url = cf.url;
  if (url === '') return '(native)';
  const dist = url.indexOf('/dist/');
  if (dist >= 0 && url.startsWith('file:')) {
    let map = sourceMaps.get(url);
    if (map === undefined) {
      try {
        map = new SourceMap(
          JSON.parse(readFileSync(`${fileURLToPath(url)}.map`, 'utf8')) as SourceMapPayload,
        );
      } catch {
        map = null;
      }
      sourceMaps.set(url, map);
    }
    const entry = map?.findEntry(cf.lineNumber, cf.columnNumber);
    if (entry !== undefined && 'originalSource' in entry) {
      const src = entry.originalSource;
      const m = /(?:^|\/)((?:src|test|bench)\/.*)$/.exec(src);
      return `${m === null ? src : m[1]}:${entry.originalLine + 1}`;
    }
    return `${url.slice(dist + 1)}:${cf.lineNumber + 1}`;
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return `${url.slice(nm + 1)}:${cf.lineNumber + 1}`;
  return `${url.replace(/^node:internal\//, 'node:')}:${cf.lineNumber + 1}`;
}

function categoryOf(cf: ProfileNode['callFrame']): string {
  const name = cf.functionName;
  if (name === '(garbage collector)' || name === '(idle)' || name === '(program)') return name;
  const url = cf.url;
  if (url === '') return '(native: builtins, JSON, syscalls)';
  const m = /\/dist\/(src\/[^/]+)\//.exec(url);
  if (m !== null) return m[1]!;
  if (/node:(internal\/)?(_http|http)/.test(url)) return 'node: http';
  if (/node:(internal\/)?(net|stream|streams|timers|dns|tcp)/.test(url)) return 'node: net/stream/timers';
  if (url.startsWith('node:')) return 'node: other';
  if (url.includes('node_modules')) return 'node_modules';
  return 'other';
}

function summariseProfile(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => `${n.callFrame.functionName || '(anonymous)'}  ${where(n.callFrame)}`;
  const self = new Map<string, number>();
  const total = new Map<string, number>();
  const categories = new Map<string, number>();
  const owners = new Map<string, number>();
  let all = 0;
  let idle = 0;
  // timeDeltas[i] is the time since the previous sample; it is charged to sample i.
  for (let i = 0; i < p.samples.length; i++) {
    const dt = p.timeDeltas[i] ?? 0;
    const leaf = byId.get(p.samples[i]!);
    if (leaf === undefined) continue;
    all += dt;
    if (leaf.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    self.set(key(leaf), (self.get(key(leaf)) ?? 0) + dt);
    const cat = categoryOf(leaf.callFrame);
    categories.set(cat, (categories.get(cat) ?? 0) + dt);
    let owner: string | null = null;
    const seen = new Set<string>();
    for (let id: number | undefined = leaf.id; id !== undefined; id = parent.get(id)) {
      const n = byId.get(id)!;
      if (n.callFrame.functionName === '(root)') break;
      if (owner === null && /\/dist\/src\//.test(n.callFrame.url))
        owner = where(n.callFrame).replace(/:\d+$/, '');
      const k = key(n);
      if (seen.has(k)) continue;
      seen.add(k);
      total.set(k, (total.get(k) ?? 0) + dt);
    }
    owner ??= cat;
    owners.set(owner, (owners.get(owner) ?? 0) + dt);
  }
  const busy = all - idle;
  const pctOf = (us: number) => `${((us / busy) * 100).toFixed(1)}%`.padStart(6);
  const sorted = (m: Map<string, number>) => [...m.entries()].sort((a, b) => b[1] - a[1]);
  const lines = [
    `profile ${path.basename(file)}: ${(all / 1e6).toFixed(1)} s sampled, ${((busy / all) * 100).toFixed(0)}% busy ` +
      `(${(busy / 1e6).toFixed(1)} s); shares below are of the busy time`,
    '',
    'self time by kind of code:',
    ...sorted(categories).map(([k, v]) => `  ${pctOf(v)}  ${k}`),
    '',
    'time by the innermost project file on the stack (node internals and syscalls charged to the code that called them):',
    ...sorted(owners)
      .slice(0, top)
      .map(([k, v]) => `  ${pctOf(v)}  ${k}`),
    '',
    `top ${top} functions by self time:`,
    ...sorted(self)
      .slice(0, top)
      .map(([k, v]) => `  ${pctOf(v)}  ${k}`),
    '',
    `top ${top} functions by total time (self + callees):`,
    ...sorted(total)
      .slice(0, top)
      .map(([k, v]) => `  ${pctOf(v)}  ${k}`),
  ];
  return lines.join('\n');
}

// ---------------------------------------------------------------------------------------------
// The profiled cluster

/**
 * Three raftkv nodes run as `node --cpu-prof --cpu-prof-dir DIR dist/src/cli/main.js start ...`
 * (--cpu-prof is not allowed in NODE_OPTIONS, so not through ProcessCluster). `stop` ends them
 * gracefully (SIGTERM by PID), which is when each writes its profile.
 */
async function startProfiledRaftkv(
  profDir: string,
): Promise<{ cluster: LoadedCluster; stop: () => Promise<void> }> {
  log('raftkv: starting 3 nodes under --cpu-prof...');
  const root = reaper.tempDir('raftkv-profile-');
  const ports = await freePorts(3);
  const ids = ['n1', 'n2', 'n3'];
  const clusterArg = ids.map((id, i) => `${id}=${LOOPBACK}:${ports[i]}`).join(',');
  const procs = ids.map((id, i) => {
    const fd = openSync(path.join(root, `${id}.log`), 'a');
    const child = spawn(
      process.execPath,
      [
        '--cpu-prof',
        '--cpu-prof-dir',
        profDir,
        CLI_PATH,
        'start',
        '--id',
        id,
        '--cluster',
        clusterArg,
        '--data-dir',
        path.join(root, id),
        '--stop-with-stdin',
      ],
      { stdio: ['pipe', fd, fd] },
    );
    closeSync(fd);
    reaper.children.add(child);
    child.stdin?.on('error', () => {});
    return { id, endpoint: `${LOOPBACK}:${ports[i]}`, child };
  });
  const stop = (): Promise<void> =>
    stopChildren(
      reaper,
      procs.map((p) => p.child),
      20_000,
    );
  reaper.after(async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
    reaper.tempDirs.delete(root);
  });
  for (const p of procs) {
    await waitFor(
      `raftkv ${p.id} answering on ${p.endpoint}`,
      async () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new StopWaiting(`raftkv ${p.id} exited while starting`);
        }
        await new RaftkvClient(p.endpoint, { keepAlive: false, timeoutMs: 3000 }).status();
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  }
  const members = (): Member[] => procs.map((p) => ({ name: p.id, endpoint: p.endpoint, pid: p.child.pid }));
  const leader = () => raftkvLeader(members);
  log(`raftkv: up, leader ${await leader()}`);
  return { cluster: { system: 'raftkv', members, leader }, stop };
}

async function profileMain(dir: string): Promise<void> {
  const profDir = path.resolve(dir);
  mkdirSync(profDir, { recursive: true });
  const before = new Set(readdirSync(profDir));
  const { cluster, stop } = await startProfiledRaftkv(profDir);
  const leader = await cluster.leader();
  const leaderPid = cluster.members().find((m) => m.endpoint === leader)?.pid;
  log(`warm-up ${warmupMs / 1000} s...`);
  const warmup = { ...data, target: 'raftkv', endpoints: [leader], op: 'put', clients: 16 } as const;
  await runLinearizable(reaper, { ...warmup, durationMs: warmupMs });
  for (const n of clientCounts) {
    log(`raftkv ${op}, ${n} clients, ${durationMs / 1000} s, profiled...`);
    const r = await runCase(reaper, cluster, op, n, durationMs, data);
    log(
      `  ${r.bench.throughput.toFixed(0)} ops/s, p50 ${fmtMs(r.bench.latency.all.p50Ms)} ms, ` +
        `p99 ${fmtMs(r.bench.latency.all.p99Ms)} ms, leader CPU ${r.leaderCpu.toFixed(0)}%`,
    );
  }
  // A graceful stop makes each node write its profile.
  await stop();
  const written = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  const members = cluster.members();
  const suffix = `${op}-${clientCounts.join('-')}.cpuprofile`;
  let leaderProfile: string | null = null;
  const followerProfiles: string[] = [];
  for (const m of members) {
    const f = written.find((w) => m.pid !== undefined && w.includes(`.${m.pid}.`));
    if (f === undefined) continue;
    const isLeader = m.pid === leaderPid;
    const target = path.join(profDir, `raftkv-${isLeader ? 'leader' : `follower-${m.name}`}-${suffix}`);
    rmSync(target, { force: true });
    renameSync(path.join(profDir, f), target);
    if (isLeader) leaderProfile = target;
    else followerProfiles.push(target);
  }
  if (leaderProfile === null) throw new Error(`no profile of the leader (pid ${leaderPid}) in ${profDir}`);
  console.log(`leader profile: ${leaderProfile} (open in Chrome DevTools or speedscope)`);
  for (const f of followerProfiles) console.log(`follower profile: ${f}`);
  console.log(`\n=== leader\n${summariseProfile(leaderProfile)}`);
  for (const f of followerProfiles) console.log(`\n=== follower\n${summariseProfile(f, 12)}`);
}

await reaper.run('profile', async () => {
  if (summary !== undefined) console.log(summariseProfile(summary));
  else await profileMain(dir!);
});
