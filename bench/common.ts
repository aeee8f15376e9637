// What the benchmark scripts (compare, profile, keys, overload, failover) have in common: flag
// parsing, the tracking and removal of every process and temp dir a script starts, the load
// generator (`raftkv bench --json`) run as a child process, and one load case against a cluster. Kept in one place so that a fix to, say, the
// cleanup on SIGINT reaches every script. (/proc readings: proc.ts; waiting: test/support/wait.ts;
// the nodes' HTTP API: src/client/.) Not part of the tests.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type ApiRequest, RaftkvClient } from '../src/client/index.js';
import { CLI_PATH } from '../test/support/cli.js';
import type { AfterHook } from '../test/support/node-process.js';
import type { ProcessCluster } from '../test/support/process-cluster.js';
import { pause, StopWaiting, waitFor } from '../test/support/wait.js';
import { cpuSeconds } from './proc.js';

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------------------------------------
// Flags

/**
 * `10s`, `500ms`, or a plain number of seconds (with `minutes`, also `2m`), in ms. Shorter than
 * `minMs` is refused: a run that short measures little but its own start.
 */
export function parseDuration(
  raw: string,
  flag: string,
  options: { readonly minMs?: number; readonly minutes?: boolean } = {},
): number {
  const { minMs = 500, minutes = false } = options;
  const m = (minutes ? /^(\d+(?:\.\d+)?)(ms|s|m)?$/ : /^(\d+(?:\.\d+)?)(ms|s)?$/).exec(raw.trim());
  if (m === null) {
    throw new Error(`${flag} must look like ${minutes ? '60s, 500ms or 2m' : '10s or 500ms'}, got "${raw}"`);
  }
  const n = Number(m[1]);
  const ms = m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000;
  if (ms < minMs) {
    throw new Error(`${flag} must be at least ${minMs % 1000 === 0 ? `${minMs / 1000}s` : `${minMs}ms`}`);
  }
  return Math.round(ms);
}

export function parseList(raw: string, flag: string): number[] {
  const list = raw.split(',').map((s) => Number(s.trim()));
  if (list.length === 0 || list.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`${flag} must be a comma-separated list of positive integers, got "${raw}"`);
  }
  return list;
}

export function parseCount(raw: string, flag: string, min: number): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag} must be an integer ≥ ${min}, got "${raw}"`);
  return n;
}

/**
 * A script's flags, parsed by `parse`: a bad one prints `name: message` and the usage on stderr
 * and exits 2 (before anything is started); --help prints the usage and exits 0.
 */
export function parseFlags<T extends { readonly help: boolean }>(
  name: string,
  usage: string,
  parse: () => T,
): T {
  let flags: T;
  try {
    flags = parse();
  } catch (e) {
    process.stderr.write(`${name}: ${messageOf(e)}\n${usage}\n`);
    process.exit(2);
  }
  if (flags.help) {
    console.log(usage);
    process.exit(0);
  }
  return flags;
}

// ---------------------------------------------------------------------------------------------
// Small things

export function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

/** The nearest-rank percentile of ascending `sorted`; NaN when it is empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The markdown report on stdout (after the progress lines on stderr), and in `out` if given. */
export function printReport(md: string, out: string | undefined): void {
  process.stdout.write(`\n${md}`);
  if (out !== undefined) {
    writeFileSync(out, md);
    log(`written to ${out}`);
  }
}

export const fmtMs = (ms: number): string => (Number.isNaN(ms) ? '–' : ms.toFixed(ms < 10 ? 2 : 1));

export function killPid(pid: number | undefined, sig: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/**
 * Stops the children the script started: SIGTERM by PID, SIGKILL for any still running after
 * `graceMs`; resolves once all have exited, and forgets them in the reaper.
 */
export async function stopChildren(
  reaper: Reaper,
  children: readonly ChildProcess[],
  graceMs: number,
): Promise<void> {
  const live = children.filter(running);
  const exits = live.map((c) => new Promise<void>((r) => c.once('close', () => r())));
  for (const c of live) killPid(c.pid, 'SIGTERM');
  const timer = setTimeout(() => {
    for (const c of live) killPid(c.pid, 'SIGKILL');
  }, graceMs);
  await Promise.all(exits);
  clearTimeout(timer);
  for (const c of children) reaper.children.delete(c);
}

function running(c: ChildProcess): boolean {
  return c.exitCode === null && c.signalCode === null;
}

// ---------------------------------------------------------------------------------------------
// Cleanup: everything a script starts is tracked and removed by PID / path, on every way out.

/**
 * The processes and temp dirs of one script, removed at the end, on failure, on SIGINT, SIGTERM
 * and SIGHUP (a second signal: at once), and by a synchronous last resort on 'exit'. It is also
 * the `after` hook a ProcessCluster registers its own cleanup with. Creating it installs the
 * process handlers, so a script makes one, before it starts anything.
 */
export class Reaper implements AfterHook {
  /** Children spawned by the script itself (etcd members, profiled nodes): SIGKILL by PID. */
  readonly children = new Set<ChildProcess>();
  /** The running load generators: killed first, so that no case goes on against a stopping cluster. */
  readonly generators = new Set<ChildProcess>();
  /** Node clusters: their cleanup is a step, this is for the synchronous last resort. */
  readonly clusters = new Set<ProcessCluster>();
  /** Temp dirs made by the script itself (a ProcessCluster removes its own). */
  readonly tempDirs = new Set<string>();
  /** Set by the first signal: work in progress gives up instead of starting more. */
  stopping = false;
  private readonly steps: (() => Promise<void> | void)[] = [];

  /** `beforeKill` runs first on every way out (overload resumes the follower it stopped there). */
  constructor(private readonly beforeKill: () => void = () => {}) {
    process.on('exit', () => this.killNow());
    for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, () => {
        if (this.stopping) {
          this.killNow();
          process.exit(130);
        }
        this.stopping = true;
        process.stderr.write(`\n${sig}: stopping every process started here...\n`);
        void this.cleanup().finally(() => process.exit(130));
      });
    }
  }

  /** A cleanup step; the steps run last-registered first. */
  after(fn: () => Promise<void> | void): void {
    this.steps.push(fn);
  }

  tempDir(prefix: string): string {
    const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
    this.tempDirs.add(dir);
    return dir;
  }

  /**
   * The load generators first (at once), then every step (a failing one is reported, the rest
   * still run), then the last resort.
   */
  async cleanup(): Promise<void> {
    this.beforeKill();
    for (const g of this.generators) killPid(g.pid, 'SIGKILL');
    for (const fn of this.steps.splice(0).reverse()) {
      try {
        await fn();
      } catch (e) {
        process.stderr.write(`cleanup: ${messageOf(e)}\n`);
      }
    }
    this.killNow();
  }

  /** Synchronous last resort (also run from the 'exit' handler): SIGKILL by PID, remove dirs. */
  killNow(): void {
    this.beforeKill();
    for (const c of [...this.children, ...this.generators]) if (running(c)) killPid(c.pid, 'SIGKILL');
    this.children.clear();
    this.generators.clear();
    for (const c of this.clusters) {
      for (const n of c.nodes.values()) if (n.running) killPid(n.pid, 'SIGKILL');
      if (!process.env.RAFTKV_KEEP_DATA) rmSync(c.root, { recursive: true, force: true });
    }
    this.clusters.clear();
    for (const d of this.tempDirs) rmSync(d, { recursive: true, force: true });
    this.tempDirs.clear();
  }

  /**
   * Runs a script's `main` and then the cleanup. A failure is reported as `name: message` (and
   * `onFailure` adds to it), exit code 1; while a signal is stopping the script, exit code 130
   * and nothing more is said.
   */
  async run(name: string, main: () => Promise<void>, onFailure: () => void = () => {}): Promise<void> {
    try {
      await main();
    } catch (e) {
      if (!this.stopping) {
        process.stderr.write(`${name}: ${messageOf(e)}\n`);
        onFailure();
      }
      process.exitCode = this.stopping ? 130 : 1;
    } finally {
      await this.cleanup();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Preload: exactly N distinct keys, many puts in flight over keep-alive connections

/** An answer that retrying will not fix: stops a preload (or a script's probe) at once. */
export class Fatal extends StopWaiting {
  override name = 'Fatal';
}

export interface Preload {
  readonly seconds: number;
  readonly rate: number;
  /** Attempts answered "not now" (503 for raftkv) or lost to a connection error, then retried. */
  readonly retries: number;
}

/**
 * Writes `putOf(0)` … `putOf(n - 1)` to `endpoint` (the leader, so none is forwarded), with
 * `concurrency` puts in flight, each retried on a lost connection or an answer `retryable` says
 * is passing (default: 503, raftkv's "not now") for up to a minute; logs progress every 10 s.
 * Any HTTP API that answers a write with 200 can be preloaded: etcd's JSON gateway too.
 */
export async function preload(
  reaper: Reaper,
  endpoint: string,
  n: number,
  putOf: (i: number) => ApiRequest,
  concurrency: number,
  retryable: (status: number) => boolean = (status) => status === 503,
): Promise<Preload> {
  const client = new RaftkvClient(endpoint, { maxSockets: concurrency, timeoutMs: 30_000 });
  let next = 0;
  let done = 0;
  let retries = 0;
  let failed: Error | null = null;
  const t0 = performance.now();
  const progress = setInterval(() => {
    const s = (performance.now() - t0) / 1000;
    log(`  preload: ${done} of ${n} keys in ${s.toFixed(0)} s (${(done / s).toFixed(0)}/s)`);
  }, 10_000);

  const putWithRetry = async (i: number): Promise<void> => {
    const req = putOf(i);
    // One key may be retried for this long (a new leader, a slow disk) before the run fails.
    const giveUp = Date.now() + 60_000;
    let last = '';
    for (;;) {
      if (reaper.stopping) throw new Error('interrupted');
      if (failed !== null) return;
      try {
        const r = await client.send(req);
        if (r.status === 200) return;
        if (!retryable(r.status))
          throw new Fatal(`preload: ${req.method} ${req.path} answered ${r.status}: ${r.text.slice(0, 300)}`);
        last = `${r.status} ${r.text.slice(0, 200)}`;
      } catch (e) {
        if (e instanceof Fatal) throw e;
        // The connection was refused, reset or timed out: the same put again is harmless.
        last = e instanceof Error ? e.message : String(e);
      }
      if (Date.now() > giveUp) throw new Fatal(`preload: put #${i} still failing after 60 s (last: ${last})`);
      retries++;
      // A short back-off, so that a leader that says it is busy is not hammered.
      await pause(20);
    }
  };

  const worker = async (): Promise<void> => {
    while (next < n && failed === null) {
      const i = next++;
      try {
        await putWithRetry(i);
      } catch (e) {
        failed ??= e instanceof Error ? e : new Error(String(e));
        return;
      }
      done++;
    }
  };

  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, n) }, () => worker()));
  } finally {
    clearInterval(progress);
    client.close();
  }
  if (failed !== null) throw failed;
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, rate: n / seconds, retries };
}

// ---------------------------------------------------------------------------------------------
// Endpoints

/** The client endpoint (`host:port`) of a cluster's node. */
export function endpointOf(cluster: ProcessCluster, id: string): string {
  const s = cluster.node(id).spec;
  return `${s.clientHost}:${s.clientPort}`;
}

// ---------------------------------------------------------------------------------------------
// The load generator: `raftkv bench --json` as a child process (its CPU is then its own)

export interface LatencyJson {
  readonly count: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

/** The parts of the generator's JSON report the scripts read. */
export interface BenchJson {
  readonly elapsedS: number;
  readonly requests: number;
  readonly throughput: number;
  readonly latency: { readonly all: LatencyJson };
  readonly errors: Record<string, number>;
  readonly benchCpuPercent: number;
}

/**
 * Linearizable puts or gets of fixed-size keys and values over `data.keyspace` keys, as
 * bench:compare and bench:keys measure them.
 */
export interface LinearizableCase {
  readonly target: 'raftkv' | 'etcd';
  readonly endpoints: readonly string[];
  readonly op: 'put' | 'get';
  readonly clients: number;
  readonly durationMs: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly keyspace: number;
}

export function runLinearizable(reaper: Reaper, c: LinearizableCase): Promise<BenchJson> {
  const { target, endpoints, op, clients, durationMs } = c;
  const flags = [
    '--target',
    target,
    '--endpoints',
    endpoints.join(','),
    '--clients',
    String(clients),
    '--duration',
    `${durationMs}ms`,
    '--op',
    op,
    '--consistency',
    'linearizable',
    '--key-size',
    String(c.keySize),
    '--value-size',
    String(c.valueSize),
    '--keyspace',
    String(c.keyspace),
  ];
  return runGenerator(reaper, flags, durationMs);
}

/**
 * Runs `raftkv bench --json FLAGS` (tracked as a generator of `reaper`) and resolves with its
 * report; rejects with 'interrupted' once a signal is stopping the script.
 */
export function runGenerator(
  reaper: Reaper,
  flags: readonly string[],
  durationMs: number,
): Promise<BenchJson> {
  const args = [CLI_PATH, 'bench', '--json', ...flags];
  if (reaper.stopping) return Promise.reject(new Error('interrupted'));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    reaper.generators.add(child);
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => {
      out += c;
    });
    child.stderr.setEncoding('utf8').on('data', (c: string) => {
      err += c;
    });
    // It stops by itself after the duration plus at most one request timeout (10 s); a hang is
    // cut off well after that.
    const timer = setTimeout(() => killPid(child.pid, 'SIGKILL'), durationMs + 60_000);
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reaper.generators.delete(child);
      if (reaper.stopping) {
        reject(new Error('interrupted'));
        return;
      }
      try {
        resolve(JSON.parse(out) as BenchJson);
      } catch {
        reject(new Error(`raftkv bench ${args.slice(2).join(' ')}: exit ${code ?? signal}\n${err}${out}`));
      }
    });
  });
}

/** The generator's errors, `0` or `N kind, ...`. */
export function errorsOf(b: BenchJson): string {
  const n = Object.values(b.errors).reduce((a, c) => a + c, 0);
  if (n === 0) return '0';
  return Object.entries(b.errors)
    .map(([k, v]) => `${v} ${k}`)
    .join(', ');
}

// ---------------------------------------------------------------------------------------------
// One case against a cluster: the generator as a child process, the CPU every node used meanwhile

export type System = 'raftkv' | 'etcd';

/**
 * What a case loads: puts to the leader, puts spread over all members (`put-any`: a follower
 * forwards, as for clients that do not know who leads), or linearizable gets spread over all.
 */
export const caseOps = ['put', 'put-any', 'get'] as const;
export type CaseOp = (typeof caseOps)[number];

export interface Member {
  readonly name: string;
  /** `host:port` of its client API. */
  readonly endpoint: string;
  readonly pid: number | undefined;
}

export interface LoadedCluster {
  readonly system: System;
  members(): Member[];
  /** The client endpoint of the current leader. */
  leader(): Promise<string>;
}

/** The client address of the raftkv member that says it leads (its /debug `leaderAddress`). */
export function raftkvLeader(members: () => Member[]): Promise<string> {
  return waitFor(
    'a raftkv leader',
    async () => {
      for (const m of members()) {
        const client = new RaftkvClient(m.endpoint, { keepAlive: false, timeoutMs: 3000 });
        const d = await client.status().catch(() => null);
        if (d?.state === 'leader' && typeof d.leaderAddress === 'string') return d.leaderAddress;
      }
      return null;
    },
    { timeoutMs: 30_000, intervalMs: 50 },
  );
}

export interface CaseResult {
  readonly system: System;
  readonly op: CaseOp;
  readonly clients: number;
  readonly bench: BenchJson;
  /** CPU of the node that led (writes) or of the busiest node (reads), % of one core. */
  readonly leaderCpu: number;
  /** CPU of all the nodes together, % of one core. */
  readonly clusterCpu: number;
  /** 1-minute load average when the case ended. */
  readonly load: number;
}

/** Keys and values of the linearizable cases. */
export interface CaseData {
  readonly keySize: number;
  readonly valueSize: number;
  readonly keyspace: number;
}

export async function runCase(
  reaper: Reaper,
  c: LoadedCluster,
  op: CaseOp,
  clients: number,
  durationMs: number,
  data: CaseData,
): Promise<CaseResult> {
  const members = c.members();
  const leader = await c.leader();
  // Spread cases list the followers first and the leader last, so that the load is placed the
  // same way in every run: one client always talks to a follower (where a leader-placed client
  // would skip the hop to the leader, and runs of one tree differed by 30% depending on which it
  // was), and more clients are dealt round the list from there.
  const spread = [
    ...members.filter((m) => m.endpoint !== leader).map((m) => m.endpoint),
    ...members.filter((m) => m.endpoint === leader).map((m) => m.endpoint),
  ];
  const endpoints = op === 'put' ? [leader] : spread;
  const before = members.map((m) => cpuSeconds(m.pid));
  const t0 = performance.now();
  const bench = await runLinearizable(reaper, {
    ...data,
    target: c.system,
    endpoints,
    op: op === 'get' ? 'get' : 'put',
    clients,
    durationMs,
  });
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
