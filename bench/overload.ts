// Overload benchmark: far more concurrent clients than a leader can serve, while one follower is
// frozen. A 3-node cluster of real processes (the built CLI) on loopback with the production timing
// (heartbeat 100 ms, election timeout 1000 ms); once a leader is agreed, one follower is stopped
// with SIGSTOP (its connections stay open but nothing reads them, so the leader may be tempted to
// buffer for it), then the load generator — `raftkv bench --json` as a child process — puts 1 KiB
// values to the leader from 1000 clients (one connection each) for 60 s. Meanwhile the leader's RSS
// (VmRSS) and CPU are read from /proc every second, with its commit index and admission counters
// from GET /debug. Then the follower is resumed (SIGCONT) and the time until it has applied
// everything the leader committed is measured.
//
// The report (markdown on stdout, and in --out FILE): successful puts per second, errors by kind
// as the generator names them (`http 503`, `http 504`, `timeout`, `ECONNRESET`, ...; the generator
// does not read bodies, so the leader's own count of requests refused as busy is shown next to
// them), p50/p99 of the successes, the leader's RSS and CPU per 5 s window, a verdict on whether
// RSS levelled off (rule below, at `levelledOff`), and the follower's catch-up time.
//
// --max-inflight N is passed to every node, so runs with different admission limits can be
// compared; without it the nodes use their default.
//
// Every process started here is stopped by PID (the frozen follower is resumed first) and the
// temp dir removed: at the end, on failure, and on SIGINT/SIGTERM. Not part of the tests.
//
// Run: npm run build && node dist/bench/overload.js [--duration 60s] [--clients 1000]
//        [--value-size 1024] [--keyspace 1000] [--max-inflight N] [--catch-up-timeout 120s]
//        [--out FILE]

import os from 'node:os';
import { parseArgs } from 'node:util';
import type { NodeStatus, RaftkvClient } from '../src/client/index.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { pause, waitFor } from '../test/support/wait.js';
import {
  type BenchJson,
  endpointOf,
  fmtMs,
  killPid,
  log,
  parseCount,
  parseDuration,
  parseFlags,
  printReport,
  Reaper,
  runGenerator,
} from './common.js';
import { cpuSeconds, rssMiB } from './proc.js';

const usage = [
  'usage: node dist/bench/overload.js [--duration 60s] [--clients 1000] [--value-size 1024]',
  '         [--keyspace 1000] [--max-inflight N] [--catch-up-timeout 120s] [--out FILE]',
].join('\n');

/** Durations here are long: at least 1 s, and minutes are allowed (`2m`). */
const longRun = { minMs: 1000, minutes: true };

function parseOptions() {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: '60s' },
      clients: { type: 'string', default: '1000' },
      'value-size': { type: 'string', default: '1024' },
      keyspace: { type: 'string', default: '1000' },
      'max-inflight': { type: 'string' },
      'catch-up-timeout': { type: 'string', default: '120s' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    help: values.help,
    out: values.out,
    durationMs: parseDuration(values.duration, '--duration', longRun),
    clients: parseCount(values.clients, '--clients', 1),
    valueSize: parseCount(values['value-size'], '--value-size', 0),
    keyspace: parseCount(values.keyspace, '--keyspace', 1),
    maxInflight:
      values['max-inflight'] === undefined ? null : parseCount(values['max-inflight'], '--max-inflight', 1),
    catchUpTimeoutMs: parseDuration(values['catch-up-timeout'], '--catch-up-timeout', longRun),
  };
}

const opts = parseFlags('overload', usage, parseOptions);

/** The production defaults of `raftkv start`, so the leader's behaviour is the one deployed. */
const heartbeatIntervalMs = 100;
const electionTimeoutMs = 1000;
/** Seconds per row of the RSS/CPU timeline. */
const windowS = 5;

// ---------------------------------------------------------------------------------------------
// Cleanup: everything started here is tracked and removed by PID / path, on every way out.

/** The follower while it is stopped: resumed before anything is killed. */
let stoppedPid: number | undefined;

function resumeStopped(): void {
  killPid(stoppedPid, 'SIGCONT');
  stoppedPid = undefined;
}

const reaper = new Reaper(resumeStopped);

// ---------------------------------------------------------------------------------------------
// The leader, sampled once a second while the load runs

interface Admission {
  readonly inflight: number;
  readonly maxInflight: number;
  readonly refusedBusy: number;
}

interface Sample {
  /** Seconds since the load started. */
  readonly t: number;
  readonly rssMiB: number;
  /** CPU since the previous sample, % of one core. */
  readonly cpuPercent: number;
  /** From GET /debug; null if it did not answer within the sampling period. */
  readonly commitIndex: number | null;
  readonly admission: Admission | null;
}

async function leaderDebug(client: RaftkvClient, timeoutMs: number): Promise<NodeStatus | null> {
  return client.status({ timeoutMs }).catch(() => null);
}

function admissionOf(d: NodeStatus | null): Admission | null {
  const a = d?.admission as Partial<Admission> | undefined;
  return a !== undefined && typeof a.inflight === 'number' ? (a as Admission) : null;
}

/** Samples every second until `done()`; `onSample` sees each as it is taken. */
async function sampleLeader(
  pid: number,
  client: RaftkvClient,
  t0: number,
  done: () => boolean,
  onSample: (s: Sample) => void,
): Promise<void> {
  let lastCpu = cpuSeconds(pid);
  let lastAt = performance.now();
  let next = lastAt + 1000;
  while (!done()) {
    await pause(Math.max(0, next - performance.now()));
    next += 1000;
    if (done()) return;
    const now = performance.now();
    const cpu = cpuSeconds(pid);
    const rss = rssMiB(pid);
    const cpuPercent = ((cpu - lastCpu) / ((now - lastAt) / 1000)) * 100;
    lastCpu = cpu;
    lastAt = now;
    // Bounded below the period, so a leader too busy to answer costs one reading, not the timeline.
    const d = await leaderDebug(client, 900);
    onSample({
      t: (now - t0) / 1000,
      rssMiB: rss,
      cpuPercent,
      commitIndex: d?.commitIndex ?? null,
      admission: admissionOf(d),
    });
  }
}

interface Window {
  readonly from: number;
  readonly to: number;
  readonly maxRss: number;
  readonly meanCpu: number;
  /** Entries committed per second over the window, or null without /debug readings. */
  readonly commitsPerS: number | null;
  readonly maxInflight: number | null;
}

/** The samples in `windowS`-second rows; `base` is the commit index when the load began. */
function windows(samples: readonly Sample[], base: { t: number; commitIndex: number | null }): Window[] {
  const rows: Window[] = [];
  let prev = base;
  for (let from = 0; ; from += windowS) {
    const inWindow = samples.filter((s) => s.t > from && s.t <= from + windowS);
    if (inWindow.length === 0) {
      if (samples.some((s) => s.t > from)) continue;
      return rows;
    }
    const withCommit = inWindow.filter((s) => s.commitIndex !== null);
    const last = withCommit.at(-1);
    let commitsPerS: number | null = null;
    if (last !== undefined && prev.commitIndex !== null && last.t > prev.t) {
      commitsPerS = (last.commitIndex! - prev.commitIndex) / (last.t - prev.t);
    }
    if (last !== undefined) prev = { t: last.t, commitIndex: last.commitIndex };
    const inflights = inWindow.flatMap((s) => (s.admission === null ? [] : [s.admission.inflight]));
    rows.push({
      from,
      to: from + windowS,
      maxRss: Math.max(...inWindow.map((s) => s.rssMiB)),
      meanCpu: inWindow.reduce((a, s) => a + s.cpuPercent, 0) / inWindow.length,
      commitsPerS,
      maxInflight: inflights.length === 0 ? null : Math.max(...inflights),
    });
  }
}

/**
 * The rule for "RSS levelled off": split the samples taken while the generator was still starting
 * requests (t ≤ duration) into thirds by time; RSS levelled off if the highest RSS of the last third
 * is at most 10% above the highest of the middle third. The first third is left out: it holds the
 * ramp-up (connections opened, heap grown to its working size). Memory held per request waiting,
 * or queued for the stopped follower, grows for as long as the overload lasts, and shows as a last
 * third well above the middle one; a working set that has settled does not. Needs 3 samples per
 * third, so runs shorter than about 9 s get no verdict.
 */
function levelledOff(samples: readonly Sample[], durationS: number): { verdict: string; rule: string } {
  const rule =
    'max RSS of the last third of the run at most 10% above the max of the middle third (first third = ramp-up, left out)';
  const third = durationS / 3;
  const mid = samples.filter((s) => s.t > third && s.t <= 2 * third && !Number.isNaN(s.rssMiB));
  const last = samples.filter((s) => s.t > 2 * third && s.t <= durationS && !Number.isNaN(s.rssMiB));
  if (mid.length < 3 || last.length < 3) {
    return { verdict: 'RSS levelled off: unknown (run too short: fewer than 3 samples per third)', rule };
  }
  const midMax = Math.max(...mid.map((s) => s.rssMiB));
  const lastMax = Math.max(...last.map((s) => s.rssMiB));
  const growth = (lastMax / midMax - 1) * 100;
  return {
    verdict:
      `RSS levelled off: ${lastMax <= midMax * 1.1 ? 'yes' : 'no'} ` +
      `(max ${midMax.toFixed(0)} MiB in the middle third, ${lastMax.toFixed(0)} MiB in the last: ` +
      `${growth >= 0 ? '+' : ''}${growth.toFixed(0)}%)`,
    rule,
  };
}

// ---------------------------------------------------------------------------------------------
// The load generator: `raftkv bench --json` as a child process

/** The overload itself: puts to the leader at `opts.clients` clients for `opts.durationMs`. */
function runPuts(endpoint: string): Promise<BenchJson> {
  const flags = [
    '--endpoints',
    endpoint,
    '--op',
    'put',
    '--clients',
    String(opts.clients),
    '--duration',
    `${opts.durationMs}ms`,
    '--value-size',
    String(opts.valueSize),
    '--keyspace',
    String(opts.keyspace),
  ];
  return runGenerator(reaper, flags, opts.durationMs);
}

// ---------------------------------------------------------------------------------------------

const int = (x: number) => Math.round(x).toLocaleString('en-US');

interface CatchUp {
  readonly ok: boolean;
  readonly ms: number;
  readonly leaderCommit: number;
  readonly followerApplied: number;
  readonly bySnapshot: boolean;
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  const limitArgs = opts.maxInflight === null ? [] : ['--max-inflight', String(opts.maxInflight)];
  log(`starting 3 nodes (heartbeat ${heartbeatIntervalMs} ms, election timeout ${electionTimeoutMs} ms)...`);
  const c = await ProcessCluster.create(reaper, {
    size: 3,
    timing: { heartbeatIntervalMs, electionTimeoutMs },
    // Every client connects from 127.0.0.1: the per-address connection limit must not be what
    // refuses them, whatever --clients is.
    extraArgs: [...limitArgs, '--max-connections-per-client', '0'],
  });
  reaper.clusters.add(c);
  const leader = await c.waitForLeader(c.ids, 60_000);
  // Settled first, so the frozen follower is not already behind when the load starts.
  await c.waitConverged(c.ids, 60_000);
  const follower = c.ids.find((id) => id !== leader)!;
  const leaderNode = c.node(leader);
  const followerNode = c.node(follower);
  const leaderPid = leaderNode.pid!;
  const endpoint = endpointOf(c, leader);
  const before = await leaderDebug(leaderNode.client, 3000);
  const idleRss = rssMiB(leaderPid);

  log(`leader ${leader} (pid ${leaderPid}); SIGSTOP ${follower} (pid ${followerNode.pid})`);
  stoppedPid = followerNode.pid;
  process.kill(followerNode.pid!, 'SIGSTOP');

  log(
    `load: ${opts.clients} clients putting ${opts.valueSize}-byte values over ${opts.keyspace} keys to ` +
      `${leader} for ${opts.durationMs / 1000} s...`,
  );
  const samples: Sample[] = [];
  let loadDone = false;
  const t0 = performance.now();
  let shownWindow = 0;
  const sampler = sampleLeader(
    leaderPid,
    leaderNode.client,
    t0,
    () => loadDone || reaper.stopping,
    (s) => {
      samples.push(s);
      // A running account on stderr, one line per completed window.
      const w = Math.floor(s.t / windowS);
      if (w > shownWindow) {
        shownWindow = w;
        const rows = samples.filter((x) => x.t > (w - 1) * windowS && x.t <= w * windowS);
        if (rows.length > 0) {
          log(
            `  ${String((w - 1) * windowS).padStart(4)}-${w * windowS} s: RSS max ` +
              `${Math.max(...rows.map((x) => x.rssMiB)).toFixed(0)} MiB, CPU ` +
              `${(rows.reduce((a, x) => a + x.cpuPercent, 0) / rows.length).toFixed(0)}%` +
              (s.admission === null ? '' : `, in flight ${s.admission.inflight}`),
          );
        }
      }
    },
  );
  let bench: BenchJson;
  try {
    bench = await runPuts(endpoint);
  } finally {
    loadDone = true;
    await sampler;
  }
  const after = await leaderDebug(leaderNode.client, 10_000);
  const leaderAlive = leaderNode.running && leaderNode.exits.length === 0;
  const health = await leaderNode.client.health({ timeoutMs: 10_000 }).then(
    (h) => `${h.ok ? 200 : 503}${h.reason ? ` (${h.reason})` : ''}`,
    (e: unknown) => `no answer (${e instanceof Error ? e.message : String(e)})`,
  );
  const leaderNow = await c.leader();

  log(`SIGCONT ${follower}; waiting until it has applied the leader's commit index...`);
  const snapshotsBefore = followerNode.lines('installed snapshot from the leader').length;
  resumeStopped();
  const t1 = performance.now();
  let lastSeen = { leaderCommit: 0, followerApplied: 0 };
  let catchUp: CatchUp;
  try {
    await waitFor(
      `${follower} applied up to the leader's commit index`,
      async () => {
        const l = await c.debug(leaderNow ?? leader);
        const f = await c.debug(follower);
        lastSeen = { leaderCommit: l.commitIndex, followerApplied: f.lastApplied };
        return f.lastApplied >= l.commitIndex;
      },
      { timeoutMs: opts.catchUpTimeoutMs, intervalMs: 50 },
    );
    catchUp = { ok: true, ms: performance.now() - t1, ...lastSeen, bySnapshot: false };
  } catch {
    catchUp = { ok: false, ms: performance.now() - t1, ...lastSeen, bySnapshot: false };
  }
  catchUp = {
    ...catchUp,
    bySnapshot: followerNode.lines('installed snapshot from the leader').length > snapshotsBefore,
  };
  const rssAfter = rssMiB(leaderPid);
  const leaderWarnings = leaderNode.lines('').filter((l) => /\b(warn|error)\b/i.test(l));

  const md = report({
    startedAt,
    loadStart,
    leader,
    follower,
    endpoint,
    bench,
    samples,
    base: { t: 0, commitIndex: before?.commitIndex ?? null },
    idleRss,
    rssAfter,
    admissionBefore: admissionOf(before),
    admissionAfter: admissionOf(after),
    leaderAlive,
    health,
    leaderNow,
    catchUp,
    leaderWarnings,
  });
  printReport(md, opts.out);
}

interface RunInfo {
  readonly startedAt: Date;
  readonly loadStart: number[];
  readonly leader: string;
  readonly follower: string;
  readonly endpoint: string;
  readonly bench: BenchJson;
  readonly samples: readonly Sample[];
  readonly base: { t: number; commitIndex: number | null };
  readonly idleRss: number;
  readonly rssAfter: number;
  readonly admissionBefore: Admission | null;
  readonly admissionAfter: Admission | null;
  readonly leaderAlive: boolean;
  readonly health: string;
  readonly leaderNow: string | null;
  readonly catchUp: CatchUp;
  readonly leaderWarnings: readonly string[];
}

function report(r: RunInfo): string {
  const b = r.bench;
  const durationS = opts.durationMs / 1000;
  const limit =
    opts.maxInflight !== null
      ? `--max-inflight ${opts.maxInflight}`
      : r.admissionBefore !== null
        ? `no --max-inflight flag (the leader's limit, from GET /debug: ${r.admissionBefore.maxInflight})`
        : 'no --max-inflight (this build has no admission limit)';
  const lines: string[] = [];
  lines.push(`# Overload: ${opts.clients} clients against a leader with a stopped follower`);
  lines.push('');
  lines.push(
    `${r.startedAt.toISOString()}, ${os.cpus().length} CPUs, load average at the start ` +
      `${r.loadStart.map((x) => x.toFixed(2)).join(' ')}, at the end ${os
        .loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}.`,
  );
  lines.push('');
  lines.push(
    `- Cluster: 3 nodes on 127.0.0.1, heartbeat ${heartbeatIntervalMs} ms, election timeout ` +
      `${electionTimeoutMs} ms, ${limit}.`,
  );
  lines.push(
    `- Follower ${r.follower} stopped with SIGSTOP before the load and resumed with SIGCONT after it; ` +
      `leader ${r.leader}.`,
  );
  lines.push(
    `- Load: \`raftkv bench --op put --endpoints ${r.endpoint} --clients ${opts.clients} --duration ` +
      `${durationS}s --value-size ${opts.valueSize} --keyspace ${opts.keyspace}\` (16-byte keys, one ` +
      `connection per client; each client sends its next request as soon as it has an answer, ` +
      `ignoring Retry-After; 10 s client timeout); it ran ` +
      `${b.elapsedS.toFixed(1)} s (requests still in flight at the end finish).`,
  );
  lines.push('');
  lines.push('## Results');
  lines.push('');
  const errorTotal = Object.values(b.errors).reduce((a, n) => a + n, 0);
  const errors =
    errorTotal === 0
      ? 'none'
      : Object.entries(b.errors)
          .sort((x, y) => y[1] - x[1])
          .map(([k, n]) => `${k}: ${int(n)}`)
          .join(', ');
  lines.push('| | |');
  lines.push('| --- | --- |');
  lines.push(`| successful puts | ${int(b.requests)} (${int(b.throughput)}/s) |`);
  lines.push(
    `| successes: p50 / p99 / max | ${fmtMs(b.latency.all.p50Ms)} / ${fmtMs(b.latency.all.p99Ms)} / ` +
      `${fmtMs(b.latency.all.maxMs)} ms |`,
  );
  lines.push(`| errors by kind (generator) | ${errors} (${int(errorTotal)} in all) |`);
  if (r.admissionAfter !== null) {
    const refused = r.admissionAfter.refusedBusy - (r.admissionBefore?.refusedBusy ?? 0);
    lines.push(`| refused as 503 busy (leader's own count) | ${int(refused)} |`);
  }
  lines.push(`| generator CPU | ${b.benchCpuPercent.toFixed(0)}% of one core |`);
  lines.push(
    `| leader RSS | ${r.idleRss.toFixed(0)} MiB before the load, ` +
      `${Math.max(...r.samples.map((s) => s.rssMiB)).toFixed(0)} MiB at most, ${r.rssAfter.toFixed(0)} MiB after the catch-up |`,
  );
  lines.push(
    `| leader after the load | ${r.leaderAlive ? 'running' : 'EXITED'}; GET /health ${r.health}; ` +
      `leader now: ${r.leaderNow ?? 'none'}${r.leaderNow === r.leader ? ' (unchanged)' : ' (CHANGED)'} |`,
  );
  const cu = r.catchUp;
  lines.push(
    `| ${r.follower} catch-up after SIGCONT (polled every 50 ms) | ${
      cu.ok
        ? `${int(cu.ms)} ms (applied ${int(cu.followerApplied)} ≥ leader's commit index ${int(cu.leaderCommit)})`
        : `NOT within ${opts.catchUpTimeoutMs / 1000} s (applied ${int(cu.followerApplied)} of ${int(cu.leaderCommit)})`
    }${cu.bySnapshot ? ', by installing a snapshot from the leader' : ''} |`,
  );
  lines.push('');
  lines.push(`## Leader per ${windowS} s window`);
  lines.push('');
  const rows = windows(r.samples, r.base);
  const withInflight = rows.some((w) => w.maxInflight !== null);
  lines.push(
    `| seconds | max RSS MiB | mean CPU % of one core | entries committed/s${withInflight ? ' | max KV requests in flight' : ''} |`,
  );
  lines.push(`| --- | ---: | ---: | ---:${withInflight ? ' | ---:' : ''} |`);
  for (const w of rows) {
    const tail = w.from >= durationS ? ' (generator finishing)' : '';
    lines.push(
      `| ${w.from}–${w.to}${tail} | ${w.maxRss.toFixed(0)} | ${w.meanCpu.toFixed(0)} | ` +
        `${w.commitsPerS === null ? '–' : int(w.commitsPerS)}` +
        `${withInflight ? ` | ${w.maxInflight ?? '–'}` : ''} |`,
    );
  }
  lines.push('');
  const v = levelledOff(r.samples, durationS);
  lines.push(v.verdict);
  lines.push('');
  lines.push(`Rule: ${v.rule}. RSS is VmRSS of /proc/PID/status, read once a second.`);
  if (r.leaderWarnings.length > 0) {
    lines.push('');
    lines.push(`Leader warnings and errors in its log (${r.leaderWarnings.length}; the first 10):`);
    lines.push('');
    lines.push('```');
    lines.push(...r.leaderWarnings.slice(0, 10));
    lines.push('```');
  }
  return `${lines.join('\n')}\n`;
}

await reaper.run('overload', main, () => {
  for (const c of reaper.clusters) process.stderr.write(`${c.diagnostics(20)}\n`);
});
