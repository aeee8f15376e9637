// raftkv against etcd, side by side in one run: both as 3-node clusters on 127.0.0.1 with fsync on
// and their data on the same disk (os.tmpdir()), loaded by the same generator (`raftkv bench
// --json`, one child process per case, speaking raftkv's API or etcd's v3 JSON gateway) with the
// same 16-byte keys and 256-byte values: puts to each system's leader, puts spread over all members
// (`--ops put-any`: what clients that do not know the leader do) and linearizable gets spread
// over all three nodes, at 1 / 16 / 64 / 256 clients. Cases alternate between the systems, so
// noise from other work on the machine falls on both. Next to the results it measures this disk's
// fdatasync latency and the loopback HTTP round trip (the floor of a single client's write is about
// one of each), the CPU every node used per case, and each node's RSS after the runs. Prints a
// markdown report; `--out FILE` also writes it. Not part of the tests. (Where the raftkv leader
// spends its time under the same load: bench/profile.ts.)
//
// etcd is Debian's `etcd-server` package: when `etcd` is not on PATH (and no --etcd BIN is given),
// the script installs it if it runs as root with apt-get available, else says how.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure or SIGINT.
//
// Run: npm run bench:compare -- [flags]   (builds first), or after a build:
//      node dist/bench/compare.js [--duration 10s | --quick] [--out FILE]
//        [--clients 1,16,64,256] [--ops put,put-any,get] [--keyspace 10000] [--warmup 2s] [--etcd BIN]

import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, fdatasyncSync, ftruncateSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { RaftkvClient } from '../src/client/index.js';
import { freePorts, LOOPBACK } from '../test/support/ports.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { pause, StopWaiting, waitFor } from '../test/support/wait.js';
import {
  type CaseOp,
  type CaseResult,
  caseOps,
  endpointOf,
  errorsOf,
  fmtMs,
  type LoadedCluster,
  log,
  type Member,
  parseDuration,
  parseFlags,
  parseList,
  percentile,
  printReport,
  Reaper,
  raftkvLeader,
  runCase,
  runLinearizable,
  type System,
  stopChildren,
} from './common.js';
import { etcdVersion, findEtcd } from './etcd.js';
import { rssMiB } from './proc.js';

const usage = [
  'usage: node dist/bench/compare.js [--duration 10s | --quick] [--out FILE] [--clients 1,16,64,256]',
  '         [--ops put,put-any,get] [--keyspace 10000] [--warmup 2s] [--etcd BIN]',
].join('\n');

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
    clientCounts: parseList(values.clients ?? '1,16,64,256', '--clients'),
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
const data = { keySize, valueSize, keyspace };

/** Everything started here (etcd members, bench runs, raftkv nodes, temp dirs), removed on every way out. */
const reaper = new Reaper();

// ---------------------------------------------------------------------------------------------
// etcd's JSON gateway, over keep-alive connections (raftkv's API goes through src/client/)

const etcdAgent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** One request to an etcd member (`host:port`); resolves with any answer, 3 s bound. */
function etcdCall(
  endpoint: string,
  method: string,
  urlPath: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const i = endpoint.lastIndexOf(':');
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = http.request(
      {
        host: endpoint.slice(0, i),
        port: Number(endpoint.slice(i + 1)),
        method,
        path: urlPath,
        agent: etcdAgent,
        headers,
        timeout: 3000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${endpoint}${urlPath}: timeout`)));
    req.on('error', reject);
    req.end(body);
  });
}

async function etcdJson(endpoint: string, method: string, urlPath: string, body?: string): Promise<unknown> {
  const r = await etcdCall(endpoint, method, urlPath, body);
  if (r.status !== 200)
    throw new Error(`${method} ${endpoint}${urlPath}: ${r.status} ${r.text.slice(0, 200)}`);
  return JSON.parse(r.text) as unknown;
}

// ---------------------------------------------------------------------------------------------
// The systems under test

async function startRaftkv(): Promise<LoadedCluster> {
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

async function startEtcd(bin: string): Promise<LoadedCluster> {
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
    await stopChildren(
      reaper,
      procs.map((p) => p.child),
      5_000,
    );
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
      `etcd ${p.name} healthy on ${p.endpoint}`,
      async () => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) {
          throw new StopWaiting(`etcd ${p.name} exited while starting`);
        }
        const r = await etcdCall(p.endpoint, 'GET', '/health');
        return r.status === 200 && (JSON.parse(r.text) as { health?: unknown }).health === 'true';
      },
      { timeoutMs: 60_000, intervalMs: 100 },
    ).catch((e: unknown) => {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n${tail(p)}`);
    });
  }
  const members = (): Member[] =>
    procs.map((p) => ({ name: p.name, endpoint: p.endpoint, pid: p.child.pid }));
  const leader = async (): Promise<string> =>
    waitFor(
      'an etcd leader',
      async () => {
        for (const p of procs) {
          // member ids are uint64s, in the JSON gateway as decimal strings.
          const s = (await etcdJson(p.endpoint, 'POST', '/v3/maintenance/status', '{}').catch(
            () => null,
          )) as {
            header?: { member_id?: string };
            leader?: string;
          } | null;
          if (s?.header?.member_id !== undefined && s.header.member_id === s.leader) return p.endpoint;
        }
        return null;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
  log(`etcd: up, leader ${await leader()}`);
  return { system: 'etcd', members, leader };
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
  const client = new RaftkvClient(endpoint, { maxSockets: 1, timeoutMs: 3000 });
  try {
    for (let i = 0; i < 200; i++) await client.health();
    const lat: number[] = [];
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      await client.health();
      lat.push(performance.now() - t0);
    }
    lat.sort((a, b) => a - b);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  } finally {
    client.close();
  }
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

async function main(): Promise<void> {
  const bin = findEtcd(values.etcd);
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
    const endpoints = [await c.leader()];
    await runLinearizable(reaper, {
      ...data,
      target: c.system,
      endpoints,
      op: 'put',
      clients: 16,
      durationMs: warmupMs,
    });
  }

  const results: CaseResult[] = [];
  for (const op of ops) {
    for (const n of clientCounts) {
      // Alternate which system goes first, so drifting background load falls on both alike.
      const order = (results.length / 2) % 2 === 0 ? systems : [...systems].reverse();
      for (const c of order) {
        await pause(1000);
        log(`${c.system} ${op}, ${n} clients, ${durationMs / 1000} s...`);
        const r = await runCase(reaper, c, op, n, durationMs, data);
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
    etcdAgent.destroy();
  }
});
