// Scaling with the number of keys stored. For each N (default 10^4, 10^5, 10^6): a fresh 3-node
// cluster of real processes (the built CLI) on 127.0.0.1 with the node's default timing (heartbeat
// 100 ms, election timeout 1 s), its data in a fresh temp dir. It preloads exactly N distinct keys
// (16 bytes, keyOf() of the load generator; 256-byte values by default) with 256 concurrent puts to
// the leader, then runs the load generator of `raftkv bench --json` (the one bench:compare uses, one
// child process per case) over those N keys: puts at 64 clients to the leader, linearizable gets at
// 64 clients over all three nodes. It then reads what the leader's log says of its last snapshot
// (bytes, and serialise + write time once the line carries `ms`), the size of its newest snapshot
// file and of its whole data dir, and every node's RSS; kills all three nodes with SIGKILL and
// restarts them on the same data dirs, timing from spawn to each node's GET /health = 200, to the
// first linearizable get of a stored key and to the first put. Prints a markdown report; `--out
// FILE` also writes it, `--json` also prints the results as one JSON line. Not part of the tests.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure, SIGINT and
// SIGTERM.
//
// Run: npm run build && node dist/bench/keys.js [--keys 10000,100000,1000000] [--duration 10s]
//        [--clients 64] [--value-size 256] [--out FILE] [--json]

import { lstatSync, readdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { keyOf } from '../src/bench/load.js';
import { fieldOf } from '../src/client/errors.js';
import { type ApiRequest, apiRequests, type RaftkvClient } from '../src/client/index.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { StopWaiting, waitFor } from '../test/support/wait.js';
import {
  type BenchJson,
  endpointOf,
  errorsOf,
  Fatal,
  fmtMs,
  log,
  type Preload,
  parseCount,
  parseDuration,
  parseFlags,
  parseList,
  preload,
  printReport,
  Reaper,
  runLinearizable,
} from './common.js';
import { rssMiB } from './proc.js';

const usage = [
  'usage: node dist/bench/keys.js [--keys 10000,100000,1000000] [--duration 10s] [--clients 64]',
  '         [--value-size 256] [--out FILE] [--json]',
].join('\n');

function parseOptions() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '10000,100000,1000000' },
      duration: { type: 'string', default: '10s' },
      clients: { type: 'string', default: '64' },
      'value-size': { type: 'string', default: '256' },
      out: { type: 'string' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    help: values.help,
    values,
    keyCounts: parseList(values.keys, '--keys'),
    durationMs: parseDuration(values.duration, '--duration'),
    clients: parseCount(values.clients, '--clients', 1),
    valueSize: parseCount(values['value-size'], '--value-size', 1),
  };
}

const { values, keyCounts, durationMs, clients, valueSize } = parseFlags('keys', usage, parseOptions);
const keySize = 16;
/** Concurrent puts while preloading. */
const preloadConcurrency = 256;
const value = 'v'.repeat(valueSize);

/** Everything started here (the cluster of the current N, the load generators), removed on every way out. */
const reaper = new Reaper();

/**
 * Bounds for the waits that grow with the data: recovering, catching up or answering after a
 * restart takes longer with more keys. A bound against hangs, not a speed assertion.
 */
function deadlineFor(n: number, baseMs: number): number {
  return baseMs + Math.ceil(n / 1000) * 200;
}

/** The put of the `i`th key, with the run's value. */
function putOf(i: number): ApiRequest {
  return apiRequests.put(keyOf(i, keySize), value);
}

/** Every node holds exactly `n` keys (GET /debug `keys`), having applied all that is committed. */
async function checkKeyCount(cluster: ProcessCluster, n: number, when: string): Promise<void> {
  await cluster.waitConverged(cluster.ids, deadlineFor(n, 60_000));
  const infos = await Promise.all(cluster.ids.map((id) => cluster.debug(id)));
  const wrong = infos.filter((d) => d.keys !== n);
  if (wrong.length > 0) {
    throw new Error(
      `${when}: expected ${n} keys on every node, found ${infos.map((d) => `${d.nodeId}=${String(d.keys)}`).join(', ')}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// What the nodes say and hold: log fields, snapshot files, data dir size, RSS

/**
 * The fields of a node log line: `key=value` pairs of the text format (values JSON-quoted when
 * they hold spaces), or the object of the JSON format. Unknown fields are kept, missing ones are
 * simply absent, so a line that gains or loses fields still parses.
 */
function logFields(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (line.trimStart().startsWith('{')) {
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      for (const [k, v] of Object.entries(o)) if (v !== null && typeof v !== 'object') out[k] = String(v);
      return out;
    } catch {
      // not JSON: the text format below
    }
  }
  for (const m of line.matchAll(/\s([A-Za-z][\w.]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const raw = m[2]!;
    let v = raw;
    if (raw.startsWith('"')) {
      try {
        v = JSON.parse(raw) as string;
      } catch {
        v = raw;
      }
    }
    out[m[1]!] = v;
  }
  return out;
}

/** A numeric field, or null if it is missing or not a number. */
function numField(fields: Record<string, string>, name: string): number | null {
  const raw = fields[name];
  if (raw === undefined || raw.trim() === '') return null;
  const n = Number(raw);
  return Number.isFinite(n) ? n : null;
}

/** Milliseconds since the epoch of a log line's timestamp (first field of the text format, `time` in JSON). */
function lineTime(line: string): number | null {
  const raw = line.trimStart().startsWith('{')
    ? logFields(line).time
    : /^(\d{4}-\d\d-\d\dT\S+Z)\s/.exec(line)?.[1];
  if (raw === undefined) return null;
  const t = Date.parse(raw);
  return Number.isNaN(t) ? null : t;
}

/**
 * The lines of one incarnation of a node that log exactly `event`: in the text format the event
 * follows the node id and is followed by the first `key=` field or the end of the line (so that
 * 'starting' does not match 'starting election'); in JSON it is the `"event"` field.
 */
function eventLines(cluster: ProcessCluster, id: string, event: string, incarnation: number): string[] {
  const text = new RegExp(`^\\S+\\s+[A-Z]+\\s+${id}\\s+${event}(\\s+[A-Za-z][\\w.]*=|\\s*$)`);
  const json = `"event":${JSON.stringify(event)}`;
  return cluster
    .node(id)
    .lines(event, incarnation)
    .filter((l) => text.test(l) || l.includes(json));
}

interface SnapshotLog {
  /** 'snapshot taken' lines on the leader in this run. */
  readonly count: number;
  readonly index: number | null;
  readonly bytes: number | null;
  readonly ms: number | null;
  readonly keys: number | null;
}

function lastSnapshotOf(cluster: ProcessCluster, id: string, incarnation: number): SnapshotLog | null {
  const lines = eventLines(cluster, id, 'snapshot taken', incarnation);
  if (lines.length === 0) return null;
  const f = logFields(lines.at(-1)!);
  return {
    count: lines.length,
    index: numField(f, 'index'),
    bytes: numField(f, 'bytes'),
    ms: numField(f, 'ms'),
    keys: numField(f, 'keys'),
  };
}

/** The newest snapshot file of a data dir (names sort by index): its name and size, or null. */
function newestSnapshotFile(dataDir: string): { name: string; bytes: number } | null {
  let names: string[];
  try {
    names = readdirSync(path.join(dataDir, 'snap'));
  } catch {
    return null;
  }
  const snaps = names.filter((n) => /^snap-[0-9a-f]{16}-[0-9a-f]{16}\.snap$/.test(n)).sort();
  const name = snaps.at(-1);
  if (name === undefined) return null;
  try {
    return { name, bytes: statSync(path.join(dataDir, 'snap', name)).size };
  } catch {
    // removed by a newer snapshot's pruning meanwhile
    return null;
  }
}

/** Bytes of every file under `dir` (files removed while walking are skipped). */
function dirBytes(dir: string): number {
  let total = 0;
  let entries: string[];
  try {
    entries = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of entries) {
    const p = path.join(dir, name);
    try {
      const s = lstatSync(p);
      total += s.isDirectory() ? dirBytes(p) : s.size;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}

// ---------------------------------------------------------------------------------------------
// Restart: kill -9 all three, start them on the same data dirs, time what they can do when

interface NodeRestart {
  readonly id: string;
  readonly roleBefore: 'leader' | 'follower';
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
  /** From spawn to the log's 'starting' line (storage recovered: snapshot loaded, WAL replayed). */
  readonly recoveredMs: number | null;
  /** From spawn to the log's 'listening' line. */
  readonly listeningMs: number | null;
  /** From spawn to GET /health = 200 (a leader known, everything committed applied). */
  readonly healthyMs: number;
  /** What 'starting' says it recovered: the snapshot index and the WAL entries after it. */
  readonly snapshotIndex: number | null;
  readonly walEntries: number | null;
}

interface Restart {
  readonly nodes: readonly NodeRestart[];
  readonly allHealthyMs: number;
  readonly firstGetMs: number;
  readonly firstGetNode: string;
  readonly firstPutMs: number;
  readonly firstPutNode: string;
}

/**
 * Polls `attempt` on every node, each on its own (so that one node's slow answer does not delay
 * the others), until one succeeds; resolves with the time since `t0` and which node it was.
 */
async function firstSuccess(
  cluster: ProcessCluster,
  what: string,
  t0: number,
  timeoutMs: number,
  attempt: (id: string) => Promise<boolean>,
): Promise<{ ms: number; id: string }> {
  const state: { winner: { ms: number; id: string } | null } = { winner: null };
  const outcomes = await Promise.allSettled(
    cluster.ids.map((id) =>
      waitFor(
        `${what} on ${id}`,
        async () => {
          if (state.winner !== null) return true;
          if (!cluster.node(id).running) throw new StopWaiting(`${id} exited`);
          if (!(await attempt(id))) return false;
          state.winner ??= { ms: performance.now() - t0, id };
          return true;
        },
        { timeoutMs, intervalMs: 10 },
      ),
    ),
  );
  if (state.winner !== null) return state.winner;
  const fatal = outcomes.find((o) => o.status === 'rejected' && o.reason instanceof Fatal);
  const reasons = outcomes
    .map((o) => (o.status === 'rejected' && o.reason instanceof Error ? o.reason.message : ''))
    .filter((m) => m !== '');
  throw fatal !== undefined && fatal.status === 'rejected' ? fatal.reason : new Error(reasons.join('; '));
}

async function restart(cluster: ProcessCluster, n: number, leaderBefore: string): Promise<Restart> {
  const rssBefore = new Map(cluster.ids.map((id) => [id, rssMiB(cluster.node(id).pid)]));
  log('  kill -9 of all three nodes...');
  await cluster.kill9All();
  const timeoutMs = deadlineFor(n, 60_000);
  const getKey = keyOf(n - 1, keySize);
  const putIndex = 0;

  const spawnedAt = Date.now();
  const t0 = performance.now();
  for (const id of cluster.ids) cluster.node(id).start();
  const incarnation = new Map(cluster.ids.map((id) => [id, cluster.node(id).incarnation]));

  const healthy = Promise.all(
    cluster.ids.map(async (id) => {
      const node = cluster.node(id);
      await waitFor(
        `${id} healthy after restart`,
        async () => {
          if (!node.running) throw new StopWaiting(`${id} exited while restarting:\n${node.tail(30)}`);
          return (await cluster.client(id).health({ timeoutMs: 5000 })).ok;
        },
        { timeoutMs, intervalMs: 10 },
      );
      return [id, performance.now() - t0] as const;
    }),
  );
  // The last key preloaded: the most likely to be in the WAL rather than in a snapshot.
  const getReq = apiRequests.get(getKey, { consistency: 'linearizable' });
  const firstGet = firstSuccess(cluster, `linearizable GET ${getKey}`, t0, timeoutMs, async (id) => {
    const r = await cluster.client(id).send(getReq, { timeoutMs: 10_000 });
    if (r.status === 503 || r.status === 504) return false;
    if (r.status !== 200)
      throw new Fatal(`GET ${getKey} on ${id} after restart: ${r.status} ${r.text.slice(0, 300)}`);
    const got = fieldOf(r.body, 'value');
    if (got !== value)
      throw new Fatal(`GET ${getKey} on ${id} after restart: wrong value ${String(got).slice(0, 40)}`);
    return true;
  });
  // A stored key written again with the same value, so the store still holds exactly N keys.
  const firstPut = firstSuccess(cluster, 'PUT', t0, timeoutMs, async (id) => {
    const r = await cluster.client(id).send(putOf(putIndex), { timeoutMs: 10_000 });
    if (r.status === 503 || r.status === 504) return false;
    if (r.status !== 200) throw new Fatal(`PUT on ${id} after restart: ${r.status} ${r.text.slice(0, 300)}`);
    return true;
  });
  const [healthyMs, get, put] = await Promise.all([healthy, firstGet, firstPut]);
  const healthyById = new Map(healthyMs);

  // Every node back with all N keys before its memory is read.
  await checkKeyCount(cluster, n, 'after restart');
  const nodes = cluster.ids.map((id): NodeRestart => {
    const node = cluster.node(id);
    const inc = incarnation.get(id)!;
    const starting = eventLines(cluster, id, 'starting', inc)[0];
    const listening = eventLines(cluster, id, 'listening', inc)[0];
    const since = (line: string | undefined): number | null => {
      const t = line === undefined ? null : lineTime(line);
      return t === null ? null : t - spawnedAt;
    };
    const f = starting === undefined ? {} : logFields(starting);
    return {
      id,
      roleBefore: id === leaderBefore ? 'leader' : 'follower',
      rssBeforeMiB: rssBefore.get(id) ?? Number.NaN,
      rssAfterMiB: rssMiB(node.pid),
      recoveredMs: since(starting),
      listeningMs: since(listening),
      healthyMs: healthyById.get(id)!,
      snapshotIndex: numField(f, 'snapshot'),
      walEntries: numField(f, 'entries'),
    };
  });
  return {
    nodes,
    allHealthyMs: Math.max(...nodes.map((x) => x.healthyMs)),
    firstGetMs: get.ms,
    firstGetNode: get.id,
    firstPutMs: put.ms,
    firstPutNode: put.id,
  };
}

// ---------------------------------------------------------------------------------------------
// One N

interface FullSnapshot {
  readonly index: number;
  readonly bytes: number;
  readonly keys: number;
  readonly ms: number;
  /** Wall time of the POST, from the bench's side (includes recording it and compacting the log). */
  readonly requestMs: number;
}

/** Asks the leader for a snapshot now (POST /admin/snapshot): one holding every stored key. */
async function fullSnapshot(client: RaftkvClient): Promise<FullSnapshot> {
  const t0 = performance.now();
  const b = await client.snapshot({ timeoutMs: 180_000 });
  const requestMs = performance.now() - t0;
  return { index: b.index, bytes: b.bytes, keys: b.keys ?? Number.NaN, ms: b.ms, requestMs };
}

interface Result {
  readonly keys: number;
  readonly preload: Preload;
  readonly put: BenchJson;
  readonly get: BenchJson;
  readonly leader: string;
  readonly snapshot: SnapshotLog | null;
  readonly snapshotFile: { name: string; bytes: number } | null;
  /** The snapshot of all N keys taken on the leader by POST /admin/snapshot after the load. */
  readonly full: FullSnapshot;
  readonly dataDirBytes: number;
  readonly restart: Restart;
  /** 1-minute load average when this N was done. */
  readonly load: number;
}

async function runOne(n: number): Promise<Result> {
  log(`\n${n} keys: starting 3 nodes...`);
  // The node's own timing defaults (heartbeat 100 ms, election timeout 1 s): an empty timing
  // passes no timing flags, where the harness's default is its fast test timing.
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  try {
    let leader = await cluster.waitForLeader(cluster.ids, 30_000);
    log(`  leader ${leader}; preloading ${n} keys (${preloadConcurrency} puts in flight)...`);
    const pre = await preload(reaper, endpointOf(cluster, leader), n, putOf, preloadConcurrency);
    log(
      `  preloaded in ${pre.seconds.toFixed(1)} s (${pre.rate.toFixed(0)} puts/s, ${pre.retries} retried attempts)`,
    );
    await checkKeyCount(cluster, n, 'after the preload');

    leader = await cluster.waitForLeader(cluster.ids, 30_000);
    log(`  puts, ${clients} clients to the leader ${leader}, ${durationMs / 1000} s...`);
    // The load generator (`raftkv bench --json`) as a child process, as bench:compare runs it.
    const load = { target: 'raftkv', clients, durationMs, keySize, valueSize, keyspace: n } as const;
    const put = await runLinearizable(reaper, {
      ...load,
      endpoints: [endpointOf(cluster, leader)],
      op: 'put',
    });
    log(`    ${summary(put)}`);
    log(`  linearizable gets, ${clients} clients over all nodes, ${durationMs / 1000} s...`);
    const endpoints = cluster.ids.map((id) => endpointOf(cluster, id));
    const get = await runLinearizable(reaper, { ...load, endpoints, op: 'get' });
    log(`    ${summary(get)}`);

    // The bench puts overwrite stored keys only: still exactly N, and the followers caught up.
    await checkKeyCount(cluster, n, 'after the load');
    leader = await cluster.waitForLeader(cluster.ids, 30_000);
    const snapshot = lastSnapshotOf(cluster, leader, cluster.node(leader).incarnation);
    log(`  snapshot of all ${n} keys on the leader (POST /admin/snapshot)...`);
    const full = await fullSnapshot(cluster.client(leader));
    log(`    ${fmtBytes(full.bytes)} bytes, ${fmtInt(full.keys)} keys, ${fmtInt(full.ms)} ms`);
    const snapshotFile = newestSnapshotFile(cluster.node(leader).dataDir);
    const dataDirBytes = dirBytes(cluster.node(leader).dataDir);
    log(
      `  leader ${leader}: ${snapshot === null ? 'no snapshot taken' : `${snapshot.count} snapshots, last ${fmtBytes(snapshot.bytes)} bytes in ${fmtInt(snapshot.ms)} ms`}; ` +
        `data dir ${fmtBytes(dataDirBytes)} bytes`,
    );

    const r = await restart(cluster, n, leader);
    log(
      `  restart: all healthy after ${r.allHealthyMs.toFixed(0)} ms, first linearizable get ${r.firstGetMs.toFixed(0)} ms, ` +
        `first put ${r.firstPutMs.toFixed(0)} ms`,
    );
    return {
      keys: n,
      preload: pre,
      put,
      get,
      leader,
      snapshot,
      snapshotFile,
      full,
      dataDirBytes,
      restart: r,
      load: os.loadavg()[0]!,
    };
  } catch (e) {
    // Say what the nodes were doing when it failed.
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`${n} keys: ${message}\n--- node output ---\n${cluster.diagnostics(20)}`, { cause: e });
  } finally {
    await cluster.cleanup();
    reaper.clusters.delete(cluster);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (x: number | null): string =>
  x === null || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US');
const fmtBytes = fmtInt;
const fmtMiB = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(1));

function summary(b: BenchJson): string {
  return (
    `${b.throughput.toFixed(0)} ops/s, p50 ${fmtMs(b.latency.all.p50Ms)} ms, p99 ${fmtMs(b.latency.all.p99Ms)} ms, ` +
    `errors ${errorsOf(b)}, generator CPU ${b.benchCpuPercent.toFixed(0)}%`
  );
}

function report(results: readonly Result[], startedAt: Date, loadStart: number[], loadEnd: number[]): string {
  const la = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const lines: string[] = [];
  lines.push(
    `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} CPUs ` +
      `(${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Linux ${os.release()}, Node ${process.version}. ` +
      `Load average (1/5/15 min) ${la(loadStart)} at the start, ${la(loadEnd)} at the end. ` +
      `Per N: a fresh 3-node cluster on 127.0.0.1 (fsync on, default timing: heartbeat 100 ms, election ` +
      `timeout 1 s, data in ${os.tmpdir()}), N distinct ${keySize}-byte keys preloaded with ` +
      `${preloadConcurrency} puts in flight to the leader, ${valueSize}-byte values; then ${durationMs / 1000} s ` +
      `of puts at ${clients} clients to the leader and ${durationMs / 1000} s of linearizable gets at ` +
      `${clients} clients over all three nodes, both over the N stored keys (\`raftkv bench\`).`,
  );
  lines.push('');
  lines.push(
    '| N | preload s | preload puts/s | put ops/s | put p50 ms | put p99 ms | get ops/s | get p50 ms | get p99 ms | errors put / get |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of results) {
    lines.push(
      `| ${fmtInt(r.keys)} | ${r.preload.seconds.toFixed(1)} | ${r.preload.rate.toFixed(0)} | ` +
        `${r.put.throughput.toFixed(0)} | ${fmtMs(r.put.latency.all.p50Ms)} | ${fmtMs(r.put.latency.all.p99Ms)} | ` +
        `${r.get.throughput.toFixed(0)} | ${fmtMs(r.get.latency.all.p50Ms)} | ${fmtMs(r.get.latency.all.p99Ms)} | ` +
        `${errorsOf(r.put)} / ${errorsOf(r.get)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Snapshot: after the load the leader is asked for a snapshot of all N keys (`POST /admin/snapshot`): ' +
      'its data bytes, keys and ms (serialise + write, as the node reports it), the newest snapshot file ' +
      'and the whole data dir after it. Restart: ' +
      'all three nodes killed with SIGKILL after that and started again on the same data dirs; ' +
      'times from spawn. No node leads until its randomised election timeout (1–2 s by default) has ' +
      'run out after recovery, so every restart time includes one election. RSS of the leader after ' +
      'the load, before the kill.',
  );
  lines.push('');
  lines.push(
    '| N | snapshot keys | snapshot bytes | snapshot ms | snapshot file bytes | data dir bytes | leader RSS MiB | restart to all healthy ms | to first linearizable get ms | to first put ms |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const f = r.full;
    const leaderRss = r.restart.nodes.find((x) => x.id === r.leader)?.rssBeforeMiB ?? Number.NaN;
    lines.push(
      `| ${fmtInt(r.keys)} | ${fmtInt(f.keys)} | ${fmtBytes(f.bytes)} | ${fmtInt(f.ms)} | ` +
        `${r.snapshotFile === null ? 'none' : fmtBytes(r.snapshotFile.bytes)} | ` +
        `${fmtBytes(r.dataDirBytes)} | ${fmtMiB(leaderRss)} | ${r.restart.allHealthyMs.toFixed(0)} | ` +
        `${r.restart.firstGetMs.toFixed(0)} | ${r.restart.firstPutMs.toFixed(0)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Per node: role before the kill, RSS after the load (before the kill) and after the restart (once every ' +
      "node holds all N keys again), what the node's `starting` line says it recovered (snapshot index, WAL " +
      'entries after it), and the times from spawn to that line (storage recovered), to `listening` and to ' +
      'GET /health = 200 (log-line times have millisecond resolution).',
  );
  lines.push('');
  lines.push(
    '| N | node | role | RSS before MiB | RSS after MiB | snapshot index | WAL entries | recovered ms | listening ms | healthy ms |',
  );
  lines.push('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    for (const x of r.restart.nodes) {
      lines.push(
        `| ${fmtInt(r.keys)} | ${x.id} | ${x.roleBefore} | ${fmtMiB(x.rssBeforeMiB)} | ${fmtMiB(x.rssAfterMiB)} | ` +
          `${fmtInt(x.snapshotIndex)} | ${fmtInt(x.walEntries)} | ${fmtInt(x.recoveredMs)} | ` +
          `${fmtInt(x.listeningMs)} | ${x.healthyMs.toFixed(0)} |`,
      );
    }
  }
  lines.push('');
  for (const r of results) {
    const s = r.snapshot;
    const snap =
      s === null
        ? 'no automatic snapshot on the leader'
        : `${s.count} automatic snapshot${s.count === 1 ? '' : 's'} on the leader before the one asked for, ` +
          `the last at index ${fmtInt(s.index)}${s.keys === null ? '' : ` holding ${fmtInt(s.keys)} keys`}` +
          `${s.bytes === null ? '' : `, ${fmtBytes(s.bytes)} bytes`}${s.ms === null ? '' : ` in ${fmtInt(s.ms)} ms`}`;
    lines.push(
      `- ${fmtInt(r.keys)} keys: ${snap}; newest file ${r.snapshotFile?.name ?? 'none'}; preload retried ` +
        `${r.preload.retries} attempts; generator CPU put ${r.put.benchCpuPercent.toFixed(0)}%, get ` +
        `${r.get.benchCpuPercent.toFixed(0)}%; first get answered by ${r.restart.firstGetNode}, first put by ` +
        `${r.restart.firstPutNode}; load average ${r.load.toFixed(2)} at the end.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  log(
    `keys: ${keyCounts.join(', ')}; ${durationMs / 1000} s per case, ${clients} clients, ${valueSize}-byte values; ` +
      `load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const results: Result[] = [];
  for (const n of keyCounts) results.push(await runOne(n));
  const md = report(results, startedAt, loadStart, os.loadavg());
  printReport(md, values.out);
  if (values.json)
    console.log(JSON.stringify({ startedAt, durationMs, clients, valueSize, keySize, results }));
}

await reaper.run('keys', main);
