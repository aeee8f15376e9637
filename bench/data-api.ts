// What the data API costs (docs/performance.md, "Data API costs"): watch fan-out, transactions and
// lease keepalives, each on a fresh 3-node cluster of real `raftkv start` processes on 127.0.0.1
// (fsync on, the node's default timing: heartbeat 100 ms, election timeout 1 s), and what each does
// to plain puts measured in the same run.
//
// 1. watch: N watchers (default 1,000), dealt round the three nodes, each its own SSE connection
//    read in a worker thread of this script. The loads: a writer putting at fixed paces (10 and
//    100/s; open loop, each put sent at its time), `raftkv bench` putting to the leader as fast as
//    16 clients can, and its linearizable gets over the three nodes. They run with no watcher, then
//    with the N watchers on a prefix nobody writes (what open watchers cost the requests they do not
//    concern; the nodes' RSS with them idle), then (the puts) with the N watchers on the written
//    prefix. It reports rates and latencies, every node's CPU and write system calls, the events
//    received per second (all watchers, and per node), the time from a put's answer (and from its
//    send) to its event at each watcher, whether every watcher got exactly the acknowledged puts in
//    order, and the watchers the nodes dropped or compacted.
// 2. txn: closed-loop clients (1, 16, 64) against the leader, each case in turn with the same code:
//    plain puts, a compare-and-swap transaction (1 compare, 1 put, 1 get, on a key of the client's
//    own so that it always succeeds), a 10-op transaction (the same compare; a put of its own key,
//    8 puts of random keys, a get) and plain puts again. ops/s, p50 and p99, the leader's CPU.
// 3. lease: 10,000 leases granted (TTL 30 s), one key each, kept alive every TTL/3 (10,000 per
//    10 s = 1,000 keepalives/s, paced evenly); keepalives/s sustained with their p50/p99, the
//    leader's CPU and RSS; plain puts at 16 clients (`raftkv bench`) with no lease, with the
//    keepalives running, and with the 10,000 leases held but no keepalive running; then, after one
//    more round, the keepalives stop and it times the expiry of all of them from a watch on their
//    keys: from the last keepalive to the first and the last key gone, and per lease how long after
//    its TTL (counted from its last keepalive's send) its key went.
//
// The load runs on the same machine as the nodes; CPU is read from /proc (proc.ts). Prints a
// markdown report (`--out FILE` also writes it, `--json` also prints the results as one line).
// Every process, worker and temp dir it starts is removed at the end, by PID, also on failure,
// SIGINT and SIGTERM (common.ts's Reaper). Not part of the tests.
//
// Run: npm run bench:data-api -- [--parts watch,txn,lease] [--duration 8s] [--watchers 1000]
//        [--watch-rate 10,100] [--write-clients 16] [--txn-clients 1,16,64] [--leases 10000]
//        [--lease-ttl 30] [--value-size 64] [--keyspace 10000] [--out FILE] [--json]

import { readFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';
import { Histogram } from '../src/bench/histogram.js';
import { keyOf } from '../src/bench/load.js';
import { apiRequests } from '../src/client/index.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import { pause, waitFor } from '../test/support/wait.js';
import {
  type BenchJson,
  endpointOf,
  errorsOf,
  fmtMs,
  log,
  parseCount,
  parseDuration,
  parseFlags,
  parseList,
  preload,
  printReport,
  Reaper,
  runLinearizable,
} from './common.js';
import { cpuSeconds, cpuTimes, peakRssMiB, rssMiB } from './proc.js';

// ---------------------------------------------------------------------------------------------
// Shared by both threads

/** Milliseconds on the system's monotonic clock: the same in the worker and the main thread. */
const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** `host:port` split for node:http. */
function hostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(':');
  return { host: endpoint.slice(0, i), port: Number(endpoint.slice(i + 1)) };
}

/**
 * One GET /watch stream, read as Server-Sent Events the way the node writes them (`\n` line ends,
 * a blank line after each block): every `put` or `delete` event is handed to `onEvent` with its
 * id (the log index) and its data line, unparsed (parsing is left to the caller that needs it, so
 * a thousand streams cost little more than reading them).
 */
class WatchStream {
  /** How the node ended it (`dropped`, `compacted`), or the connection's fate; null while open. */
  ended: string | null = null;
  private buf = '';
  private req: http.ClientRequest | null = null;

  constructor(
    private readonly endpoint: string,
    private readonly prefix: string,
    private readonly onEvent: (index: number, type: string, data: string) => void,
  ) {}

  /** Resolves once the stream is open and has said where it starts (its first progress id). */
  open(timeoutMs: number): Promise<void> {
    const { host, port } = hostPort(this.endpoint);
    return new Promise((resolve, reject) => {
      let started = false;
      const timer = setTimeout(() => {
        if (!started) {
          this.close();
          reject(new Error(`watch on ${this.endpoint}: not open after ${timeoutMs} ms`));
        }
      }, timeoutMs);
      const req = http.get(
        { host, port, path: `/watch?prefix=${encodeURIComponent(this.prefix)}`, agent: false },
        (res) => {
          if (res.statusCode !== 200) {
            clearTimeout(timer);
            res.resume();
            reject(new Error(`watch on ${this.endpoint}: ${res.statusCode}`));
            return;
          }
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            this.buf += chunk;
            let from = 0;
            for (;;) {
              const end = this.buf.indexOf('\n\n', from);
              if (end < 0) break;
              const block = this.buf.slice(from, end);
              from = end + 2;
              if (!started && /(^|\n)id: /.test(block)) {
                started = true;
                clearTimeout(timer);
                resolve();
              }
              this.block(block);
            }
            this.buf = this.buf.slice(from);
          });
          res.on('end', () => {
            this.ended ??= 'closed by the node';
          });
          res.on('error', (e) => {
            this.ended ??= e.message;
          });
        },
      );
      req.on('error', (e) => {
        this.ended ??= e.message;
        if (!started) {
          clearTimeout(timer);
          reject(e);
        }
      });
      this.req = req;
    });
  }

  close(): void {
    this.ended ??= 'closed here';
    this.req?.destroy();
  }

  private block(block: string): void {
    let id = -1;
    let type: string | null = null;
    let data = '';
    for (const line of block.split('\n')) {
      if (line.startsWith('id: ')) id = Number(line.slice(4));
      else if (line.startsWith('event: ')) type = line.slice(7);
      else if (line.startsWith('data: ')) data = line.slice(6);
    }
    if (type === 'put' || type === 'delete') this.onEvent(id, type, data);
    else if (type === 'dropped' || type === 'compacted') this.ended = type;
  }
}

// ---------------------------------------------------------------------------------------------
// The watcher worker: many streams, counted per phase, in a thread of its own so that reading
// them does not delay the writer's clock in the main thread.

type ToWorker =
  | {
      readonly kind: 'open';
      readonly endpoints: readonly string[];
      readonly count: number;
      readonly prefix: string;
    }
  | { readonly kind: 'phase'; readonly fromIndex: number; readonly record: boolean }
  | { readonly kind: 'total' }
  | { readonly kind: 'waitFor'; readonly index: number; readonly timeoutMs: number }
  | { readonly kind: 'summary'; readonly acks: Float64Array }
  | { readonly kind: 'close' };

interface Opened {
  readonly opened: number;
  readonly failed: readonly string[];
  readonly ms: number;
}

interface Total {
  /** Events received in this phase by all watchers. */
  readonly events: number;
  readonly perNode: readonly number[];
}

interface CaughtUp {
  readonly ms: number;
  /** Open watchers that had not reached the index when the wait ended. */
  readonly behind: number;
}

interface Latency {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

/** A phase as the watchers saw it. */
interface PhaseSummary {
  readonly events: number;
  readonly perNode: readonly number[];
  /** Watchers still open at the end of the phase / ended by the node, by how. */
  readonly open: number;
  readonly ended: Readonly<Record<string, number>>;
  /** Watchers whose events (count and sum of indexes) were not exactly the expected ones. */
  readonly wrong: number;
  readonly minCount: number;
  readonly maxCount: number;
  /** Events with an index at or below the one before (a repeat, or out of order). */
  readonly outOfOrder: number;
  /** From the put's acknowledgement (an event that came first counts 0), and from its send; ms. */
  readonly fromAck: Latency | null;
  readonly fromSend: Latency | null;
  /** Per node: from the acknowledgement. */
  readonly fromAckPerNode: readonly (Latency | null)[];
  /** Events that arrived before the writer had the put's answer. */
  readonly beforeAck: number;
}

interface Tally {
  readonly node: number;
  readonly stream: WatchStream;
  count: number;
  sum: number;
  last: number;
}

function latencyOf(h: Histogram): Latency | null {
  if (h.count === 0) return null;
  return { count: h.count, p50: h.quantile(0.5) / 1000, p99: h.quantile(0.99) / 1000, max: h.max / 1000 };
}

function watcherWorker(): void {
  const port = parentPort!;
  const tallies: Tally[] = [];
  let fromIndex = 0;
  let recording = false;
  /** index, arrival ms, node: one triple per event received while recording. */
  let arrivals: number[] = [];
  let outOfOrder = 0;

  const onEvent = (t: Tally, index: number): void => {
    if (index < fromIndex) return;
    if (index <= t.last) outOfOrder++;
    t.count++;
    t.sum += index;
    t.last = index;
    if (recording) arrivals.push(index, nowMs(), t.node);
  };

  const reply = (seq: number, body: unknown): void => port.postMessage({ seq, body });

  port.on('message', (m: { seq: number; msg: ToWorker }) => {
    const { seq, msg } = m;
    switch (msg.kind) {
      case 'open': {
        const t0 = nowMs();
        const failed: string[] = [];
        const opening: Promise<void>[] = [];
        for (let i = 0; i < msg.count; i++) {
          const node = i % msg.endpoints.length;
          // The stream's callback runs only once it is open, after `tally` is set.
          const stream = new WatchStream(msg.endpoints[node]!, msg.prefix, (index) => onEvent(tally, index));
          const tally: Tally = { node, stream, count: 0, sum: 0, last: 0 };
          tallies.push(tally);
          opening.push(stream.open(30_000).catch((e: unknown) => void failed.push(messageOf(e))));
        }
        void Promise.all(opening).then(() =>
          reply(seq, { opened: msg.count - failed.length, failed: failed.slice(0, 5), ms: nowMs() - t0 }),
        );
        return;
      }
      case 'phase':
        fromIndex = msg.fromIndex;
        recording = msg.record;
        arrivals = [];
        outOfOrder = 0;
        for (const t of tallies) {
          t.count = 0;
          t.sum = 0;
          t.last = 0;
        }
        reply(seq, {});
        return;
      case 'total':
        reply(seq, totalOf(tallies));
        return;
      case 'waitFor': {
        const t0 = nowMs();
        const behind = () => tallies.filter((t) => t.stream.ended === null && t.last < msg.index).length;
        const check = (): void => {
          const b = behind();
          if (b === 0 || nowMs() - t0 > msg.timeoutMs) reply(seq, { ms: nowMs() - t0, behind: b });
          else setTimeout(check, 5);
        };
        check();
        return;
      }
      case 'summary':
        reply(seq, summarise(tallies, msg.acks, arrivals, outOfOrder));
        return;
      case 'close':
        for (const t of tallies.splice(0)) t.stream.close();
        reply(seq, {});
        return;
    }
  });
}

function totalOf(tallies: readonly Tally[]): Total {
  const perNode = [0, 0, 0];
  let events = 0;
  for (const t of tallies) {
    perNode[t.node] = (perNode[t.node] ?? 0) + t.count;
    events += t.count;
  }
  return { events, perNode };
}

/**
 * `acks`: triples (index, sent ms, acknowledged ms) of the puts of a paced phase — then every
 * watcher must have exactly those indexes — or, for a phase driven by `raftkv bench`, the single
 * triple (0, expected count, 0): every watcher must have that many events (-1: a put failed, so
 * the count is not known exactly), and all the same ones.
 */
function summarise(
  tallies: readonly Tally[],
  acks: Float64Array,
  arrivals: readonly number[],
  outOfOrder: number,
): PhaseSummary {
  const sent = new Map<number, number>();
  const acked = new Map<number, number>();
  let expectCount = 0;
  let expectSum = 0;
  const paced = !(acks.length === 3 && acks[0] === 0);
  if (paced) {
    for (let i = 0; i < acks.length; i += 3) {
      sent.set(acks[i]!, acks[i + 1]!);
      acked.set(acks[i]!, acks[i + 2]!);
      expectCount++;
      expectSum += acks[i]!;
    }
  } else {
    expectCount = acks[1]!;
  }
  const ended: Record<string, number> = {};
  let open = 0;
  let wrong = 0;
  let minCount = Number.POSITIVE_INFINITY;
  let maxCount = 0;
  const sums = new Set<number>();
  for (const t of tallies) {
    if (t.stream.ended !== null) {
      ended[t.stream.ended] = (ended[t.stream.ended] ?? 0) + 1;
      continue;
    }
    open++;
    minCount = Math.min(minCount, t.count);
    maxCount = Math.max(maxCount, t.count);
    sums.add(t.sum);
    if ((expectCount >= 0 && t.count !== expectCount) || (paced && t.sum !== expectSum)) wrong++;
  }
  // Without the indexes, watchers that agree with each other on count and sum got the same events.
  if (!paced && (sums.size > 1 || minCount !== maxCount)) wrong = Math.max(wrong, 1);

  const fromAck = new Histogram();
  const fromSend = new Histogram();
  const perNode = [new Histogram(), new Histogram(), new Histogram()];
  let beforeAck = 0;
  for (let i = 0; i < arrivals.length; i += 3) {
    const a = acked.get(arrivals[i]!);
    const s = sent.get(arrivals[i]!);
    if (a === undefined || s === undefined) continue;
    const d = arrivals[i + 1]! - a;
    if (d < 0) beforeAck++;
    fromAck.record(Math.max(0, d) * 1000);
    perNode[arrivals[i + 2]!]?.record(Math.max(0, d) * 1000);
    fromSend.record((arrivals[i + 1]! - s) * 1000);
  }
  const { events, perNode: perNodeEvents } = totalOf(tallies);
  return {
    events,
    perNode: perNodeEvents,
    open,
    ended,
    wrong,
    minCount: open === 0 ? 0 : minCount,
    maxCount,
    outOfOrder,
    fromAck: latencyOf(fromAck),
    fromSend: latencyOf(fromSend),
    fromAckPerNode: perNode.map(latencyOf),
    beforeAck,
  };
}

if (!isMainThread) {
  watcherWorker();
} else {
  await mainThread();
}

// ---------------------------------------------------------------------------------------------
// The main thread

async function mainThread(): Promise<void> {
  const parts = ['watch', 'txn', 'lease'] as const;
  type Part = (typeof parts)[number];
  const usage = [
    'usage: node dist/bench/data-api.js [--parts watch,txn,lease] [--duration 8s] [--watchers 1000]',
    '         [--watch-rate 10,100] [--write-clients 16] [--txn-clients 1,16,64] [--leases 10000]',
    '         [--lease-ttl 30] [--value-size 64] [--keyspace 10000] [--out FILE] [--json]',
  ].join('\n');

  function parseOptions() {
    const { values } = parseArgs({
      options: {
        parts: { type: 'string', default: parts.join(',') },
        duration: { type: 'string', default: '8s' },
        watchers: { type: 'string', default: '1000' },
        'watch-rate': { type: 'string', default: '10,100' },
        'write-clients': { type: 'string', default: '16' },
        'txn-clients': { type: 'string', default: '1,16,64' },
        leases: { type: 'string', default: '10000' },
        'lease-ttl': { type: 'string', default: '30' },
        'value-size': { type: 'string', default: '64' },
        keyspace: { type: 'string', default: '10000' },
        out: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', default: false },
      },
    });
    const chosen = values.parts.split(',').map((s) => s.trim());
    for (const p of chosen) {
      if (!(parts as readonly string[]).includes(p))
        throw new Error(`--parts: some of ${parts.join(', ')}, got "${p}"`);
    }
    return {
      help: values.help,
      out: values.out,
      json: values.json,
      parts: chosen as Part[],
      durationMs: parseDuration(values.duration, '--duration', { minMs: 1000 }),
      watchers: parseCount(values.watchers, '--watchers', 1),
      watchRates: parseList(values['watch-rate'], '--watch-rate'),
      writeClients: parseCount(values['write-clients'], '--write-clients', 1),
      txnClients: parseList(values['txn-clients'], '--txn-clients'),
      leases: parseCount(values.leases, '--leases', 1),
      leaseTtl: parseCount(values['lease-ttl'], '--lease-ttl', 3),
      valueSize: parseCount(values['value-size'], '--value-size', 1),
      keyspace: parseCount(values.keyspace, '--keyspace', 1),
    };
  }

  const flags = parseFlags('data-api', usage, parseOptions);
  const { durationMs, valueSize, keyspace } = flags;
  const keySize = 16;
  const value = 'v'.repeat(valueSize);
  const reaper = new Reaper();

  // -------------------------------------------------------------------------------------------
  // HTTP to the nodes: keep-alive connections, answers read whole

  interface Target {
    readonly host: string;
    readonly port: number;
    readonly agent: http.Agent;
  }

  const targetOf = (endpoint: string, maxSockets: number): Target => ({
    ...hostPort(endpoint),
    agent: new http.Agent({ keepAlive: true, maxSockets }),
  });

  /** One request; resolves with the status and body, or rejects with the connection's error code. */
  function call(
    t: Target,
    method: string,
    path: string,
    body?: string,
    timeoutMs = 10_000,
  ): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = {};
      if (body !== undefined) {
        headers['content-type'] = 'application/json';
        headers['content-length'] = Buffer.byteLength(body);
      }
      const req = http.request(
        { host: t.host, port: t.port, method, path, agent: t.agent, headers, timeout: timeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }),
          );
          res.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
      req.on('error', (e: NodeJS.ErrnoException) => reject(new Error(e.code ?? e.message)));
      req.end(body);
    });
  }

  const indexOf = (text: string): number => {
    const o = JSON.parse(text) as { index?: unknown };
    if (typeof o.index !== 'number') throw new Error(`no index in ${text.slice(0, 200)}`);
    return o.index;
  };

  // -------------------------------------------------------------------------------------------
  // Clusters, CPU, memory

  interface Started {
    readonly cluster: ProcessCluster;
    readonly leader: string;
    readonly leaderEndpoint: string;
  }

  async function startCluster(what: string): Promise<Started> {
    log(`\n${what}: starting 3 nodes...`);
    // The node's own timing defaults (an empty timing passes no timing flags).
    const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
    reaper.clusters.add(cluster);
    const leader = await cluster.waitForLeader(cluster.ids, 30_000);
    log(`  leader ${leader}`);
    return { cluster, leader, leaderEndpoint: endpointOf(cluster, leader) };
  }

  async function stopCluster(s: Started): Promise<void> {
    await s.cluster.cleanup();
    reaper.clusters.delete(s.cluster);
  }

  /** The leader must not have changed during a part: its numbers would mean something else. */
  async function sameLeader(s: Started): Promise<void> {
    const now = await s.cluster.waitForLeader(s.cluster.ids, 30_000);
    if (now !== s.leader) throw new Error(`the leader changed from ${s.leader} to ${now} during the run`);
  }

  /** Write system calls (write, writev, sendmsg...) of a process so far: /proc/PID/io `syscw`, or NaN. */
  function writeCalls(pid: number | undefined): number {
    if (pid === undefined) return Number.NaN;
    try {
      const m = /^syscw:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
      return m === null ? Number.NaN : Number(m[1]);
    } catch {
      return Number.NaN;
    }
  }

  interface Usage {
    /** CPU % of one core per node, in cluster.ids order. */
    readonly nodes: number[];
    /** CPU % of this process (its watcher thread included). */
    readonly self: number;
    /** Write system calls per second per node. */
    readonly writes: number[];
    /** The snapshots the leader took meanwhile (each stalls its writes a little): `–` or `N (ms each)`. */
    readonly snapshots: string;
  }

  /** What the nodes used from now until the returned function is called. */
  function meter(s: Started): () => Usage {
    const { cluster } = s;
    const pids = cluster.ids.map((id) => cluster.node(id).pid);
    const before = pids.map((p) => cpuSeconds(p));
    const writes0 = pids.map((p) => writeCalls(p));
    const self0 = cpuTimes('self')?.[0] ?? Number.NaN;
    const snaps0 = cluster.node(s.leader).lines('snapshot taken').length;
    const t0 = performance.now();
    return () => {
      const secs = (performance.now() - t0) / 1000;
      const snaps = cluster.node(s.leader).lines('snapshot taken').slice(snaps0);
      const ms = snaps.map((l) => /\bms=(\d+)/.exec(l)?.[1] ?? '?');
      return {
        nodes: pids.map((p, i) => ((cpuSeconds(p) - before[i]!) / secs) * 100),
        self: (((cpuTimes('self')?.[0] ?? Number.NaN) - self0) / secs) * 100,
        writes: pids.map((p, i) => (writeCalls(p) - writes0[i]!) / secs),
        snapshots: snaps.length === 0 ? '–' : `${snaps.length} (${ms.join(', ')} ms)`,
      };
    };
  }

  const rssOf = (cluster: ProcessCluster): number[] => cluster.ids.map((id) => rssMiB(cluster.node(id).pid));

  const summary = (b: BenchJson): string =>
    `${b.throughput.toFixed(0)} puts/s, p50 ${fmtMs(b.latency.all.p50Ms)} ms, p99 ${fmtMs(b.latency.all.p99Ms)} ms, errors ${errorsOf(b)}`;

  // -------------------------------------------------------------------------------------------
  // 1. Watch fan-out

  interface Paced {
    readonly rate: number;
    readonly acked: number;
    readonly errors: Record<string, number>;
    readonly put: Latency | null;
    /** (index, sent ms, acked ms) per acknowledged put. */
    readonly acks: Float64Array;
  }

  /**
   * Puts to `t` at `rate` a second for `ms`, each sent at its time whatever the others do (at most
   * 256 in flight), keys of the watched prefix in turn.
   */
  async function pacedPuts(t: Target, rate: number, ms: number, firstKey: number): Promise<Paced> {
    const total = Math.max(1, Math.round((rate * ms) / 1000));
    const acks: number[] = [];
    const errors: Record<string, number> = {};
    const h = new Histogram();
    let inFlight = 0;
    const running: Promise<void>[] = [];
    const t0 = nowMs();
    for (let i = 0; i < total; i++) {
      if (reaper.stopping) throw new Error('interrupted');
      const due = t0 + (i * 1000) / rate;
      const wait = due - nowMs();
      if (wait > 1) await pause(wait);
      if (inFlight >= 256) {
        errors['not sent: 256 in flight'] = (errors['not sent: 256 in flight'] ?? 0) + 1;
        continue;
      }
      inFlight++;
      const body = JSON.stringify({ key: keyOf((firstKey + i) % keyspace, keySize), value });
      const sent = nowMs();
      running.push(
        call(t, 'POST', '/kv', body)
          .then((r) => {
            const at = nowMs();
            if (r.status !== 200) {
              errors[`http ${r.status}`] = (errors[`http ${r.status}`] ?? 0) + 1;
              return;
            }
            acks.push(indexOf(r.text), sent, at);
            h.record((at - sent) * 1000);
          })
          .catch((e: unknown) => {
            errors[messageOf(e)] = (errors[messageOf(e)] ?? 0) + 1;
          })
          .finally(() => inFlight--),
      );
    }
    await Promise.all(running);
    return {
      // The pace held, over the time asked (the last answers come a little after it).
      rate: acks.length / 3 / (ms / 1000),
      acked: acks.length / 3,
      errors,
      put: latencyOf(h),
      acks: Float64Array.from(acks),
    };
  }

  interface WatchCase {
    /** What loaded the cluster: `paced puts, 100/s`, `puts, 16 clients`, `linearizable gets, 16 clients`. */
    readonly load: string;
    readonly op: 'put' | 'get';
    /** The watchers open, and what they watch. */
    readonly watchers: string;
    readonly opsPerSecond: number;
    readonly p50: number;
    readonly p99: number;
    readonly errors: string;
    readonly nodeCpu: readonly number[];
    /** This script (its watcher thread included) and the `raftkv bench` child, if any. */
    readonly generatorCpu: number;
    /** With watchers on the written prefix: what they saw. */
    readonly seen: PhaseSummary | null;
    /** Events received per second by all watchers (and per node), over the writing. */
    readonly eventsPerSecond: number;
    readonly perNodePerSecond: readonly number[];
    /** After the writer stopped, until every open watcher had the last put. */
    readonly catchUpMs: number;
    /** Node-side: GET /debug `watchers.eventsSent` growth per second, per node. */
    readonly nodeSentPerSecond: readonly number[];
    /** Write system calls per second, per node. */
    readonly writesPerSecond: readonly number[];
    readonly snapshots: string;
  }

  interface WatchResult {
    readonly ids: readonly string[];
    readonly leader: string;
    readonly watchersOpened: number;
    readonly openMs: number;
    readonly rssNone: readonly number[];
    readonly rssIdle: readonly number[];
    /** VmHWM of each node at the end of the part. */
    readonly rssPeak: readonly number[];
    readonly cases: readonly WatchCase[];
  }

  async function watchPart(): Promise<WatchResult> {
    const s = await startCluster('watch fan-out');
    const { cluster, leaderEndpoint } = s;
    const endpoints = cluster.ids.map((id) => endpointOf(cluster, id));
    // Spread loads deal their clients round the followers first, as bench:compare does.
    const spread = [...cluster.ids.filter((id) => id !== s.leader), s.leader].map((id) =>
      endpointOf(cluster, id),
    );
    const writer = targetOf(leaderEndpoint, 256);
    const worker = new Worker(new URL(import.meta.url));
    reaper.after(() => worker.terminate().then(() => undefined));
    let seq = 0;
    const waiting = new Map<number, (body: unknown) => void>();
    worker.on('message', (m: { seq: number; body: unknown }) => {
      waiting.get(m.seq)?.(m.body);
      waiting.delete(m.seq);
    });
    const failure = new Promise<never>((_, reject) => {
      worker.once('error', reject);
    });
    void failure.catch(() => {});
    const ask = <T>(msg: ToWorker, transfer: ArrayBuffer[] = []): Promise<T> => {
      const n = ++seq;
      const answer = new Promise<T>((resolve) => waiting.set(n, (b) => resolve(b as T)));
      worker.postMessage({ seq: n, msg }, transfer);
      return Promise.race([answer, failure]);
    };
    const sent = async (): Promise<number[]> =>
      (await cluster.debugAll(cluster.ids)).map(
        (d) => (d.watchers as { eventsSent?: number } | undefined)?.eventsSent ?? 0,
      );
    const commitIndex = async (): Promise<number> => (await cluster.debug(s.leader)).commitIndex;
    const cases: WatchCase[] = [];
    let nextKey = 0;
    /** Watchers open on the written prefix: the cases check what they saw. */
    let watching = 0;
    let watchers = '0';

    const open = async (prefix: string): Promise<Opened> => {
      log(`  opening ${flags.watchers} watchers on prefix "${prefix}" over the 3 nodes...`);
      const o = await ask<Opened>({ kind: 'open', endpoints, count: flags.watchers, prefix });
      log(
        `    ${o.opened} open in ${o.ms.toFixed(0)} ms${o.failed.length > 0 ? `; failed: ${o.failed.join('; ')}` : ''}`,
      );
      if (o.opened === 0) throw new Error('no watcher could be opened');
      return o;
    };

    /** Runs `load` and adds a case: its rate, CPU, and what the watchers of the prefix saw. */
    const measure = async (
      label: string,
      op: 'put' | 'get',
      load: () => Promise<{
        rate: number;
        p50: number;
        p99: number;
        errors: string;
        generatorCpu: number;
        /** The writes the watchers must have seen: see summarise(). */
        expect: () => Promise<{ acks: Float64Array; last: number }>;
      }>,
    ): Promise<void> => {
      log(`  ${label}, ${watchers} watchers, ${durationMs / 1000} s...`);
      const from = (await commitIndex()) + 1;
      const recording = watching > 0 && op === 'put';
      if (recording) await ask({ kind: 'phase', fromIndex: from, record: true });
      const sent0 = await sent();
      const cpu = meter(s);
      const t0 = nowMs();
      const r = await load();
      const writing = (nowMs() - t0) / 1000;
      let seen: PhaseSummary | null = null;
      let catchUpMs = 0;
      let eventsPerSecond = Number.NaN;
      let perNodePerSecond: number[] = [];
      if (recording) {
        const during = await ask<Total>({ kind: 'total' });
        const { acks, last } = await r.expect();
        const caught = await ask<CaughtUp>({ kind: 'waitFor', index: last, timeoutMs: 120_000 });
        catchUpMs = caught.ms;
        // Those still behind show as watchers with other events than expected.
        if (caught.behind > 0) log(`    ${caught.behind} open watchers never had the last put (120 s)`);
        seen = await ask<PhaseSummary>({ kind: 'summary', acks }, [acks.buffer as ArrayBuffer]);
        eventsPerSecond = during.events / writing;
        perNodePerSecond = during.perNode.map((x) => x / writing);
      }
      const used = cpu();
      const wall = (nowMs() - t0) / 1000;
      const sent1 = await sent();
      const c: WatchCase = {
        load: label,
        op,
        watchers,
        opsPerSecond: r.rate,
        p50: r.p50,
        p99: r.p99,
        errors: r.errors,
        nodeCpu: used.nodes,
        generatorCpu: used.self + r.generatorCpu,
        seen,
        eventsPerSecond,
        perNodePerSecond,
        catchUpMs,
        nodeSentPerSecond: sent1.map((x, i) => (x - sent0[i]!) / wall),
        writesPerSecond: used.writes,
        snapshots: used.snapshots,
      };
      cases.push(c);
      logCase(c);
    };

    const paced = (rate: number) =>
      measure(`paced puts, ${rate}/s`, 'put', async () => {
        const p = await pacedPuts(writer, rate, durationMs, nextKey);
        nextKey += Math.round((rate * durationMs) / 1000);
        return {
          rate: p.rate,
          p50: p.put?.p50 ?? Number.NaN,
          p99: p.put?.p99 ?? Number.NaN,
          errors: errorsText(p.errors),
          generatorCpu: 0,
          expect: async () => {
            let last = 0;
            for (let i = 0; i < p.acks.length; i += 3) last = Math.max(last, p.acks[i]!);
            return { acks: p.acks.slice(), last };
          },
        };
      });

    const generated = (op: 'put' | 'get') =>
      measure(
        `${op === 'put' ? 'puts to the leader' : 'linearizable gets over the 3 nodes'}, ${flags.writeClients} clients`,
        op,
        async () => {
          const b = await runLinearizable(reaper, {
            target: 'raftkv',
            endpoints: op === 'put' ? [leaderEndpoint] : spread,
            op,
            clients: flags.writeClients,
            durationMs,
            keySize,
            valueSize,
            keyspace,
          });
          return {
            rate: b.throughput,
            p50: b.latency.all.p50Ms,
            p99: b.latency.all.p99Ms,
            errors: errorsOf(b),
            generatorCpu: b.benchCpuPercent,
            expect: async () => {
              // One more put to a watched key after all of the generator's: once a watcher has it, it
              // has everything before it. A failed put may still have been applied: then the count
              // is not known exactly (-1), only that every watcher must have the same events.
              const marker = await call(writer, 'POST', '/kv', JSON.stringify({ key: 'k~end', value }));
              if (marker.status !== 200) throw new Error(`marker put: ${marker.status} ${marker.text}`);
              const failed = Object.values(b.errors).reduce((x, y) => x + y, 0);
              const expected = failed === 0 ? b.requests + 1 : -1;
              return { acks: Float64Array.from([0, expected, 0]), last: indexOf(marker.text) };
            },
          };
        },
      );

    try {
      log(`  warm-up: 2 s of puts at ${flags.writeClients} clients...`);
      await runLinearizable(reaper, {
        target: 'raftkv',
        endpoints: [leaderEndpoint],
        op: 'put',
        clients: flags.writeClients,
        durationMs: 2000,
        keySize,
        valueSize,
        keyspace,
      });

      // No watcher.
      for (const rate of flags.watchRates) await paced(rate);
      await generated('put');
      await generated('get');

      await pause(3000);
      const rssNone = rssOf(cluster);
      log(`  RSS with no watcher: ${rssNone.map((x) => x.toFixed(1)).join(' / ')} MiB`);

      // Watchers of a prefix nobody writes: what open watchers cost the writes they do not concern.
      const idle = await open('idle/');
      await pause(5000);
      const rssIdle = rssOf(cluster);
      log(`  RSS with ${idle.opened} idle watchers: ${rssIdle.map((x) => x.toFixed(1)).join(' / ')} MiB`);
      watchers = `${idle.opened} on another prefix`;
      await generated('put');
      await generated('get');
      await ask({ kind: 'close' });

      // Watchers of the prefix written: the fan-out.
      await pause(1000);
      const opened = await open('k');
      watching = opened.opened;
      watchers = String(opened.opened);
      for (const rate of flags.watchRates) await paced(rate);
      await generated('put');
      await sameLeader(s);
      await ask({ kind: 'close' });
      return {
        ids: cluster.ids,
        leader: s.leader,
        watchersOpened: opened.opened,
        openMs: opened.ms,
        rssNone,
        rssIdle,
        rssPeak: cluster.ids.map((id) => peakRssMiB(cluster.node(id).pid)),
        cases,
      };
    } catch (e) {
      throw new Error(`watch: ${messageOf(e)}\n--- node output ---\n${cluster.diagnostics(20)}`, {
        cause: e,
      });
    } finally {
      await worker.terminate();
      writer.agent.destroy();
      await stopCluster(s);
    }
  }

  function errorsText(errors: Readonly<Record<string, number>>): string {
    const e = Object.entries(errors);
    return e.length === 0 ? '0' : e.map(([k, v]) => `${v} ${k}`).join(', ');
  }

  function logCase(c: WatchCase): void {
    log(
      `    ${c.opsPerSecond.toFixed(0)} ops/s, p50 ${fmtMs(c.p50)} ms, p99 ${fmtMs(c.p99)} ms, errors ${c.errors}; ` +
        `node CPU ${c.nodeCpu.map((x) => `${x.toFixed(0)}%`).join(' / ')}, generator CPU ${c.generatorCpu.toFixed(0)}%`,
    );
    if (c.seen !== null) {
      const s = c.seen;
      log(
        `    ${c.eventsPerSecond.toFixed(0)} events/s received (${c.perNodePerSecond.map((x) => x.toFixed(0)).join(' / ')}), ` +
          `all had the last ${c.catchUpMs.toFixed(0)} ms after; ${s.open} open, ended ${JSON.stringify(s.ended)}, ` +
          `${s.wrong} with other events than expected (counts ${s.minCount}..${s.maxCount}), ${s.outOfOrder} out of order; ` +
          `answered → event p50 ${fmtMs(s.fromAck?.p50 ?? Number.NaN)} p99 ${fmtMs(s.fromAck?.p99 ?? Number.NaN)} ms`,
      );
    }
  }

  // -------------------------------------------------------------------------------------------
  // 2. Transactions

  type TxnOp = 'put' | 'cas' | 'txn10';

  interface TxnCase {
    readonly op: TxnOp;
    readonly clients: number;
    readonly throughput: number;
    readonly p50: number;
    readonly p99: number;
    readonly errors: string;
    /** Transactions answered `succeeded: false` (none expected: each client owns its key). */
    readonly failedCompares: number;
    readonly leaderCpu: number;
    readonly clusterCpu: number;
    readonly selfCpu: number;
    readonly snapshots: string;
  }

  interface TxnResult {
    readonly leader: string;
    readonly cases: readonly TxnCase[];
  }

  /**
   * `clients` closed-loop clients against the leader for `durationMs`, each doing `op` over and
   * over: every request sent as soon as the one before was answered.
   */
  async function closedLoop(s: Started, op: TxnOp, clients: number, caseNo: number): Promise<TxnCase> {
    const t = targetOf(s.leaderEndpoint, clients);
    const h = new Histogram();
    const errors: Record<string, number> = {};
    let failedCompares = 0;
    let seed = caseNo * 7919 + 1;
    // A small LCG: the same keys in every run.
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const deadline = nowMs() + durationMs;

    const client = async (c: number): Promise<void> => {
      const own = `cas/${caseNo}/${c}`;
      /** The value this client last wrote to its key; null: none yet, the key is absent. */
      let last: string | null = null;
      let n = 0;
      while (nowMs() < deadline && !reaper.stopping) {
        n++;
        const next = `${n}`.padStart(valueSize, '0');
        let path = '/txn';
        let body: string;
        if (op === 'put') {
          path = '/kv';
          body = JSON.stringify({ key: keyOf(random(keyspace), keySize), value });
        } else {
          const compare =
            last === null
              ? { key: own, target: 'createIndex', op: '==', value: 0 }
              : { key: own, target: 'value', op: '==', value: last };
          const success: unknown[] = [{ put: { key: own, value: next } }];
          if (op === 'txn10') {
            const keys = new Set<string>();
            while (keys.size < 8) keys.add(keyOf(random(keyspace), keySize));
            for (const key of keys) success.push({ put: { key, value } });
          }
          success.push({ get: { key: own } });
          body = JSON.stringify({ compare: [compare], success });
        }
        const t0 = nowMs();
        try {
          const r = await call(t, 'POST', path, body);
          const ms = nowMs() - t0;
          if (r.status !== 200) {
            errors[`http ${r.status}`] = (errors[`http ${r.status}`] ?? 0) + 1;
            last = await readOwn(t, own);
            continue;
          }
          if (op !== 'put') {
            const answer = JSON.parse(r.text) as { succeeded?: unknown };
            if (answer.succeeded !== true) {
              failedCompares++;
              last = await readOwn(t, own);
              continue;
            }
            last = next;
          }
          h.record(ms * 1000);
        } catch (e) {
          errors[messageOf(e)] = (errors[messageOf(e)] ?? 0) + 1;
          last = await readOwn(t, own).catch(() => last);
        }
      }
    };

    const cpu = meter(s);
    const t0 = nowMs();
    await Promise.all(Array.from({ length: clients }, (_, c) => client(c)));
    const seconds = (nowMs() - t0) / 1000;
    const used = cpu();
    t.agent.destroy();
    const leaderAt = s.cluster.ids.indexOf(s.leader);
    return {
      op,
      clients,
      throughput: h.count / seconds,
      p50: h.quantile(0.5) / 1000,
      p99: h.quantile(0.99) / 1000,
      errors: errorsText(errors),
      failedCompares,
      leaderCpu: used.nodes[leaderAt] ?? Number.NaN,
      clusterCpu: used.nodes.reduce((a, b) => a + b, 0),
      selfCpu: used.self,
      snapshots: used.snapshots,
    };
  }

  /** The value of a client's own key now (after an answer that left it unknown). */
  async function readOwn(t: Target, key: string): Promise<string | null> {
    const r = await call(t, 'GET', `/kv/${encodeURIComponent(key)}`);
    if (r.status === 404) return null;
    if (r.status !== 200) throw new Error(`GET ${key}: ${r.status}`);
    return (JSON.parse(r.text) as { value: string }).value;
  }

  async function txnPart(): Promise<TxnResult> {
    const s = await startCluster('transactions');
    const cases: TxnCase[] = [];
    try {
      log('  warm-up: 2 s of puts at 16 clients...');
      await runLinearizable(reaper, {
        target: 'raftkv',
        endpoints: [s.leaderEndpoint],
        op: 'put',
        clients: 16,
        durationMs: 2000,
        keySize,
        valueSize,
        keyspace,
      });
      for (const clients of flags.txnClients) {
        // Plain puts before and after the transactions: how far the machine drifted meanwhile.
        for (const op of ['put', 'cas', 'txn10', 'put'] as const) {
          await pause(1000);
          log(`  ${op}, ${clients} clients, ${durationMs / 1000} s...`);
          const c = await closedLoop(s, op, clients, cases.length);
          cases.push(c);
          log(
            `    ${c.throughput.toFixed(0)}/s, p50 ${fmtMs(c.p50)} ms, p99 ${fmtMs(c.p99)} ms, errors ${c.errors}, ` +
              `failed compares ${c.failedCompares}, leader CPU ${c.leaderCpu.toFixed(0)}%`,
          );
        }
      }
      await sameLeader(s);
      return { leader: s.leader, cases };
    } catch (e) {
      throw new Error(`txn: ${messageOf(e)}\n--- node output ---\n${s.cluster.diagnostics(20)}`, {
        cause: e,
      });
    } finally {
      await stopCluster(s);
    }
  }

  // -------------------------------------------------------------------------------------------
  // 3. Lease keepalives

  interface PutCase {
    readonly name: string;
    readonly bench: BenchJson;
    readonly leaderCpu: number;
    readonly snapshots: string;
  }

  interface LeaseResult {
    readonly leader: string;
    readonly leases: number;
    readonly ttl: number;
    readonly periodS: number;
    readonly grantsPerSecond: number;
    readonly leasePutsPerSecond: number;
    readonly targetRate: number;
    readonly keepalivesPerSecond: number;
    /** Keepalive latency alone, and while 16 clients put as fast as they can. */
    readonly keepalive: Latency | null;
    readonly keepaliveUnderPuts: Latency | null;
    readonly keepaliveErrors: string;
    readonly leaderCpuKeepalive: number;
    /** Snapshots the leader took during the keepalives-alone window. */
    readonly snapshotsKeepalive: string;
    readonly clusterCpuKeepalive: number;
    readonly selfCpuKeepalive: number;
    readonly leaderCpuIdle: number;
    readonly rssBefore: number;
    readonly rssLeases: number;
    readonly rssKeepalive: number;
    readonly puts: readonly PutCase[];
    /** From the last keepalive's answer to the first and to the last key deleted. */
    readonly firstGoneMs: number;
    readonly lastGoneMs: number;
    readonly gone: number;
    /** Per lease: its key's deletion after (last keepalive sent + TTL), ms. */
    readonly late: Latency | null;
    readonly lateMin: number;
  }

  /**
   * Keepalives of every lease in turn, from lease `startAt`, evenly paced at `rate` a second (at
   * most 512 in flight), until stop() (which waits for the answers). Each answered one sets its
   * lease's lastSent / lastAcked.
   */
  function keepaliveLoop(
    t: Target,
    ids: readonly number[],
    rate: number,
    lastSent: Float64Array,
    lastAcked: Float64Array,
    startAt: number,
    errors: Record<string, number>,
  ) {
    let h = new Histogram();
    let stopped = false;
    let done = 0;
    let inFlight = 0;
    let next = startAt;
    const running = new Set<Promise<void>>();
    const loop = (async () => {
      const t0 = nowMs();
      let issued = 0;
      while (!stopped && !reaper.stopping) {
        const due = Math.floor(((nowMs() - t0) * rate) / 1000) - issued;
        for (let k = 0; k < due; k++) {
          issued++;
          if (inFlight >= 512) {
            errors['not sent: 512 in flight'] = (errors['not sent: 512 in flight'] ?? 0) + 1;
            continue;
          }
          const i = next;
          next = (next + 1) % ids.length;
          inFlight++;
          const sentAt = nowMs();
          const p = call(t, 'POST', `/leases/${ids[i]!}/keepalive`)
            .then((r) => {
              if (r.status !== 200) {
                errors[`http ${r.status}`] = (errors[`http ${r.status}`] ?? 0) + 1;
                return;
              }
              const at = nowMs();
              lastSent[i] = sentAt;
              lastAcked[i] = at;
              h.record((at - sentAt) * 1000);
              done++;
            })
            .catch((e: unknown) => {
              errors[messageOf(e)] = (errors[messageOf(e)] ?? 0) + 1;
            })
            .finally(() => {
              inFlight--;
              running.delete(p);
            });
          running.add(p);
        }
        await pause(5);
      }
    })();
    return {
      /** Keepalives answered 200 so far. */
      done: () => done,
      /** The latencies since the last take (or the start), and a fresh histogram from now. */
      take(): Histogram {
        const taken = h;
        h = new Histogram();
        return taken;
      },
      /** Where the next round starts: the lease renewed longest ago. */
      next: () => next,
      async stop(): Promise<void> {
        stopped = true;
        await loop;
        await Promise.all([...running]);
      },
    };
  }

  async function leasePart(): Promise<LeaseResult> {
    const s = await startCluster('lease keepalives');
    const { cluster, leaderEndpoint } = s;
    const leaderPid = cluster.node(s.leader).pid;
    const leaderAt = cluster.ids.indexOf(s.leader);
    const n = flags.leases;
    const ttl = flags.leaseTtl;
    const periodMs = (ttl * 1000) / 3;
    const rate = (n * 1000) / periodMs;
    const t = targetOf(leaderEndpoint, 64);
    const puts: PutCase[] = [];
    const leaseKey = (i: number): string => `lease/${String(i).padStart(8, '0')}`;
    let expiryWatch: WatchStream | null = null;

    const putCase = async (name: string): Promise<void> => {
      log(`  plain puts, 16 clients, ${name}, ${durationMs / 1000} s...`);
      const cpu = meter(s);
      const bench = await runLinearizable(reaper, {
        target: 'raftkv',
        endpoints: [leaderEndpoint],
        op: 'put',
        clients: 16,
        durationMs,
        keySize,
        valueSize,
        keyspace,
      });
      const used = cpu();
      puts.push({ name, bench, leaderCpu: used.nodes[leaderAt] ?? Number.NaN, snapshots: used.snapshots });
      log(`    ${summary(bench)}`);
    };

    try {
      log('  warm-up: 2 s of puts at 16 clients...');
      await runLinearizable(reaper, {
        target: 'raftkv',
        endpoints: [leaderEndpoint],
        op: 'put',
        clients: 16,
        durationMs: 2000,
        keySize,
        valueSize,
        keyspace,
      });
      await putCase('no lease');
      const rssBefore = rssMiB(leaderPid);

      log(`  granting ${n} leases (TTL ${ttl} s), 128 at a time...`);
      const ids = new Array<number>(n).fill(0);
      const lastSent = new Float64Array(n);
      const lastAcked = new Float64Array(n);
      let nextGrant = 0;
      const g0 = nowMs();
      await Promise.all(
        Array.from({ length: 128 }, async () => {
          while (nextGrant < n) {
            const i = nextGrant++;
            for (let attempt = 0; ; attempt++) {
              if (reaper.stopping) throw new Error('interrupted');
              const sentAt = nowMs();
              const r = await call(t, 'POST', '/leases', JSON.stringify({ ttl })).catch((e: unknown) => ({
                status: 0,
                text: messageOf(e),
              }));
              if (r.status === 200) {
                ids[i] = (JSON.parse(r.text) as { id: number }).id;
                lastSent[i] = sentAt;
                lastAcked[i] = nowMs();
                break;
              }
              // A grant whose outcome is unknown leaves at most a lease nobody renews: it expires.
              if (attempt >= 20) throw new Error(`lease grant #${i}: ${r.status} ${r.text.slice(0, 200)}`);
              await pause(20);
            }
          }
        }),
      );
      const grantsPerSecond = n / ((nowMs() - g0) / 1000);
      log(`    ${grantsPerSecond.toFixed(0)} grants/s`);

      // The keepalives start now, before the keys are written: the first leases' TTL is running.
      log(`  keepalives: every lease every ${(periodMs / 1000).toFixed(1)} s, ${rate.toFixed(0)}/s...`);
      const kaErrors: Record<string, number> = {};
      let ka = keepaliveLoop(t, ids, rate, lastSent, lastAcked, 0, kaErrors);
      const p0 = nowMs();
      await preload(
        reaper,
        leaderEndpoint,
        n,
        (i) => apiRequests.put(leaseKey(i), value, { lease: ids[i]! }),
        128,
      );
      const leasePutsPerSecond = n / ((nowMs() - p0) / 1000);
      log(`    ${n} keys with leases written, ${leasePutsPerSecond.toFixed(0)} puts/s (keepalives running)`);
      const rssLeases = rssMiB(leaderPid);

      // The keepalive load alone, over one whole round of every lease.
      const windowMs = Math.max(durationMs, periodMs);
      log(`  keepalives alone, ${(windowMs / 1000).toFixed(0)} s...`);
      const done0 = ka.done();
      ka.take();
      const cpu = meter(s);
      const w0 = nowMs();
      await pause(windowMs);
      const used = cpu();
      const alone = latencyOf(ka.take());
      const keepalivesPerSecond = (ka.done() - done0) / ((nowMs() - w0) / 1000);
      const rssKeepalive = rssMiB(leaderPid);
      log(
        `    ${keepalivesPerSecond.toFixed(0)} keepalives/s, p50 ${fmtMs(alone?.p50 ?? Number.NaN)} ms, ` +
          `p99 ${fmtMs(alone?.p99 ?? Number.NaN)} ms, leader CPU ${(used.nodes[leaderAt] ?? Number.NaN).toFixed(0)}%, ` +
          `RSS ${rssKeepalive.toFixed(1)} MiB`,
      );
      await putCase(`${n} leases, keepalives running`);
      const underPuts = latencyOf(ka.take());

      // The leases held without renewals, as long as that is safe: every lease was renewed within
      // the last round, and the puts end well before the TTL runs out.
      let leaderCpuIdle = Number.NaN;
      if (durationMs + periodMs + 5000 < ttl * 1000 * 0.9) {
        const startAt = ka.next();
        await ka.stop();
        const idleCpu = meter(s);
        await pause(2000);
        leaderCpuIdle = idleCpu().nodes[leaderAt] ?? Number.NaN;
        await putCase(`${n} leases, no keepalive`);
        ka = keepaliveLoop(t, ids, rate, lastSent, lastAcked, startAt, kaErrors);
        // A whole round of renewals before they stop for good, so that the expiries below count
        // from renewals spread over one round, as in steady running.
        await waitFor('a round of keepalives', () => ka.done() >= n, {
          timeoutMs: periodMs * 3,
          intervalMs: 20,
        });
      } else {
        log('  (leases without keepalives: skipped, the case would run too close to the TTL)');
      }

      // Drop every lease: stop renewing, and time their keys' deletion from a watch on the leader.
      const goneAt = new Float64Array(n);
      let gone = 0;
      const watch = new WatchStream(leaderEndpoint, 'lease/', (_index, type, data) => {
        if (type !== 'delete') return;
        const key = (JSON.parse(data) as { key: string }).key;
        const i = Number(key.slice('lease/'.length));
        if (goneAt[i] === 0) {
          goneAt[i] = nowMs();
          gone++;
        }
      });
      expiryWatch = watch;
      await watch.open(10_000);
      log('  keepalives stop: waiting for every lease to expire...');
      await ka.stop();
      let lastAck = 0;
      for (const x of lastAcked) lastAck = Math.max(lastAck, x);
      await waitFor(`${n} lease keys deleted`, () => gone === n || watch.ended !== null, {
        timeoutMs: ttl * 1000 + 120_000,
        intervalMs: 50,
      });
      if (gone < n) throw new Error(`expiry watch ended (${watch.ended}) with ${gone} of ${n} keys gone`);
      let first = Number.POSITIVE_INFINITY;
      let last = 0;
      const late = new Histogram();
      let lateMin = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        first = Math.min(first, goneAt[i]!);
        last = Math.max(last, goneAt[i]!);
        const d = goneAt[i]! - lastSent[i]! - ttl * 1000;
        lateMin = Math.min(lateMin, d);
        late.record(Math.max(0, d) * 1000);
      }
      log(`    last key gone ${((last - lastAck) / 1000).toFixed(2)} s after the last keepalive`);
      await sameLeader(s);
      return {
        leader: s.leader,
        leases: n,
        ttl,
        periodS: periodMs / 1000,
        grantsPerSecond,
        leasePutsPerSecond,
        targetRate: rate,
        keepalivesPerSecond,
        keepalive: alone,
        keepaliveUnderPuts: underPuts,
        keepaliveErrors: errorsText(kaErrors),
        leaderCpuKeepalive: used.nodes[leaderAt] ?? Number.NaN,
        snapshotsKeepalive: used.snapshots,
        clusterCpuKeepalive: used.nodes.reduce((a, b) => a + b, 0),
        selfCpuKeepalive: used.self,
        leaderCpuIdle,
        rssBefore,
        rssLeases,
        rssKeepalive,
        puts,
        firstGoneMs: first - lastAck,
        lastGoneMs: last - lastAck,
        gone,
        late: latencyOf(late),
        lateMin,
      };
    } catch (e) {
      throw new Error(`lease: ${messageOf(e)}\n--- node output ---\n${cluster.diagnostics(20)}`, {
        cause: e,
      });
    } finally {
      expiryWatch?.close();
      t.agent.destroy();
      await stopCluster(s);
    }
  }

  // -------------------------------------------------------------------------------------------
  // Report

  const n0 = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
  const pct = (x: number): string => (Number.isFinite(x) ? `${x.toFixed(0)}%` : '–');
  const lat = (l: Latency | null | undefined): string =>
    l === null || l === undefined ? '– / –' : `${fmtMs(l.p50)} / ${fmtMs(l.p99)}`;

  function watchReport(w: WatchResult): string[] {
    const lines: string[] = [];
    const role = (i: number) => (w.ids[i] === w.leader ? `${w.ids[i]} (leader)` : w.ids[i]!);
    lines.push(
      `### Watch fan-out (${w.watchersOpened} watchers, dealt round the 3 nodes, opened in ${n0(w.openMs)} ms)`,
    );
    lines.push('');
    lines.push(
      `| load | watchers open | ops/s | p50 / p99 ms | errors | node CPU ${w.ids.map((_, i) => role(i)).join(' / ')} | generator CPU | leader snapshots |`,
    );
    lines.push('| --- | --- | ---: | ---: | --- | ---: | ---: | ---: |');
    for (const c of w.cases) {
      lines.push(
        `| ${c.load} | ${c.watchers} | ${n0(c.opsPerSecond)} | ${fmtMs(c.p50)} / ${fmtMs(c.p99)} | ${c.errors} | ` +
          `${c.nodeCpu.map(pct).join(' / ')} | ${pct(c.generatorCpu)} | ${c.snapshots} |`,
      );
    }
    lines.push('');
    lines.push(
      `| load (${w.watchersOpened} watchers of its prefix) | events/s received | per node ${w.ids.map((_, i) => role(i)).join(' / ')} | ` +
        'put answered → event p50 / p99 ms | put sent → event p50 / p99 ms | every watcher got every event, in order | dropped / compacted | all had the last event |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    for (const c of w.cases) {
      const s = c.seen;
      if (s === null) continue;
      const got =
        s.wrong === 0 && s.outOfOrder === 0
          ? `yes: ${n0(s.minCount)} each${s.open < w.watchersOpened ? ` (${s.open} still open)` : ''}`
          : `no: ${s.wrong} watchers differ (${n0(s.minCount)}..${n0(s.maxCount)}), ${s.outOfOrder} out of order`;
      lines.push(
        `| ${c.load} | ${n0(c.eventsPerSecond)} | ${c.perNodePerSecond.map(n0).join(' / ')} | ${lat(s.fromAck)} | ` +
          `${lat(s.fromSend)} | ${got} | ${s.ended.dropped ?? 0} / ${s.ended.compacted ?? 0} | ` +
          `${n0(c.catchUpMs)} ms after the last put |`,
      );
    }
    lines.push('');
    for (const c of w.cases) {
      const s = c.seen;
      if (s === null) continue;
      lines.push(
        `- ${c.load}: the nodes' own count of events sent (GET /debug) ${c.nodeSentPerSecond.map(n0).join(' / ')} a second, ` +
          `write system calls ${c.writesPerSecond.map(n0).join(' / ')} a second` +
          (s.fromAck === null
            ? ''
            : `; ${n0(s.beforeAck)} of ${n0(s.fromAck.count)} events arrived before the writer had the put's answer ` +
              `(counted as 0 ms); answered → event per node p50 / p99 ` +
              s.fromAckPerNode.map((l, i) => `${role(i)} ${lat(l)}`).join(', ')) +
          (Object.keys(s.ended).length > 0 ? `; watchers ended: ${JSON.stringify(s.ended)}` : '') +
          '.',
      );
    }
    lines.push('');
    lines.push(
      `| node | RSS MiB, no watcher | RSS MiB, ${w.watchersOpened} idle watchers | per idle watcher KiB | peak RSS MiB (whole part) |`,
    );
    lines.push('| --- | ---: | ---: | ---: | ---: |');
    const per = Math.ceil(w.watchersOpened / w.ids.length);
    for (const [i] of w.ids.entries()) {
      const d = w.rssIdle[i]! - w.rssNone[i]!;
      lines.push(
        `| ${role(i)} | ${w.rssNone[i]!.toFixed(1)} | ${w.rssIdle[i]!.toFixed(1)} | ${((d * 1024) / per).toFixed(1)} | ` +
          `${w.rssPeak[i]!.toFixed(1)} |`,
      );
    }
    return lines;
  }

  function txnReport(t: TxnResult): string[] {
    const lines: string[] = [];
    lines.push(
      '### Transactions (closed-loop clients to the leader; cas = 1 compare, 1 put, 1 get; txn10 = 1 compare, 9 puts, 1 get; plain puts before and after them)',
    );
    lines.push('');
    lines.push(
      '| op | clients | ops/s | p50 ms | p99 ms | vs put ops/s (mean of the two) | keys written/s | errors | failed compares | leader CPU | 3 nodes CPU | generator CPU | leader snapshots |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |');
    for (const c of t.cases) {
      const puts = t.cases.filter((x) => x.op === 'put' && x.clients === c.clients);
      const put = puts.reduce((a, x) => a + x.throughput, 0) / puts.length;
      const keys = c.op === 'txn10' ? 9 : 1;
      lines.push(
        `| ${c.op} | ${c.clients} | ${n0(c.throughput)} | ${fmtMs(c.p50)} | ${fmtMs(c.p99)} | ` +
          `${puts.length === 0 || c.op === 'put' ? '–' : `${(c.throughput / put).toFixed(2)}×`} | ` +
          `${n0(c.throughput * keys)} | ${c.errors} | ${c.failedCompares} | ${pct(c.leaderCpu)} | ${pct(c.clusterCpu)} | ` +
          `${pct(c.selfCpu)} | ${c.snapshots} |`,
      );
    }
    return lines;
  }

  function leaseReport(l: LeaseResult): string[] {
    const lines: string[] = [];
    lines.push(
      `### Lease keepalives (${n0(l.leases)} leases, TTL ${l.ttl} s, each with one key, each renewed every ${l.periodS.toFixed(1)} s)`,
    );
    lines.push('');
    lines.push('| | |');
    lines.push('| --- | ---: |');
    lines.push(`| grants/s (128 in flight) | ${n0(l.grantsPerSecond)} |`);
    lines.push(`| puts with a lease/s (128 in flight, keepalives running) | ${n0(l.leasePutsPerSecond)} |`);
    lines.push(`| keepalives/s asked / sustained | ${n0(l.targetRate)} / ${n0(l.keepalivesPerSecond)} |`);
    lines.push(
      `| keepalive p50 / p99 / max ms, alone | ${lat(l.keepalive)} / ${fmtMs(l.keepalive?.max ?? Number.NaN)} |`,
    );
    lines.push(
      `| keepalive p50 / p99 / max ms, with 16 clients putting | ${lat(l.keepaliveUnderPuts)} / ${fmtMs(l.keepaliveUnderPuts?.max ?? Number.NaN)} |`,
    );
    lines.push(`| keepalive errors | ${l.keepaliveErrors} |`);
    lines.push(
      `| leader CPU: keepalives alone / leases held, none renewed | ${pct(l.leaderCpuKeepalive)} / ${pct(l.leaderCpuIdle)} |`,
    );
    lines.push(
      `| 3 nodes CPU, generator CPU (keepalives alone) | ${pct(l.clusterCpuKeepalive)}, ${pct(l.selfCpuKeepalive)} |`,
    );
    lines.push(`| leader snapshots (keepalives alone) | ${l.snapshotsKeepalive} |`);
    lines.push(
      `| leader RSS MiB: no lease / ${n0(l.leases)} leases / keepalives running | ${l.rssBefore.toFixed(1)} / ${l.rssLeases.toFixed(1)} / ${l.rssKeepalive.toFixed(1)} |`,
    );
    lines.push(
      `| last keepalive → first key gone / last key gone, s | ${(l.firstGoneMs / 1000).toFixed(2)} / ${(l.lastGoneMs / 1000).toFixed(2)} |`,
    );
    lines.push(
      `| per lease: key gone after its last keepalive's send + TTL, p50 / p99 / max ms (min) | ${lat(l.late)} / ${fmtMs(l.late?.max ?? Number.NaN)} (${fmtMs(l.lateMin)}) |`,
    );
    lines.push('');
    lines.push(
      '| plain puts, 16 clients | puts/s | p50 ms | p99 ms | max ms | errors | leader CPU | leader snapshots |',
    );
    lines.push('| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |');
    for (const p of l.puts) {
      lines.push(
        `| ${p.name} | ${n0(p.bench.throughput)} | ${fmtMs(p.bench.latency.all.p50Ms)} | ${fmtMs(p.bench.latency.all.p99Ms)} | ` +
          `${fmtMs(p.bench.latency.all.maxMs)} | ${errorsOf(p.bench)} | ${pct(p.leaderCpu)} | ${p.snapshots} |`,
      );
    }
    return lines;
  }

  // -------------------------------------------------------------------------------------------

  async function main(): Promise<void> {
    const startedAt = new Date();
    const loadStart = os.loadavg();
    log(
      `data-api: ${flags.parts.join(', ')}; ${durationMs / 1000} s per case, ${valueSize}-byte values; ` +
        `load average ${loadStart.map((x) => x.toFixed(2)).join(' ')}`,
    );
    const results: { watch?: WatchResult; txn?: TxnResult; lease?: LeaseResult } = {};
    if (flags.parts.includes('watch')) results.watch = await watchPart();
    if (flags.parts.includes('txn')) results.txn = await txnPart();
    if (flags.parts.includes('lease')) results.lease = await leasePart();
    const la = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' / ');
    const lines: string[] = [
      `Run ${startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${os.cpus().length} CPUs ` +
        `(${os.cpus()[0]?.model.trim() ?? 'unknown CPU'}), Linux ${os.release()}, Node ${process.version}; ` +
        `load average (1/5/15 min) ${la(loadStart)} at the start, ${la(os.loadavg())} at the end. One run, the ` +
        `load generator on the same machine as the three nodes. Each part on a fresh 3-node cluster on 127.0.0.1 ` +
        `(fsync on, default timing), ${durationMs / 1000} s per case, ${keySize}-byte keys, ${valueSize}-byte values.`,
      '',
    ];
    if (results.watch !== undefined) lines.push(...watchReport(results.watch), '');
    if (results.txn !== undefined) lines.push(...txnReport(results.txn), '');
    if (results.lease !== undefined) lines.push(...leaseReport(results.lease), '');
    printReport(`${lines.join('\n')}`, flags.out);
    if (flags.json) console.log(JSON.stringify({ startedAt, durationMs, valueSize, results }));
  }

  await reaper.run('data-api', main);
}
