// bench:keys's pure parts: the --systems flag and the order the systems run in per N, the readings
// parsed from /proc/PID/status and from a Prometheus exposition, and the markdown report. Kept out
// of keys.ts (which starts clusters when imported) so that they can be tested on their own.

import { type BenchJson, errorsOf, fmtMs, type Preload, type System } from './common.js';

// ---------------------------------------------------------------------------------------------
// Flags

export const keysSystems: readonly System[] = ['raftkv', 'etcd'];

/** `--systems raftkv,etcd`: some of the systems, each once, in the order given. */
export function parseSystems(raw: string): System[] {
  const list = raw.split(',').map((s) => s.trim());
  const out: System[] = [];
  for (const s of list) {
    if (!(keysSystems as readonly string[]).includes(s)) {
      throw new Error(`--systems: a comma-separated list of ${keysSystems.join(', ')}, got "${raw}"`);
    }
    if (out.includes(s as System)) throw new Error(`--systems: ${s} named twice`);
    out.push(s as System);
  }
  return out;
}

/**
 * The order the systems run in for the `index`th N: as given for the first, reversed for the
 * next, and so on, so that drifting background load falls on both alike.
 */
export function systemOrder(systems: readonly System[], index: number): System[] {
  return index % 2 === 0 ? [...systems] : [...systems].reverse();
}

// ---------------------------------------------------------------------------------------------
// Readings

const MiB = 1024 * 1024;

export interface StatusMemory {
  /** VmRSS: resident now. */
  readonly rssMiB: number;
  /** VmHWM: the most ever resident. */
  readonly hwmMiB: number;
  /** RssFile: the part of RSS that maps files (etcd's bbolt database is mmapped: its pages count here). */
  readonly rssFileMiB: number;
}

/** The memory fields of a /proc/PID/status text in MiB (NaN for one that is missing). */
export function parseStatusMemory(text: string): StatusMemory {
  const field = (name: string): number => {
    const m = new RegExp(`^${name}:\\s+(\\d+)\\s+kB`, 'm').exec(text);
    return m === null ? Number.NaN : Number(m[1]) / 1024;
  };
  return { rssMiB: field('VmRSS'), hwmMiB: field('VmHWM'), rssFileMiB: field('RssFile') };
}

/** The value of the first sample of metric `name` in a Prometheus text exposition, or null. */
export function metricValue(text: string, name: string): number | null {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`^${escaped}(?:\\{[^}]*\\})?\\s+(\\S+)`, 'm').exec(text);
  if (m === null) return null;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : null;
}

export interface HeapMemory {
  readonly heapUsedMiB: number | null;
  readonly heapTotalMiB: number | null;
  /** Node's `external` (Buffers and other memory outside the V8 heap); null for etcd. */
  readonly externalMiB: number | null;
}

/**
 * The heap figures of a node's /metrics: for raftkv prom-client's copies of process.memoryUsage()
 * (heapUsed, heapTotal, external); for etcd Go's heap (bytes allocated and bytes the heap holds
 * from the OS), which has no `external`.
 */
export function heapOf(system: System, text: string): HeapMemory {
  const mib = (name: string): number | null => {
    const v = metricValue(text, name);
    return v === null ? null : v / MiB;
  };
  if (system === 'raftkv') {
    return {
      heapUsedMiB: mib('nodejs_heap_size_used_bytes'),
      heapTotalMiB: mib('nodejs_heap_size_total_bytes'),
      externalMiB: mib('nodejs_external_memory_bytes'),
    };
  }
  return {
    heapUsedMiB: mib('go_memstats_heap_alloc_bytes'),
    heapTotalMiB: mib('go_memstats_heap_sys_bytes'),
    externalMiB: null,
  };
}

// ---------------------------------------------------------------------------------------------
// Results

/** One node after the load (the followers caught up), before anything else. */
export interface NodeMemory extends StatusMemory, HeapMemory {
  readonly name: string;
  readonly role: 'leader' | 'follower';
  readonly dataDirBytes: number;
}

/** One node after every node was killed and started again, once it holds all N keys. */
export interface NodeRestart {
  readonly name: string;
  /** From spawn to its health probe answering healthy. */
  readonly healthyMs: number;
  readonly rssMiB: number;
  readonly hwmMiB: number;
}

export interface RestartTimes {
  readonly nodes: readonly NodeRestart[];
  readonly allHealthyMs: number;
  readonly firstGetMs: number;
  readonly firstGetNode: string;
  readonly firstPutMs: number;
  readonly firstPutNode: string;
}

/** What the leader's log says of its last automatic snapshot. */
export interface SnapshotLog {
  /** 'snapshot taken' lines on the leader in this run. */
  readonly count: number;
  readonly index: number | null;
  readonly bytes: number | null;
  readonly ms: number | null;
  readonly keys: number | null;
}

export interface FullSnapshot {
  readonly index: number;
  readonly bytes: number;
  readonly keys: number;
  readonly ms: number;
  /** Wall time of the POST, from the bench's side (includes recording it and compacting the log). */
  readonly requestMs: number;
}

/** What a raftkv node's restart says of itself. */
export interface RaftkvRecovery {
  readonly name: string;
  /** RSS just before the kill (after the snapshot of all N keys). */
  readonly rssBeforeKillMiB: number;
  /** From spawn to the log's 'starting' line (storage recovered: snapshot loaded, WAL replayed). */
  readonly recoveredMs: number | null;
  /** From spawn to the log's 'listening' line. */
  readonly listeningMs: number | null;
  /** What 'starting' says it recovered: the snapshot index and the WAL entries after it. */
  readonly snapshotIndex: number | null;
  readonly walEntries: number | null;
}

/** raftkv only: its snapshots and what each node's log says of its recovery. */
export interface RaftkvDetail {
  readonly snapshot: SnapshotLog | null;
  readonly snapshotFile: { readonly name: string; readonly bytes: number } | null;
  /** The snapshot of all N keys taken on the leader by POST /admin/snapshot after the load. */
  readonly full: FullSnapshot;
  /** The leader's data dir after that snapshot. */
  readonly leaderDataDirBytes: number;
  readonly recovery: readonly RaftkvRecovery[];
}

export interface SystemResult {
  readonly system: System;
  readonly keys: number;
  readonly preload: Preload;
  readonly put: BenchJson;
  readonly get: BenchJson;
  /** The node that led after the load. */
  readonly leader: string;
  readonly afterLoad: readonly NodeMemory[];
  readonly restart: RestartTimes;
  readonly raftkv: RaftkvDetail | null;
  /** 1-minute load average when this system's N was done. */
  readonly load: number;
}

export interface RunInfo {
  readonly startedAt: Date;
  /** CPUs, OS, Node (and etcd) of this machine, one phrase. */
  readonly machine: string;
  readonly etcdVersion: string | null;
  readonly tmpdir: string;
  readonly loadStart: readonly number[];
  readonly loadEnd: readonly number[];
  readonly systems: readonly System[];
  readonly durationMs: number;
  readonly clients: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly preloadConcurrency: number;
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtInt = (x: number | null): string =>
  x === null || Number.isNaN(x) ? '–' : Math.round(x).toLocaleString('en-US');
const fmtMiB = (x: number | null): string => (x === null || Number.isNaN(x) ? '–' : x.toFixed(1));
const ratio = (a: number, b: number): string =>
  b > 0 && Number.isFinite(a) && Number.isFinite(b) ? `${(a / b).toFixed(2)}×` : '–';
const max = (xs: readonly number[]): number => (xs.length === 0 ? Number.NaN : Math.max(...xs));

export function summary(b: BenchJson): string {
  return (
    `${b.throughput.toFixed(0)} ops/s, p50 ${fmtMs(b.latency.all.p50Ms)} ms, p99 ${fmtMs(b.latency.all.p99Ms)} ms, ` +
    `errors ${errorsOf(b)}, generator CPU ${b.benchCpuPercent.toFixed(0)}%`
  );
}

/** The measures set side by side per N, each with its unit's formatter. */
const measures: readonly {
  readonly label: string;
  readonly of: (r: SystemResult) => number;
  readonly fmt: (x: number) => string;
}[] = [
  {
    label: 'leader RSS after the load, MiB',
    of: (r) => r.afterLoad.find((x) => x.role === 'leader')?.rssMiB ?? Number.NaN,
    fmt: fmtMiB,
  },
  { label: 'largest RSS after the load, MiB', of: (r) => max(r.afterLoad.map((x) => x.rssMiB)), fmt: fmtMiB },
  {
    label: 'largest VmHWM after the load, MiB',
    of: (r) => max(r.afterLoad.map((x) => x.hwmMiB)),
    fmt: fmtMiB,
  },
  {
    label: 'largest data dir after the load, MiB',
    of: (r) => max(r.afterLoad.map((x) => x.dataDirBytes)) / (1024 * 1024),
    fmt: fmtMiB,
  },
  { label: 'restart to all healthy, ms', of: (r) => r.restart.allHealthyMs, fmt: fmtInt },
  { label: 'restart to first linearizable get, ms', of: (r) => r.restart.firstGetMs, fmt: fmtInt },
  { label: 'restart to first put, ms', of: (r) => r.restart.firstPutMs, fmt: fmtInt },
  {
    label: 'largest RSS after the restart, MiB',
    of: (r) => max(r.restart.nodes.map((x) => x.rssMiB)),
    fmt: fmtMiB,
  },
];

export function report(results: readonly SystemResult[], info: RunInfo): string {
  const la = (l: readonly number[]) => l.map((x) => x.toFixed(2)).join(' / ');
  const d = info.durationMs / 1000;
  const keyCounts = [...new Set(results.map((r) => r.keys))];
  const systems = info.systems.filter((s) => results.some((r) => r.system === s));
  const both = systems.includes('raftkv') && systems.includes('etcd');
  const etcdRun = systems.includes('etcd');
  const lines: string[] = [];
  lines.push(
    `Run ${info.startedAt.toISOString().slice(0, 16).replace('T', ' ')} UTC on ${info.machine}` +
      `${info.etcdVersion === null ? '' : `, etcd ${info.etcdVersion}`}. Load average (1/5/15 min) ` +
      `${la(info.loadStart)} at the start, ${la(info.loadEnd)} at the end. Per N and per system ` +
      `(${systems.join(', ')}${systems.length > 1 ? ', alternating which goes first' : ''}): a fresh 3-node ` +
      `cluster on 127.0.0.1 (fsync on, default timing: heartbeat 100 ms, election timeout 1 s${etcdRun ? ", etcd's default --snapshot-count" : ''}, ` +
      `data in ${info.tmpdir}), N distinct ${info.keySize}-byte keys preloaded with ` +
      `${info.preloadConcurrency} puts in flight to the leader, ${info.valueSize}-byte values; then ${d} s ` +
      `of puts at ${info.clients} clients to the leader and ${d} s of linearizable gets at ` +
      `${info.clients} clients over all three nodes, both over the N stored keys (\`raftkv bench\`` +
      `${etcdRun ? ', etcd through its v3 JSON gateway, gets with serializable: false' : ''}).`,
  );
  lines.push('');
  lines.push(
    '| N | system | preload s | preload puts/s | put ops/s | put p50 ms | put p99 ms | get ops/s | get p50 ms | get p99 ms | errors put / get |',
  );
  lines.push('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  for (const r of results) {
    lines.push(
      `| ${fmtInt(r.keys)} | ${r.system} | ${r.preload.seconds.toFixed(1)} | ${r.preload.rate.toFixed(0)} | ` +
        `${r.put.throughput.toFixed(0)} | ${fmtMs(r.put.latency.all.p50Ms)} | ${fmtMs(r.put.latency.all.p99Ms)} | ` +
        `${r.get.throughput.toFixed(0)} | ${fmtMs(r.get.latency.all.p50Ms)} | ${fmtMs(r.get.latency.all.p99Ms)} | ` +
        `${errorsOf(r.put)} / ${errorsOf(r.get)} |`,
    );
  }
  lines.push('');
  lines.push(
    'Memory and disk after the load, once every node holds all N keys (RSS = VmRSS, its peak so far ' +
      'VmHWM, from /proc); then all three nodes killed with SIGKILL and started again on the same data ' +
      'dirs, times from spawn: to every node healthy (GET /health = 200' +
      (etcdRun ? ', for etcd with `"health": "true"`' : '') +
      '), to the first linearizable get of a stored key and to the first put. ' +
      'A raftkv node does not lead until its randomised election timeout (1–2 s by default) has run ' +
      'out after recovery, so its restart times include one whole election timeout' +
      (etcdRun
        ? '; etcd fast-forwards its election ticks when it starts (--initial-election-tick-advance, ' +
          'on by default), so its first election comes sooner.'
        : '.') +
      (both ? ' Ratios are raftkv / etcd: above 1 means raftkv uses more, or takes longer.' : ''),
  );
  lines.push('');
  const header = ['N', 'measure', ...systems, ...(both ? ['raftkv / etcd'] : [])];
  lines.push(`| ${header.join(' | ')} |`);
  lines.push(`| ---: | --- | ${systems.map(() => '---:').join(' | ')}${both ? ' | ---:' : ''} |`);
  for (const n of keyCounts) {
    for (const m of measures) {
      const values = systems.map((s) => {
        const r = results.find((x) => x.keys === n && x.system === s);
        return r === undefined ? Number.NaN : m.of(r);
      });
      const cells = [fmtInt(n), m.label, ...values.map((v) => m.fmt(v))];
      if (both) cells.push(ratio(values[systems.indexOf('raftkv')]!, values[systems.indexOf('etcd')]!));
      lines.push(`| ${cells.join(' | ')} |`);
    }
  }
  lines.push('');
  lines.push(
    'Per node after the load: RSS, the part of it that maps files (RssFile: etcd mmaps its bbolt ' +
      'database, whose pages the kernel can drop and read again), VmHWM, the heap as the process ' +
      "reports it on /metrics (raftkv: V8's heap used and total and Node's external memory, as " +
      "process.memoryUsage() gives them; etcd: Go's heap allocated and held from the OS), and the " +
      'data dir (apparent size of its files' +
      (etcdRun ? "; etcd's WAL segments are preallocated at 64 MB each" : '') +
      '); after the restart: time to healthy, RSS and VmHWM once every node holds all N keys again.',
  );
  lines.push('');
  lines.push(
    '| N | system | node | role | RSS MiB | file-backed MiB | VmHWM MiB | heap used MiB | heap total MiB | external MiB | data dir MiB | restart to healthy ms | RSS after restart MiB | VmHWM after restart MiB |',
  );
  lines.push(
    '| ---: | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of results) {
    for (const x of r.afterLoad) {
      const after = r.restart.nodes.find((y) => y.name === x.name);
      lines.push(
        `| ${fmtInt(r.keys)} | ${r.system} | ${x.name} | ${x.role} | ${fmtMiB(x.rssMiB)} | ${fmtMiB(x.rssFileMiB)} | ` +
          `${fmtMiB(x.hwmMiB)} | ${fmtMiB(x.heapUsedMiB)} | ${fmtMiB(x.heapTotalMiB)} | ${fmtMiB(x.externalMiB)} | ` +
          `${fmtMiB(x.dataDirBytes / (1024 * 1024))} | ${fmtInt(after?.healthyMs ?? null)} | ` +
          `${fmtMiB(after?.rssMiB ?? null)} | ${fmtMiB(after?.hwmMiB ?? null)} |`,
      );
    }
  }
  const raftkv = results.filter((r) => r.raftkv !== null);
  if (raftkv.length > 0) lines.push('', ...raftkvSection(raftkv));
  lines.push('');
  for (const r of results) {
    const s = r.raftkv?.snapshot;
    const snap =
      r.raftkv === null
        ? ''
        : s === null || s === undefined
          ? 'no automatic snapshot on the leader; '
          : `${s.count} automatic snapshot${s.count === 1 ? '' : 's'} on the leader before the one asked for, ` +
            `the last at index ${fmtInt(s.index)}${s.keys === null ? '' : ` holding ${fmtInt(s.keys)} keys`}` +
            `${s.bytes === null ? '' : `, ${fmtInt(s.bytes)} bytes`}${s.ms === null ? '' : ` in ${fmtInt(s.ms)} ms`}; ` +
            `newest file ${r.raftkv.snapshotFile?.name ?? 'none'}; `;
    lines.push(
      `- ${fmtInt(r.keys)} keys, ${r.system}: ${snap}preload retried ${r.preload.retries} attempts; generator ` +
        `CPU put ${r.put.benchCpuPercent.toFixed(0)}%, get ${r.get.benchCpuPercent.toFixed(0)}%; first get ` +
        `answered by ${r.restart.firstGetNode}, first put by ${r.restart.firstPutNode}; load average ` +
        `${r.load.toFixed(2)} at the end.`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** raftkv's own: the snapshot of all N keys, and what each node's log says of its recovery. */
function raftkvSection(results: readonly SystemResult[]): string[] {
  const lines: string[] = [];
  lines.push(
    'raftkv: after the readings above the leader is asked for a snapshot of all N keys ' +
      '(`POST /admin/snapshot`): its data bytes, keys and ms (serialise + write, as the node reports ' +
      'it), the newest snapshot file and the leader’s whole data dir after it; that is the state ' +
      'the nodes are killed in.',
  );
  lines.push('');
  lines.push(
    '| N | snapshot keys | snapshot bytes | snapshot ms | snapshot file bytes | leader data dir bytes |',
  );
  lines.push('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    const x = r.raftkv!;
    lines.push(
      `| ${fmtInt(r.keys)} | ${fmtInt(x.full.keys)} | ${fmtInt(x.full.bytes)} | ${fmtInt(x.full.ms)} | ` +
        `${x.snapshotFile === null ? 'none' : fmtInt(x.snapshotFile.bytes)} | ${fmtInt(x.leaderDataDirBytes)} |`,
    );
  }
  lines.push('');
  lines.push(
    "raftkv per node at the restart: RSS just before the kill, what the node's `starting` line says it " +
      'recovered (snapshot index, WAL entries after it), and the times from spawn to that line (storage ' +
      'recovered), to `listening` and to GET /health = 200 (log-line times have millisecond resolution).',
  );
  lines.push('');
  lines.push(
    '| N | node | role | RSS before the kill MiB | snapshot index | WAL entries | recovered ms | listening ms | healthy ms |',
  );
  lines.push('| ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    for (const x of r.raftkv!.recovery) {
      const role = r.afterLoad.find((y) => y.name === x.name)?.role ?? '–';
      const healthy = r.restart.nodes.find((y) => y.name === x.name)?.healthyMs ?? null;
      lines.push(
        `| ${fmtInt(r.keys)} | ${x.name} | ${role} | ${fmtMiB(x.rssBeforeKillMiB)} | ${fmtInt(x.snapshotIndex)} | ` +
          `${fmtInt(x.walEntries)} | ${fmtInt(x.recoveredMs)} | ${fmtInt(x.listeningMs)} | ${fmtInt(healthy)} |`,
      );
    }
  }
  return lines;
}
