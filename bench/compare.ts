// raftkv against etcd, side by side in one run: both as 3-node clusters on 127.0.0.1 with fsync on
// and their data on the same disk (os.tmpdir()), loaded by the same generator (`raftkv bench
// --json`, one child process per case, speaking raftkv's API or etcd's v3 JSON gateway) with the
// same 16-byte keys and 256-byte values: puts to each system's leader, puts spread over all members
// (`--ops put-any`: what clients that do not know the leader do) and linearizable gets spread
// over all three nodes, at 1 / 16 / 64 / 256 clients. Cases alternate between the systems, so
// noise from other work on the machine falls on both. Next to the results it measures this disk's
// fdatasync latency and the loopback HTTP round trip (the floor of a single client's write is about
// one of each), the CPU every node used per case, and each node's RSS after the runs. Prints a
// markdown report; `--out FILE` also writes it. Not part of the tests.
//
// etcd is Debian's `etcd-server` package: when `etcd` is not on PATH (and no --etcd BIN is given),
// the script installs it if it runs as root with apt-get available, else says how.
//
// With `--profile DIR` it instead runs the 64-client put load against raftkv alone with every node
// under `node --cpu-prof` (profiles written to DIR on a graceful stop) and prints the leader's
// costliest functions by self time and by total time; `--summary FILE` prints that summary of
// a saved .cpuprofile.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure or SIGINT.
//
// Run: npm run bench:compare -- [flags]   (builds first), or after a build:
//      node dist/bench/compare.js [--duration 10s | --quick] [--out FILE]
//        [--clients 1,16,64,256] [--ops put,put-any,get] [--keyspace 10000] [--warmup 2s] [--etcd BIN]
//      node dist/bench/compare.js --profile DIR [--duration 10s] [--clients 64]
//      node dist/bench/compare.js --summary FILE.cpuprofile

import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  accessSync,
  closeSync,
  constants,
  fdatasyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from 'node:fs';
import http from 'node:http';
import { SourceMap, type SourceMapPayload } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  CLI_PATH,
  freePorts,
  LOOPBACK,
  ProcessCluster,
  StopWaiting,
  waitFor,
} from '../test/support/processes.js';
import {
  type BenchJson,
  cpuSeconds,
  endpointOf,
  errorsOf,
  fmtMs,
  killPid,
  log,
  parseDuration,
  parseFlags,
  parseList,
  pause,
  percentile,
  printReport,
  Reaper,
  type Reply,
  request,
  rssMiB,
  runLinearizable,
} from './common.js';

const usage = [
  'usage: node dist/bench/compare.js [--duration 10s | --quick] [--out FILE] [--clients 1,16,64,256]',
  '         [--ops put,put-any,get] [--keyspace 10000] [--warmup 2s] [--etcd BIN]',
  '       node dist/bench/compare.js --profile DIR [--duration 10s] [--clients 64]',
  '       node dist/bench/compare.js --summary FILE.cpuprofile',
].join('\n');

/**
 * What a case loads: puts to the leader, puts spread over all members (`put-any`: a follower
 * forwards, as for clients that do not know who leads), or linearizable gets spread over all.
 */
const caseOps = ['put', 'put-any', 'get'] as const;
type CaseOp = (typeof caseOps)[number];

function parseOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      quick: { type: 'boolean', default: false },
      warmup: { type: 'string' },
      clients: { type: 'string' },
      ops: { type: 'string', default: 'put,put-any,get' },
      keyspace: { type: 'string', default: '10000' },
      out: { type: 'string' },
      etcd: { type: 'string' },
      profile: { type: 'string' },
      summary: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  const ops = values.ops.split(',').map((s) => s.trim());
  for (const op of ops) {
    if (!(caseOps as readonly string[]).includes(op)) {
      throw new Error(`--ops: some of ${caseOps.join(', ')}, got "${op}"`);
    }
  }
  return {
    help: values.help,
    values,
    durationMs: parseDuration(values.duration ?? (values.quick ? '3s' : '10s'), '--duration'),
    warmupMs: parseDuration(values.warmup ?? (values.quick ? '1s' : '2s'), '--warmup'),
    clientCounts: parseList(
      values.clients ?? (values.profile !== undefined ? '64' : '1,16,64,256'),
      '--clients',
    ),
    ops: ops as CaseOp[],
    keyspace: parseList(values.keyspace, '--keyspace')[0]!,
  };
}

const { values, durationMs, warmupMs, clientCounts, ops, keyspace } = parseFlags(
  'compare',
  usage,
  parseOptions,
);
const keySize = 16;
const valueSize = 256;

type System = 'raftkv' | 'etcd';

/** Everything started here (etcd members, bench runs, raftkv nodes, temp dirs), removed on every way out. */
const reaper = new Reaper();

// ---------------------------------------------------------------------------------------------
// Small HTTP client (keep-alive), for health checks, leader lookups and the round-trip baseline.

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** A request over the keep-alive agent, with a 3 s timeout. */
function call(endpoint: string, method: string, urlPath: string, body?: string): Promise<Reply> {
  return request(endpoint, method, urlPath, { body, agent, timeoutMs: 3000 });
}

async function json(endpoint: string, method: string, urlPath: string, body?: string): Promise<unknown> {
  const r = await call(endpoint, method, urlPath, body);
  if (r.status !== 200)
    throw new Error(`${method} ${endpoint}${urlPath}: ${r.status} ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as unknown;
}

// ---------------------------------------------------------------------------------------------
// The systems under test

interface Member {
  readonly name: string;
  readonly endpoint: string;
  readonly pid: number | undefined;
}

interface Cluster {
  readonly system: System;
  members(): Member[];
  /** The client endpoint of the current leader. */
  leader(): Promise<string>;
}

/** The client address of the raftkv node that says it leads (its /debug leaderAddress). */
function raftkvLeader(members: () => Member[]): Promise<string> {
  return waitFor(
    async () => {
      for (const m of members()) {
        const d = (await json(m.endpoint, 'GET', '/debug').catch(() => null)) as {
          state?: string;
          leaderAddress?: string | null;
        } | null;
        if (d?.state === 'leader' && typeof d.leaderAddress === 'string') return d.leaderAddress;
      }
      return null;
    },
    'a raftkv leader',
    30_000,
    50,
  );
}

async function startRaftkv(): Promise<Cluster> {
  log('raftkv: starting 3 nodes...');
  // The node's own timing defaults (heartbeat 100 ms, election timeout 1 s), as etcd's.
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  const members = (): Member[] =>
    cluster.ids.map((id) => ({
      name: id,
      endpoint: endpointOf(cluster, id),
      pid: cluster.node(id).pid,
    }));
  const leader = () => raftkvLeader(members);
  await cluster.waitForLeader(cluster.ids, 30_000);
  log(`raftkv: up, leader ${await leader()}`);
  return { system: 'raftkv', members, leader };
}

function onPath(cmd: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir === '') continue;
    const p = path.join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return null;
}

/** The etcd binary: --etcd, else `etcd` on PATH, else Debian's etcd-server installed now (as root). */
function findEtcd(): string {
  if (values.etcd !== undefined) {
    accessSync(values.etcd, constants.X_OK);
    return values.etcd;
  }
  const found = onPath('etcd');
  if (found !== null) return found;
  const root = typeof process.getuid === 'function' && process.getuid() === 0;
  if (root && onPath('apt-get') !== null) {
    log(
      "etcd is not on PATH: installing Debian's etcd-server (apt-get update && apt-get install -y etcd-server)",
    );
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    for (const args of [['update'], ['install', '-y', 'etcd-server']]) {
      const r = spawnSync('apt-get', args, { stdio: ['ignore', 2, 2], env });
      if (r.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed (exit ${r.status})`);
    }
    const installed = onPath('etcd');
    if (installed !== null) return installed;
    throw new Error('etcd-server was installed but no etcd is on PATH');
  }
  throw new Error(
    'etcd is not on PATH. Install it with `sudo apt-get install etcd-server` (Debian/Ubuntu), or put ' +
      'an etcd binary on PATH, or pass --etcd /path/to/etcd.',
  );
}

function etcdVersion(bin: string): string {
  try {
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /etcd Version:\s*(\S+)/.exec(out)?.[1] ?? out.split('\n')[0]!.trim();
  } catch (e) {
    return `unknown (${e instanceof Error ? e.message : String(e)})`;
  }
}

async function startEtcd(bin: string): Promise<Cluster> {
  log('etcd: starting 3 members...');
  const root = reaper.tempDir('raftkv-compare-etcd-');
  const ports = await freePorts(6);
  const names = ['e1', 'e2', 'e3'];
  const peerUrl = (i: number) => `http://${LOOPBACK}:${ports[3 + i]}`;
  const clientUrl = (i: number) => `http://${LOOPBACK}:${ports[i]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const token = `raftkv-compare-${process.pid}-${Date.now()}`;
  const procs: { name: string; endpoint: string; child: ChildProcess; logPath: string }[] = [];
  reaper.after(async () => {
    // Graceful stop by PID, then SIGKILL for any member still running after 5 s.
    const running = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const exits = running.map((p) => new Promise<void>((r) => p.child.once('close', () => r())));
    for (const p of running) killPid(p.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const p of running) killPid(p.child.pid, 'SIGKILL');
    }, 5_000);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const p of procs) reaper.children.delete(p.child);
    rmSync(root, { recursive: true, force: true });
    reaper.tempDirs.delete(root);
  });
  for (const [i, name] of names.entries()) {
    const logPath = path.join(root, `${name}.log`);
    const fd = openSync(logPath, 'a');
    const child = spawn(
      bin,
      [
        '--name',
        name,
        '--data-dir',
        path.join(root, name),
        '--listen-client-urls',
        clientUrl(i),
        '--advertise-client-urls',
        clientUrl(i),
        '--listen-peer-urls',
        peerUrl(i),
        '--initial-advertise-peer-urls',
        peerUrl(i),
        '--initial-cluster',
        initialCluster,
        '--initial-cluster-state',
        'new',
        '--initial-cluster-token',
        token,
        '--logger',
        'zap',
        '--log-level',
        'warn',
      ],
      { stdio: ['ignore', fd, fd] },
    );
    closeSync(fd);
    reaper.children.add(child);
    child.on('error', (e) => log(`etcd ${name}: ${e.message}`));
    procs.push({ name, endpoint: `${LOOPBACK}:${ports[i]}`, child, logPath });
  }
  const tail = (p: (typeof procs)[number]): string => {
    try {
      return readFileSync(p.logPath, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      return '';
    }
  };
  for (const p of procs) {
    await waitFor(
      async () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new StopWaiting(`etcd ${p.name} exited while starting`);
        }
        const r = await call(p.endpoint, 'GET', '/health');
        return r.status === 200 && (JSON.parse(r.text) as { health?: unknown }).health === 'true';
      },
      `etcd ${p.name} healthy on ${p.endpoint}`,
      60_000,
      100,
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${tail(p)}`);
    });
  }
  const members = (): Member[] =>
    procs.map((p) => ({ name: p.name, endpoint: p.endpoint, pid: p.child.pid }));
  const leader = async (): Promise<string> =>
    waitFor(
      async () => {
        for (const p of procs) {
          // member ids are uint64s, in the JSON gateway as decimal strings.
          const s = (await json(p.endpoint, 'POST', '/v3/maintenance/status', '{}').catch(() => null)) as {
            header?: { member_id?: string };
            leader?: string;
          } | null;
          if (s?.header?.member_id !== undefined && s.header.member_id === s.leader) return p.endpoint;
        }
        return null;
      },
      'an etcd leader',
      30_000,
      50,
    );
  log(`etcd: up, leader ${await leader()}`);
  return { system: 'etcd', members, leader };
}

// ---------------------------------------------------------------------------------------------
// One case: `raftkv bench --json` as a child process, with the CPU every node used meanwhile.

interface CaseResult {
  readonly system: System;
  readonly op: CaseOp;
  readonly clients: number;
  readonly bench: BenchJson;
  /** CPU of the node that led (writes) or of the busiest node (reads), % of one core. */
  readonly leaderCpu: number;
  /** CPU of all three nodes together, % of one core. */
  readonly clusterCpu: number;
  /** 1-minute load average when the case ended. */
  readonly load: number;
}

function runBenchProcess(
  target: System,
  endpoints: readonly string[],
  op: 'put' | 'get',
  clients: number,
  ms: number,
): Promise<BenchJson> {
  return runLinearizable(reaper, target, endpoints, op, clients, ms, { keySize, valueSize, keyspace });
}

async function runCase(c: Cluster, op: CaseOp, clients: number, ms: number): Promise<CaseResult> {
  const members = c.members();
  const leader = await c.leader();
  const endpoints = op === 'put' ? [leader] : members.map((m) => m.endpoint);
  const before = members.map((m) => cpuSeconds(m.pid));
  const t0 = performance.now();
  const bench = await runBenchProcess(c.system, endpoints, op === 'get' ? 'get' : 'put', clients, ms);
  const wall = (performance.now() - t0) / 1000;
  const used = members.map((m, i) => ((cpuSeconds(m.pid) - before[i]!) / wall) * 100);
  const leaderIndex = members.findIndex((m) => m.endpoint === leader);
  return {
    system: c.system,
    op,
    clients,
    bench,
    leaderCpu: op !== 'get' && leaderIndex >= 0 ? used[leaderIndex]! : Math.max(...used),
    clusterCpu: used.reduce((a, b) => a + b, 0),
    load: os.loadavg()[0]!,
  };
}

// ---------------------------------------------------------------------------------------------
// Baselines: this disk's fdatasync, the loopback HTTP round trip

interface SyncBaseline {
  readonly appendP50: number;
  readonly appendP99: number;
  readonly overwriteP50: number;
  readonly overwriteP99: number;
  readonly count: number;
}

/** 256-byte write + fdatasync, in a temp file on the same disk as the data dirs (os.tmpdir()). */
function measureFdatasync(seconds = 2, maxCount = 2000): SyncBaseline {
  const dir = reaper.tempDir('raftkv-compare-sync-');
  const block = Buffer.alloc(valueSize, 7);
  const loop = (file: string, overwrite: boolean): number[] => {
    const fd = openSync(file, overwrite ? 'r+' : 'a');
    const lat: number[] = [];
    const deadline = performance.now() + seconds * 1000;
    try {
      for (let i = 0; i < maxCount && performance.now() < deadline; i++) {
        const t0 = performance.now();
        if (overwrite) writeSync(fd, block, 0, block.length, (i * block.length) % (1 << 20));
        else writeSync(fd, block);
        fdatasyncSync(fd);
        lat.push(performance.now() - t0);
      }
    } finally {
      closeSync(fd);
    }
    return lat.sort((a, b) => a - b);
  };
  try {
    // Appending grows the file, as raftkv's WAL does; overwriting a written, synced 1 MiB file
    // needs no size change (closer to etcd's preallocated WAL segments).
    const append = loop(path.join(dir, 'append.bin'), false);
    const pre = path.join(dir, 'overwrite.bin');
    const fd = openSync(pre, 'w');
    writeSync(fd, Buffer.alloc(1 << 20, 1));
    fdatasyncSync(fd);
    ftruncateSync(fd, 1 << 20);
    closeSync(fd);
    const overwrite = loop(pre, true);
    return {
      appendP50: percentile(append, 50),
      appendP99: percentile(append, 99),
      overwriteP50: percentile(overwrite, 50),
      overwriteP99: percentile(overwrite, 99),
      count: append.length,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    reaper.tempDirs.delete(dir);
  }
}

/** Sequential GET /health on one node over one keep-alive connection: p50 and p99 in ms. */
async function measureRoundTrip(endpoint: string, count = 2000): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 200; i++) await call(endpoint, 'GET', '/health');
  const lat: number[] = [];
  for (let i = 0; i < count; i++) {
    const t0 = performance.now();
    await call(endpoint, 'GET', '/health');
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtRate = (r: number): string => (Number.isNaN(r) ? '–' : r.toFixed(0));
const ratio = (a: number, b: number): string =>
  b > 0 && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '–';

interface RunInfo {
  readonly etcdVersion: string;
  readonly startedAt: Date;
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly sync: SyncBaseline;
  readonly syncEnd: SyncBaseline;
  readonly rtt: { p50: number; p99: number };
  readonly rss: { system: System; name: string; role: string; mib: number }[];
}

function report(results: readonly CaseResult[], info: RunInfo): string {
  const find = (s: System, op: string, n: number) =>
    results.find((r) => r.system === s && r.op === op && r.clients === n);
  const la = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines: string[] = [];
  lines.push(
    `Run ${info.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} CPUs ` +
      `(${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Linux ${os.release()}, Node ${process.version}, ` +
      `etcd ${info.etcdVersion}. Load average (1/5/15 min) ${la(info.loadStart)} at the start, ` +
      `${la(info.loadEnd)} at the end. ${durationMs / 1000} s per case after a ${warmupMs / 1000} s warm-up ` +
      `per system; ${keySize}-byte keys, ${valueSize}-byte values, ${keyspace} keys; puts to the leader ` +
      '(put), puts spread over all three nodes (put-any), linearizable gets over all three nodes; both clusters 3 nodes on 127.0.0.1, fsync on, data in ' +
      `${os.tmpdir()}.`,
  );
  lines.push('');
  lines.push('Ratios are raftkv / etcd: above 1 means raftkv has more throughput, or more (worse) latency.');
  lines.push('');
  lines.push(
    '| op | clients | raftkv ops/s | etcd ops/s | ratio | raftkv p50 ms | etcd p50 ms | ratio | raftkv p99 ms | etcd p99 ms | ratio | errors raftkv / etcd |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const op of ops) {
    for (const n of clientCounts) {
      const r = find('raftkv', op, n)?.bench;
      const e = find('etcd', op, n)?.bench;
      const rt = r?.throughput ?? Number.NaN;
      const et = e?.throughput ?? Number.NaN;
      const r50 = r?.latency.all.p50Ms ?? Number.NaN;
      const e50 = e?.latency.all.p50Ms ?? Number.NaN;
      const r99 = r?.latency.all.p99Ms ?? Number.NaN;
      const e99 = e?.latency.all.p99Ms ?? Number.NaN;
      lines.push(
        `| ${op} | ${n} | ${fmtRate(rt)} | ${fmtRate(et)} | ${ratio(rt, et)} | ${fmtMs(r50)} | ${fmtMs(e50)} | ` +
          `${ratio(r50, e50)} | ${fmtMs(r99)} | ${fmtMs(e99)} | ${ratio(r99, e99)} | ` +
          `${r === undefined ? '–' : errorsOf(r)} / ${e === undefined ? '–' : errorsOf(e)} |`,
      );
    }
  }
  lines.push('');
  lines.push(
    'CPU per case, in % of one core (of 2 on this machine): the leader (for gets: the busiest node), ' +
      'all three nodes together, and the load generator; load = 1-minute load average at the end of the case.',
  );
  lines.push('');
  lines.push(
    '| op | clients | raftkv leader | raftkv 3 nodes | etcd leader | etcd 3 nodes | generator raftkv / etcd | load raftkv / etcd |',
  );
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const pct = (x: number | undefined) => (x === undefined || Number.isNaN(x) ? '–' : `${x.toFixed(0)}%`);
  for (const op of ops) {
    for (const n of clientCounts) {
      const r = find('raftkv', op, n);
      const e = find('etcd', op, n);
      lines.push(
        `| ${op} | ${n} | ${pct(r?.leaderCpu)} | ${pct(r?.clusterCpu)} | ${pct(e?.leaderCpu)} | ${pct(e?.clusterCpu)} | ` +
          `${pct(r?.bench.benchCpuPercent)} / ${pct(e?.bench.benchCpuPercent)} | ` +
          `${r?.load.toFixed(2) ?? '–'} / ${e?.load.toFixed(2) ?? '–'} |`,
      );
    }
  }
  lines.push('');
  const s = info.sync;
  lines.push('Baselines on this machine:');
  lines.push('');
  for (const [when, b] of [
    ['before', info.sync],
    ['after', info.syncEnd],
  ] as const) {
    lines.push(
      `- fdatasync of a ${valueSize}-byte write in ${os.tmpdir()}, ${when} the runs (${b.count} samples): ` +
        `appending (the file grows, as raftkv's WAL does) p50 ${fmtMs(b.appendP50)} ms, p99 ` +
        `${fmtMs(b.appendP99)} ms; overwriting a preallocated file p50 ${fmtMs(b.overwriteP50)} ms, p99 ` +
        `${fmtMs(b.overwriteP99)} ms.`,
    );
  }
  lines.push(
    `- loopback HTTP round trip (sequential GET /health on a raftkv node, keep-alive): p50 ` +
      `${fmtMs(info.rtt.p50)} ms, p99 ${fmtMs(info.rtt.p99)} ms.`,
  );
  const floor = Math.min(s.appendP50, info.syncEnd.appendP50) + info.rtt.p50;
  const r1 = find('raftkv', 'put', 1)?.bench.latency.all.p50Ms;
  const e1 = find('etcd', 'put', 1)?.bench.latency.all.p50Ms;
  lines.push(
    `- one fdatasync (the lower p50) + one round trip = ${fmtMs(floor)} ms; single-client put p50: raftkv ` +
      `${fmtMs(r1 ?? Number.NaN)} ms, etcd ${fmtMs(e1 ?? Number.NaN)} ms.`,
  );
  lines.push('');
  lines.push('RSS per node after the runs (VmRSS):');
  lines.push('');
  lines.push('| system | node | role | RSS MiB |');
  lines.push('| --- | --- | --- | ---: |');
  for (const r of info.rss) lines.push(`| ${r.system} | ${r.name} | ${r.role} | ${r.mib.toFixed(1)} |`);
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------
// Profile mode: the raftkv leader under node --cpu-prof

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

/**
 * Three raftkv nodes run as `node --cpu-prof --cpu-prof-dir DIR dist/src/cli/main.js start ...`
 * (--cpu-prof is not allowed in NODE_OPTIONS, so not through ProcessCluster). `stop` ends them
 * gracefully (SIGTERM by PID), which is when each writes its profile.
 */
async function startProfiledRaftkv(
  profDir: string,
): Promise<{ cluster: Cluster; stop: () => Promise<void> }> {
  log('raftkv: starting 3 nodes under --cpu-prof...');
  const root = reaper.tempDir('raftkv-compare-prof-');
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
  const stop = async (): Promise<void> => {
    const running = procs.filter((p) => p.child.exitCode === null && p.child.signalCode === null);
    const exits = running.map((p) => new Promise<void>((r) => p.child.once('close', () => r())));
    for (const p of running) killPid(p.child.pid, 'SIGTERM');
    const timer = setTimeout(() => {
      for (const p of running) killPid(p.child.pid, 'SIGKILL');
    }, 20_000);
    await Promise.all(exits);
    clearTimeout(timer);
    for (const p of procs) reaper.children.delete(p.child);
  };
  reaper.after(async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
    reaper.tempDirs.delete(root);
  });
  for (const p of procs) {
    await waitFor(
      async () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new StopWaiting(`raftkv ${p.id} exited while starting`);
        }
        return (await call(p.endpoint, 'GET', '/debug')).status === 200;
      },
      `raftkv ${p.id} answering on ${p.endpoint}`,
      30_000,
      50,
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
  await runBenchProcess('raftkv', [leader], 'put', 16, warmupMs);
  const results: CaseResult[] = [];
  for (const n of clientCounts) {
    log(`raftkv put, ${n} clients, ${durationMs / 1000} s, profiled...`);
    const r = await runCase(cluster, 'put', n, durationMs);
    results.push(r);
    log(
      `  ${r.bench.throughput.toFixed(0)} ops/s, p50 ${fmtMs(r.bench.latency.all.p50Ms)} ms, ` +
        `p99 ${fmtMs(r.bench.latency.all.p99Ms)} ms, leader CPU ${r.leaderCpu.toFixed(0)}%`,
    );
  }
  // A graceful stop makes each node write its profile.
  await stop();
  const written = readdirSync(profDir).filter((f) => f.endsWith('.cpuprofile') && !before.has(f));
  const members = cluster.members();
  const suffix = `put-${clientCounts.join('-')}.cpuprofile`;
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

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (values.summary !== undefined) {
    console.log(summariseProfile(values.summary));
    return;
  }
  if (values.profile !== undefined) {
    await profileMain(values.profile);
    return;
  }
  const bin = findEtcd();
  const version = etcdVersion(bin);
  const startedAt = new Date();
  const loadStart = os.loadavg();
  log(`etcd ${version} (${bin}); load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`);

  log('fdatasync baseline...');
  const sync = measureFdatasync();
  const raftkv = await startRaftkv();
  const etcd = await startEtcd(bin);
  const systems = [raftkv, etcd];

  log('loopback round-trip baseline...');
  const rtt = await measureRoundTrip(raftkv.members()[0]!.endpoint);

  for (const c of systems) {
    log(`${c.system}: warm-up ${warmupMs / 1000} s (16 clients, puts)...`);
    await runBenchProcess(c.system, [await c.leader()], 'put', 16, warmupMs);
  }

  const results: CaseResult[] = [];
  for (const op of ops) {
    for (const n of clientCounts) {
      // Alternate which system goes first, so drifting background load falls on both alike.
      const order = (results.length / 2) % 2 === 0 ? systems : [...systems].reverse();
      for (const c of order) {
        await pause(1000);
        log(`${c.system} ${op}, ${n} clients, ${durationMs / 1000} s...`);
        const r = await runCase(c, op, n, durationMs);
        results.push(r);
        log(
          `  ${r.bench.throughput.toFixed(0)} ops/s, p50 ${fmtMs(r.bench.latency.all.p50Ms)} ms, ` +
            `p99 ${fmtMs(r.bench.latency.all.p99Ms)} ms, errors ${errorsOf(r.bench)}, ` +
            `leader CPU ${r.leaderCpu.toFixed(0)}%, load ${r.load.toFixed(2)}`,
        );
      }
    }
  }

  log('fdatasync baseline again...');
  const syncEnd = measureFdatasync();
  const rss: RunInfo['rss'] = [];
  for (const c of systems) {
    const leader = await c.leader().catch(() => '');
    for (const m of c.members()) {
      rss.push({
        system: c.system,
        name: m.name,
        role: m.endpoint === leader ? 'leader' : 'follower',
        mib: rssMiB(m.pid),
      });
    }
  }
  const md = report(results, {
    etcdVersion: version,
    startedAt,
    loadStart,
    loadEnd: os.loadavg(),
    sync,
    syncEnd,
    rtt,
    rss,
  });
  printReport(md, values.out);
}

await reaper.run('compare', async () => {
  try {
    await main();
  } finally {
    agent.destroy();
  }
});
