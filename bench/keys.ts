// Scaling with the number of keys stored, raftkv next to etcd. For each N (default 10^4, 10^5,
// 10^6) and each system of --systems (default raftkv and etcd, alternating which goes first per N,
// so that drifting background load falls on both): a fresh 3-node cluster of real processes on
// 127.0.0.1 with the system's default timing (heartbeat 100 ms, election timeout 1 s), fsync on,
// its data in a fresh temp dir — raftkv from the built CLI, etcd from Debian's etcd-server (3.4,
// its default --snapshot-count; bench/etcd.ts). It preloads exactly N distinct keys (16 bytes,
// keyOf() of the load generator; 256-byte values by default) with 256 concurrent puts to the
// leader, then runs the load generator of `raftkv bench --json` (the one bench:compare uses, one
// child process per case; for etcd through its v3 JSON gateway) over those N keys: puts at 64
// clients to the leader, linearizable gets at 64 clients over all three nodes. Once every node
// holds the N keys it reads every node's VmRSS, VmHWM and file-backed RSS, the heap each reports
// on /metrics (raftkv: process.memoryUsage()'s heapUsed, heapTotal, external; etcd: Go's heap) and
// each data dir's size. For raftkv it then asks the leader for a snapshot of all N keys and reads
// what the leader's log says of its last automatic one. Then it kills all three nodes with SIGKILL
// and restarts them on the same data dirs, timing from spawn to each node healthy (GET /health),
// to the first linearizable get of a stored key and to the first put, and reads every node's RSS
// once all hold the N keys again. Prints a markdown report (bench/keys-report.ts); `--out FILE`
// also writes it, `--json` also prints the results as one JSON line. Not part of the tests.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure, SIGINT and
// SIGTERM.
//
// Run: npm run build && node dist/bench/keys.js [--keys 10000,100000,1000000] [--duration 10s]
//        [--clients 64] [--value-size 256] [--systems raftkv,etcd] [--etcd BIN] [--out FILE] [--json]

import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { keyOf } from '../src/bench/load.js';
import { fieldOf } from '../src/client/errors.js';
import { type Answer, type ApiRequest, apiRequests, type RaftkvClient } from '../src/client/index.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { StopWaiting, waitFor } from '../test/support/wait.js';
import {
  type BenchJson,
  endpointOf,
  Fatal,
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
  type System,
} from './common.js';
import { EtcdCluster, etcdRequests, etcdRetryable, etcdVersion, findEtcd, rangeValue } from './etcd.js';
import {
  type FullSnapshot,
  type HeapMemory,
  heapOf,
  keysSystems,
  type NodeMemory,
  type NodeRestart,
  parseStatusMemory,
  parseSystems,
  type RaftkvRecovery,
  type RestartTimes,
  report,
  type SnapshotLog,
  type StatusMemory,
  type SystemResult,
  summary,
  systemOrder,
} from './keys-report.js';

const usage = [
  'usage: node dist/bench/keys.js [--keys 10000,100000,1000000] [--duration 10s] [--clients 64]',
  '         [--value-size 256] [--systems raftkv,etcd] [--etcd BIN] [--out FILE] [--json]',
].join('\n');

function parseOptions() {
  const { values } = parseArgs({
    options: {
      keys: { type: 'string', default: '10000,100000,1000000' },
      duration: { type: 'string', default: '10s' },
      clients: { type: 'string', default: '64' },
      'value-size': { type: 'string', default: '256' },
      systems: { type: 'string', default: keysSystems.join(',') },
      etcd: { type: 'string' },
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
    systems: parseSystems(values.systems),
  };
}

const { values, keyCounts, durationMs, clients, valueSize, systems } = parseFlags(
  'keys',
  usage,
  parseOptions,
);
const keySize = 16;
/** Concurrent puts while preloading. */
const preloadConcurrency = 256;
const value = 'v'.repeat(valueSize);

/** Everything started here (the clusters of the current N, the load generators), removed on every way out. */
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

/** The same put through etcd's gateway. */
function etcdPutOf(i: number): ApiRequest {
  return etcdRequests.put(keyOf(i, keySize), value);
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

/** VmRSS, VmHWM and RssFile of a process now, read at one instant (NaN once it is gone). */
function memoryOf(pid: number | undefined): StatusMemory {
  try {
    if (pid === undefined) throw new Error('no pid');
    return parseStatusMemory(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return { rssMiB: Number.NaN, hwmMiB: Number.NaN, rssFileMiB: Number.NaN };
  }
}

/** A node's heap figures from its /metrics, or nulls when it does not answer. */
async function heapFrom(system: System, scrape: () => Promise<string>): Promise<HeapMemory> {
  try {
    return heapOf(system, await scrape());
  } catch (e) {
    log(`  /metrics: ${e instanceof Error ? e.message : String(e)}`);
    return { heapUsedMiB: null, heapTotalMiB: null, externalMiB: null };
  }
}

// ---------------------------------------------------------------------------------------------
// What the nodes say and hold: log fields, snapshot files, data dir size

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

/** What timing a restart needs of a system: its nodes, and one probe of each kind on a node. */
interface RestartProbes {
  readonly names: readonly string[];
  running(name: string): boolean;
  /** Why a node that exited did (its last output). */
  exitNote(name: string): string;
  healthy(name: string): Promise<boolean>;
  /** true: answered right; false: not yet (no leader); throws Fatal on a wrong answer. */
  get(name: string): Promise<boolean>;
  put(name: string): Promise<boolean>;
}

/**
 * Polls `attempt` on every node, each on its own (so that one node's slow answer does not delay
 * the others), until one succeeds; resolves with the time since `t0` and which node it was.
 */
async function firstSuccess(
  probes: RestartProbes,
  what: string,
  t0: number,
  timeoutMs: number,
  attempt: (name: string) => Promise<boolean>,
): Promise<{ ms: number; name: string }> {
  const state: { winner: { ms: number; name: string } | null } = { winner: null };
  const outcomes = await Promise.allSettled(
    probes.names.map((name) =>
      waitFor(
        `${what} on ${name}`,
        async () => {
          if (state.winner !== null) return true;
          if (!probes.running(name)) throw new StopWaiting(`${name} exited`);
          if (!(await attempt(name))) return false;
          state.winner ??= { ms: performance.now() - t0, name };
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

/**
 * Times a restart whose nodes were spawned at `t0`: to each node healthy, to the first get and to
 * the first put on any node. The memory readings are left empty: they come once every node holds
 * all keys again.
 */
async function timeRestart(
  probes: RestartProbes,
  t0: number,
  timeoutMs: number,
): Promise<{
  healthyMs: Map<string, number>;
  get: { ms: number; name: string };
  put: { ms: number; name: string };
}> {
  const healthy = Promise.all(
    probes.names.map(async (name) => {
      await waitFor(
        `${name} healthy after restart`,
        async () => {
          if (!probes.running(name))
            throw new StopWaiting(`${name} exited while restarting:\n${probes.exitNote(name)}`);
          return probes.healthy(name);
        },
        { timeoutMs, intervalMs: 10 },
      );
      return [name, performance.now() - t0] as const;
    }),
  );
  const get = firstSuccess(probes, 'linearizable get', t0, timeoutMs, (name) => probes.get(name));
  const put = firstSuccess(probes, 'put', t0, timeoutMs, (name) => probes.put(name));
  const [h, g, p] = await Promise.all([healthy, get, put]);
  return { healthyMs: new Map(h), get: g, put: p };
}

/** The answer to a probe after a restart: 200 is checked by `ok`, 503/504 (no leader yet) is "not yet". */
function probeAnswer(
  what: string,
  r: Answer,
  ok: (body: unknown) => string | null,
  retry: (s: number) => boolean,
): boolean {
  if (retry(r.status)) return false;
  if (r.status !== 200) throw new Fatal(`${what} after restart: ${r.status} ${r.text.slice(0, 300)}`);
  const wrong = ok(r.body);
  if (wrong !== null) throw new Fatal(`${what} after restart: ${wrong}`);
  return true;
}

function restartTimes(
  names: readonly string[],
  timed: Awaited<ReturnType<typeof timeRestart>>,
  memory: (name: string) => StatusMemory,
): RestartTimes {
  const nodes = names.map((name): NodeRestart => {
    const m = memory(name);
    return { name, healthyMs: timed.healthyMs.get(name)!, rssMiB: m.rssMiB, hwmMiB: m.hwmMiB };
  });
  return {
    nodes,
    allHealthyMs: Math.max(...nodes.map((x) => x.healthyMs)),
    firstGetMs: timed.get.ms,
    firstGetNode: timed.get.name,
    firstPutMs: timed.put.ms,
    firstPutNode: timed.put.name,
  };
}

/** A probe's check of a get's value: null when it is the run's value. */
function checkValue(got: unknown): string | null {
  return got === value ? null : `wrong value ${String(got).slice(0, 40)}`;
}

// The last key preloaded (the most likely to be in the WAL rather than in a snapshot) is read; the
// first is written again with the same value, so the store still holds exactly N keys.
const getKeyOf = (n: number): string => keyOf(n - 1, keySize);
const putIndex = 0;

// ---------------------------------------------------------------------------------------------
// raftkv

async function restartRaftkv(
  cluster: ProcessCluster,
  n: number,
): Promise<{ restart: RestartTimes; recovery: RaftkvRecovery[] }> {
  const rssBefore = new Map(cluster.ids.map((id) => [id, memoryOf(cluster.node(id).pid).rssMiB]));
  log('  kill -9 of all three nodes...');
  await cluster.kill9All();
  const getKey = getKeyOf(n);
  const getReq = apiRequests.get(getKey, { consistency: 'linearizable' });
  const retry = (s: number) => s === 503 || s === 504;
  const probes: RestartProbes = {
    names: cluster.ids,
    running: (id) => cluster.node(id).running,
    exitNote: (id) => cluster.node(id).tail(30),
    healthy: async (id) => (await cluster.client(id).health({ timeoutMs: 5000 })).ok,
    get: async (id) =>
      probeAnswer(
        `GET ${getKey} on ${id}`,
        await cluster.client(id).send(getReq, { timeoutMs: 10_000 }),
        (b) => checkValue(fieldOf(b, 'value')),
        retry,
      ),
    put: async (id) =>
      probeAnswer(
        `PUT on ${id}`,
        await cluster.client(id).send(putOf(putIndex), { timeoutMs: 10_000 }),
        () => null,
        retry,
      ),
  };

  const spawnedAt = Date.now();
  const t0 = performance.now();
  for (const id of cluster.ids) cluster.node(id).start();
  const incarnation = new Map(cluster.ids.map((id) => [id, cluster.node(id).incarnation]));
  const timed = await timeRestart(probes, t0, deadlineFor(n, 60_000));

  // Every node back with all N keys before its memory is read.
  await checkKeyCount(cluster, n, 'after restart');
  const restart = restartTimes(cluster.ids, timed, (id) => memoryOf(cluster.node(id).pid));
  const recovery = cluster.ids.map((id): RaftkvRecovery => {
    const inc = incarnation.get(id)!;
    const starting = eventLines(cluster, id, 'starting', inc)[0];
    const listening = eventLines(cluster, id, 'listening', inc)[0];
    const since = (line: string | undefined): number | null => {
      const t = line === undefined ? null : lineTime(line);
      return t === null ? null : t - spawnedAt;
    };
    const f = starting === undefined ? {} : logFields(starting);
    return {
      name: id,
      rssBeforeKillMiB: rssBefore.get(id) ?? Number.NaN,
      recoveredMs: since(starting),
      listeningMs: since(listening),
      snapshotIndex: numField(f, 'snapshot'),
      walEntries: numField(f, 'entries'),
    };
  });
  return { restart, recovery };
}

/** Asks the leader for a snapshot now (POST /admin/snapshot): one holding every stored key. */
async function fullSnapshot(client: RaftkvClient): Promise<FullSnapshot> {
  const t0 = performance.now();
  const b = await client.snapshot({ timeoutMs: 180_000 });
  const requestMs = performance.now() - t0;
  return { index: b.index, bytes: b.bytes, keys: b.keys ?? Number.NaN, ms: b.ms, requestMs };
}

async function runRaftkv(n: number): Promise<SystemResult> {
  log(`\nraftkv, ${n} keys: starting 3 nodes...`);
  // The node's own timing defaults (heartbeat 100 ms, election timeout 1 s): an empty timing
  // passes no timing flags, where the harness's default is its fast test timing.
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  try {
    let leader = await cluster.waitForLeader(cluster.ids, 30_000);
    log(`  leader ${leader}; preloading ${n} keys (${preloadConcurrency} puts in flight)...`);
    const pre = await preload(reaper, endpointOf(cluster, leader), n, putOf, preloadConcurrency);
    logPreload(pre);
    await checkKeyCount(cluster, n, 'after the preload');

    leader = await cluster.waitForLeader(cluster.ids, 30_000);
    const { put, get } = await load(
      'raftkv',
      n,
      endpointOf(cluster, leader),
      cluster.ids.map((id) => endpointOf(cluster, id)),
    );

    // The bench puts overwrite stored keys only: still exactly N, and the followers caught up.
    await checkKeyCount(cluster, n, 'after the load');
    leader = await cluster.waitForLeader(cluster.ids, 30_000);
    const afterLoad = await Promise.all(
      cluster.ids.map(async (id): Promise<NodeMemory> => {
        const node = cluster.node(id);
        const memory = memoryOf(node.pid);
        const heap = await heapFrom('raftkv', () => cluster.client(id).metrics({ timeoutMs: 10_000 }));
        return {
          name: id,
          role: id === leader ? 'leader' : 'follower',
          ...memory,
          ...heap,
          dataDirBytes: dirBytes(node.dataDir),
        };
      }),
    );
    logMemory(afterLoad);

    const snapshot = lastSnapshotOf(cluster, leader, cluster.node(leader).incarnation);
    log(`  snapshot of all ${n} keys on the leader (POST /admin/snapshot)...`);
    const full = await fullSnapshot(cluster.client(leader));
    log(`    ${full.bytes} bytes, ${full.keys} keys, ${full.ms.toFixed(0)} ms`);
    const snapshotFile = newestSnapshotFile(cluster.node(leader).dataDir);
    const leaderDataDirBytes = dirBytes(cluster.node(leader).dataDir);

    const { restart, recovery } = await restartRaftkv(cluster, n);
    logRestart(restart);
    return {
      system: 'raftkv',
      keys: n,
      preload: pre,
      put,
      get,
      leader,
      afterLoad,
      restart,
      raftkv: { snapshot, snapshotFile, full, leaderDataDirBytes, recovery },
      load: os.loadavg()[0]!,
    };
  } catch (e) {
    // Say what the nodes were doing when it failed.
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`raftkv, ${n} keys: ${message}\n--- node output ---\n${cluster.diagnostics(20)}`, {
      cause: e,
    });
  } finally {
    await cluster.cleanup();
    reaper.clusters.delete(cluster);
  }
}

// ---------------------------------------------------------------------------------------------
// etcd

async function restartEtcd(cluster: EtcdCluster, n: number): Promise<RestartTimes> {
  log('  kill -9 of all three members...');
  await cluster.kill9All();
  const getKey = getKeyOf(n);
  const probes: RestartProbes = {
    names: cluster.names,
    running: (name) => cluster.running(name),
    exitNote: (name) => cluster.tail(name, 30),
    healthy: (name) => cluster.healthy(name),
    get: async (name) =>
      probeAnswer(
        `range ${getKey} on ${name}`,
        await cluster.send(name, etcdRequests.get(getKey), 10_000),
        (b) => checkValue(rangeValue(b)),
        etcdRetryable,
      ),
    put: async (name) =>
      probeAnswer(
        `put on ${name}`,
        await cluster.send(name, etcdPutOf(putIndex), 10_000),
        () => null,
        etcdRetryable,
      ),
  };
  const t0 = performance.now();
  cluster.spawnAll();
  const timed = await timeRestart(probes, t0, deadlineFor(n, 60_000));
  await cluster.waitKeyCount(n, deadlineFor(n, 60_000), 'after restart');
  return restartTimes(cluster.names, timed, (name) => memoryOf(cluster.pid(name)));
}

async function runEtcd(n: number, bin: string): Promise<SystemResult> {
  log(`\netcd, ${n} keys: starting 3 members...`);
  const cluster = await EtcdCluster.start(reaper, bin, 'raftkv-keys-etcd-');
  try {
    let leader = await cluster.leader();
    log(`  leader ${leader}; preloading ${n} keys (${preloadConcurrency} puts in flight)...`);
    const pre = await preload(
      reaper,
      cluster.endpoint(leader),
      n,
      etcdPutOf,
      preloadConcurrency,
      etcdRetryable,
    );
    logPreload(pre);
    await cluster.waitKeyCount(n, deadlineFor(n, 60_000), 'after the preload');

    leader = await cluster.leader();
    const { put, get } = await load(
      'etcd',
      n,
      cluster.endpoint(leader),
      cluster.names.map((m) => cluster.endpoint(m)),
    );

    await cluster.waitKeyCount(n, deadlineFor(n, 60_000), 'after the load');
    leader = await cluster.leader();
    const afterLoad = await Promise.all(
      cluster.names.map(async (name): Promise<NodeMemory> => {
        const memory = memoryOf(cluster.pid(name));
        const heap = await heapFrom('etcd', () => cluster.metrics(name));
        return {
          name,
          role: name === leader ? 'leader' : 'follower',
          ...memory,
          ...heap,
          dataDirBytes: dirBytes(cluster.dataDir(name)),
        };
      }),
    );
    logMemory(afterLoad);

    const restart = await restartEtcd(cluster, n);
    logRestart(restart);
    return {
      system: 'etcd',
      keys: n,
      preload: pre,
      put,
      get,
      leader,
      afterLoad,
      restart,
      raftkv: null,
      load: os.loadavg()[0]!,
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    throw new Error(`etcd, ${n} keys: ${message}\n--- member logs ---\n${cluster.diagnostics(20)}`, {
      cause: e,
    });
  } finally {
    await cluster.cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// Both

/** Puts at `clients` to the leader, then linearizable gets at `clients` over all nodes, over the N keys. */
async function load(
  target: System,
  n: number,
  leader: string,
  all: readonly string[],
): Promise<{ put: BenchJson; get: BenchJson }> {
  log(`  puts, ${clients} clients to the leader ${leader}, ${durationMs / 1000} s...`);
  // The load generator (`raftkv bench --json`) as a child process, as bench:compare runs it.
  const c = { target, clients, durationMs, keySize, valueSize, keyspace: n } as const;
  const put = await runLinearizable(reaper, { ...c, endpoints: [leader], op: 'put' });
  log(`    ${summary(put)}`);
  log(`  linearizable gets, ${clients} clients over all nodes, ${durationMs / 1000} s...`);
  const get = await runLinearizable(reaper, { ...c, endpoints: all, op: 'get' });
  log(`    ${summary(get)}`);
  return { put, get };
}

function logPreload(pre: Preload): void {
  log(
    `  preloaded in ${pre.seconds.toFixed(1)} s (${pre.rate.toFixed(0)} puts/s, ${pre.retries} retried attempts)`,
  );
}

function logMemory(nodes: readonly NodeMemory[]): void {
  for (const x of nodes) {
    log(
      `  ${x.name} (${x.role}): RSS ${x.rssMiB.toFixed(1)} MiB, VmHWM ${x.hwmMiB.toFixed(1)} MiB, ` +
        `heap used ${x.heapUsedMiB?.toFixed(1) ?? '–'} MiB, data dir ${(x.dataDirBytes / 2 ** 20).toFixed(1)} MiB`,
    );
  }
}

function logRestart(r: RestartTimes): void {
  log(
    `  restart: all healthy after ${r.allHealthyMs.toFixed(0)} ms, first linearizable get ${r.firstGetMs.toFixed(0)} ms, ` +
      `first put ${r.firstPutMs.toFixed(0)} ms`,
  );
}

async function main(): Promise<void> {
  const startedAt = new Date();
  const loadStart = os.loadavg();
  const bin = systems.includes('etcd') ? findEtcd(values.etcd) : null;
  const version = bin === null ? null : etcdVersion(bin);
  log(
    `keys: ${keyCounts.join(', ')}; systems ${systems.join(', ')}${bin === null ? '' : ` (etcd ${version}, ${bin})`}; ` +
      `${durationMs / 1000} s per case, ${clients} clients, ${valueSize}-byte values; ` +
      `load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
  );
  const results: SystemResult[] = [];
  for (const [i, n] of keyCounts.entries()) {
    for (const s of systemOrder(systems, i)) {
      results.push(s === 'raftkv' ? await runRaftkv(n) : await runEtcd(n, bin!));
    }
  }
  const md = report(results, {
    startedAt,
    machine:
      `${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Linux ${os.release()}, ` +
      `Node ${process.version}`,
    etcdVersion: version,
    tmpdir: os.tmpdir(),
    loadStart,
    loadEnd: os.loadavg(),
    systems,
    durationMs,
    clients,
    keySize,
    valueSize,
    preloadConcurrency,
  });
  printReport(md, values.out);
  if (values.json) {
    console.log(
      JSON.stringify({
        startedAt,
        systems,
        etcdVersion: version,
        durationMs,
        clients,
        valueSize,
        keySize,
        results,
      }),
    );
  }
}

await reaper.run('keys', main);
