// Goal: bench:keys's pure parts do what its report claims: --systems accepts raftkv and etcd (each
// once) and refuses anything else, the systems alternate which goes first per N, memory is read
// from /proc/PID/status and a /metrics text in MiB, and the report sets raftkv beside etcd with a
// raftkv / etcd ratio for RSS and restart times — and, with raftkv alone, has no etcd column.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BenchJson } from '../../bench/common.js';
import {
  heapOf,
  metricValue,
  type NodeMemory,
  parseStatusMemory,
  parseSystems,
  type RunInfo,
  report,
  type SystemResult,
  systemOrder,
} from '../../bench/keys-report.js';

test('--systems: raftkv and etcd in the order given, each once; anything else refused', () => {
  assert.deepEqual(parseSystems('raftkv,etcd'), ['raftkv', 'etcd']);
  assert.deepEqual(parseSystems('etcd, raftkv'), ['etcd', 'raftkv']);
  assert.deepEqual(parseSystems('raftkv'), ['raftkv']);
  assert.throws(() => parseSystems(''), /--systems/);
  assert.throws(() => parseSystems('raftkv,zookeeper'), /--systems.*zookeeper/);
  assert.throws(() => parseSystems('etcd,etcd'), /etcd named twice/);
});

test('the systems alternate which goes first from one N to the next', () => {
  assert.deepEqual(systemOrder(['raftkv', 'etcd'], 0), ['raftkv', 'etcd']);
  assert.deepEqual(systemOrder(['raftkv', 'etcd'], 1), ['etcd', 'raftkv']);
  assert.deepEqual(systemOrder(['raftkv', 'etcd'], 2), ['raftkv', 'etcd']);
  assert.deepEqual(systemOrder(['raftkv'], 1), ['raftkv']);
});

test('/proc/PID/status memory fields in MiB; a missing one is NaN', () => {
  const status = [
    'Name:\tnode',
    'VmPeak:\t 2000000 kB',
    'VmHWM:\t  204800 kB',
    'VmRSS:\t  102400 kB',
    'RssAnon:\t   81920 kB',
    'RssFile:\t   20480 kB',
    'Threads:\t11',
  ].join('\n');
  assert.deepEqual(parseStatusMemory(status), { rssMiB: 100, hwmMiB: 200, rssFileMiB: 20 });
  assert.ok(Number.isNaN(parseStatusMemory('VmRSS:\t 1024 kB').hwmMiB));
});

test('a /metrics sample by name, with or without labels; the heap of each system in MiB', () => {
  const raftkv = [
    '# HELP nodejs_heap_size_used_bytes Process heap size used from Node.js in bytes.',
    '# TYPE nodejs_heap_size_used_bytes gauge',
    'nodejs_heap_size_used_bytes 104857600',
    'nodejs_heap_size_total_bytes 209715200',
    'nodejs_external_memory_bytes 10485760',
    'nodejs_heap_space_size_used_bytes{space="old"} 5',
  ].join('\n');
  assert.equal(metricValue(raftkv, 'nodejs_heap_space_size_used_bytes'), 5);
  // A name that is a prefix of another is not matched by it.
  assert.equal(metricValue(raftkv, 'nodejs_heap_size'), null);
  assert.deepEqual(heapOf('raftkv', raftkv), { heapUsedMiB: 100, heapTotalMiB: 200, externalMiB: 10 });
  const etcd = 'go_memstats_heap_alloc_bytes 5.24288e+07\ngo_memstats_heap_sys_bytes 1.048576e+08\n';
  assert.deepEqual(heapOf('etcd', etcd), { heapUsedMiB: 50, heapTotalMiB: 100, externalMiB: null });
  assert.deepEqual(heapOf('raftkv', ''), { heapUsedMiB: null, heapTotalMiB: null, externalMiB: null });
});

function bench(throughput: number): BenchJson {
  return {
    elapsedS: 10,
    requests: throughput * 10,
    throughput,
    latency: { all: { count: throughput * 10, p50Ms: 5, p99Ms: 20, maxMs: 40 } },
    errors: {},
    benchCpuPercent: 30,
  };
}

function result(system: 'raftkv' | 'etcd', keys: number, rss: number, healthyMs: number): SystemResult {
  const names = system === 'raftkv' ? ['n1', 'n2', 'n3'] : ['e1', 'e2', 'e3'];
  const afterLoad = names.map(
    (name, i): NodeMemory => ({
      name,
      role: i === 0 ? 'leader' : 'follower',
      // The leader holds the most.
      rssMiB: i === 0 ? rss : rss / 2,
      hwmMiB: rss * 1.5,
      rssFileMiB: 10,
      heapUsedMiB: 1,
      heapTotalMiB: 2,
      externalMiB: system === 'raftkv' ? 3 : null,
      dataDirBytes: 1024 * 1024 * (i + 1),
    }),
  );
  return {
    system,
    keys,
    preload: { seconds: 2, rate: keys / 2, retries: 0 },
    put: bench(1000),
    get: bench(2000),
    leader: names[0]!,
    afterLoad,
    restart: {
      nodes: names.map((name) => ({ name, healthyMs, rssMiB: rss / 4, hwmMiB: rss / 4 })),
      allHealthyMs: healthyMs,
      firstGetMs: healthyMs / 2,
      firstGetNode: names[1]!,
      firstPutMs: healthyMs / 4,
      firstPutNode: names[2]!,
    },
    raftkv:
      system === 'raftkv'
        ? {
            snapshot: null,
            snapshotFile: { name: 'snap-1.snap', bytes: 2_750_000 },
            full: { index: 12_000, bytes: 2_750_000, keys, ms: 25, requestMs: 30 },
            leaderDataDirBytes: 30_000_000,
            recovery: names.map((name) => ({
              name,
              rssBeforeKillMiB: rss,
              recoveredMs: 700,
              listeningMs: 750,
              snapshotIndex: 12_000,
              walEntries: 0,
            })),
          }
        : null,
    load: 1.5,
  };
}

function info(systems: RunInfo['systems']): RunInfo {
  return {
    startedAt: new Date('2026-01-02T03:04:05Z'),
    machine: '2 CPUs (test), Linux test, Node test',
    etcdVersion: systems.includes('etcd') ? '3.4.23' : null,
    tmpdir: '/tmp',
    loadStart: [1, 1, 1],
    loadEnd: [2, 2, 2],
    systems,
    durationMs: 10_000,
    clients: 64,
    keySize: 16,
    valueSize: 256,
    preloadConcurrency: 256,
  };
}

/** The table rows of `md` whose first cells are `cells`. */
function rows(md: string, ...cells: string[]): string[][] {
  return md
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    )
    .filter((r) => cells.every((c, i) => r[i] === c));
}

test('report: raftkv beside etcd per N, with raftkv / etcd ratios for RSS and restart times', () => {
  const results = [
    result('raftkv', 10_000, 300, 2000),
    result('etcd', 10_000, 100, 1000),
    result('etcd', 100_000, 200, 4000),
    result('raftkv', 100_000, 400, 2000),
  ];
  const md = report(results, info(['raftkv', 'etcd']));
  assert.match(md, /etcd 3\.4\.23/);
  assert.match(md, /\| N \| measure \| raftkv \| etcd \| raftkv \/ etcd \|/);
  assert.deepEqual(rows(md, '10,000', 'leader RSS after the load, MiB'), [
    ['10,000', 'leader RSS after the load, MiB', '300.0', '100.0', '3.00×'],
  ]);
  assert.deepEqual(rows(md, '100,000', 'largest VmHWM after the load, MiB')[0]!.slice(2), [
    '600.0',
    '300.0',
    '2.00×',
  ]);
  assert.deepEqual(rows(md, '100,000', 'restart to all healthy, ms')[0]!.slice(2), [
    '2,000',
    '4,000',
    '0.50×',
  ]);
  assert.deepEqual(rows(md, '10,000', 'restart to first linearizable get, ms')[0]!.slice(2), [
    '1,000',
    '500',
    '2.00×',
  ]);
  assert.deepEqual(rows(md, '10,000', 'restart to first put, ms')[0]!.slice(2), ['500', '250', '2.00×']);
  assert.deepEqual(rows(md, '10,000', 'largest data dir after the load, MiB')[0]!.slice(2), [
    '3.0',
    '3.0',
    '1.00×',
  ]);
  // Every node of both systems, etcd without `external`.
  assert.equal(rows(md, '10,000', 'raftkv').length, 1 + 3);
  const e2 = rows(md, '10,000', 'etcd', 'e2')[0]!;
  assert.equal(e2[9], '–');
  assert.equal(e2[3], 'follower');
  // raftkv's own tables hold raftkv's nodes only.
  assert.equal(rows(md, '10,000', 'n1').length, 1);
  assert.equal(rows(md, '10,000', 'e1').length, 0);
  assert.match(md, /initial-election-tick-advance/);
});

test('report: raftkv alone has no etcd column and no ratio', () => {
  const md = report([result('raftkv', 10_000, 300, 2000)], info(['raftkv']));
  assert.match(md, /\| N \| measure \| raftkv \|\n/);
  assert.deepEqual(rows(md, '10,000', 'leader RSS after the load, MiB'), [
    ['10,000', 'leader RSS after the load, MiB', '300.0'],
  ]);
  assert.doesNotMatch(md, /etcd \d|raftkv \/ etcd|\| etcd \|/);
});
