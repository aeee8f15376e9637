// What reading the metrics costs a cluster under load: one 3-node cluster (real processes on
// 127.0.0.1, the node's default timing), loaded by the generator of `raftkv bench --json` (a child
// process per case) with puts at 64 clients to the leader and linearizable gets at 64 clients
// spread over all members, each case run without and with `--scrape-metrics 1s` — every node's
// GET /metrics once a second, as a Prometheus server would — alternated (the order flips every
// round) for --rounds rounds of --duration, so that drifting background load falls on both. Puts
// load the leader alone, so the generator scrapes the leader and this script scrapes the
// followers meanwhile (the same scraper, from its own process): every node is read every second
// in both cases. Prints a markdown table — ops/s each round, best and mean, with/without — and the
// scrapes' own numbers. Not part of the tests.
//
// Every process and temp dir it starts is removed at the end, by PID, also on failure or SIGINT.
//
// Run: npm run bench:scrape -- [--rounds 3] [--duration 10s] [--clients 64] [--out FILE]
//      (builds first), or after a build: node dist/bench/scrape.js [flags]

import { parseArgs } from 'node:util';
import { MetricsScraper, type ScrapeStats } from '../src/bench/scrape.js';
import { ProcessCluster } from '../test/support/process-cluster.js';
import {
  type BenchJson,
  endpointOf,
  errorsOf,
  fmtMs,
  log,
  type Member,
  parseCount,
  parseDuration,
  parseFlags,
  printReport,
  Reaper,
  raftkvLeader,
  runGenerator,
} from './common.js';

const usage = 'usage: node dist/bench/scrape.js [--rounds 3] [--duration 10s] [--clients 64] [--out FILE]';

function parseOptions() {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      duration: { type: 'string', default: '10s' },
      clients: { type: 'string', default: '64' },
      out: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  return {
    help: values.help,
    out: values.out,
    rounds: parseCount(values.rounds, '--rounds', 1),
    durationMs: parseDuration(values.duration, '--duration'),
    clients: parseCount(values.clients, '--clients', 1),
  };
}

const { out, rounds, durationMs, clients } = parseFlags('scrape', usage, parseOptions);
const intervalMs = 1000;
const data = { keySize: 16, valueSize: 256, keyspace: 10_000 };
const reaper = new Reaper();

/** The scrapes as the generator's JSON report gives them. */
interface ScrapeJson {
  readonly nodes: number;
  readonly scrapes: number;
  readonly failed: number;
  readonly errors: Record<string, number>;
  readonly latency: { readonly p50Ms: number; readonly maxMs: number };
  readonly bytesPerScrape: number;
}

type Op = 'put' | 'get';
const ops: readonly Op[] = ['put', 'get'];
const opLabels: Readonly<Record<Op, string>> = {
  put: 'put, to the leader',
  get: 'linearizable get, spread',
};

interface Run {
  readonly op: Op;
  readonly scraped: boolean;
  readonly round: number;
  readonly throughput: number;
  readonly benchCpu: number;
  /** The generator's scrapes, and (puts) the followers' by this script; with `scraped` only. */
  readonly scrapes: readonly { readonly who: string; readonly s: ScrapeJson }[];
}

/** This script's scraper's stats in the generator's JSON shape, so both print alike. */
function scrapeJson(s: ScrapeStats): ScrapeJson {
  return {
    nodes: s.nodes,
    scrapes: s.scrapes,
    failed: s.failed,
    errors: { ...s.errors },
    latency: { p50Ms: s.latency.quantile(0.5) / 1000, maxMs: s.latency.max / 1000 },
    bytesPerScrape: s.scrapes === 0 ? 0 : Math.round(s.bytes / s.scrapes),
  };
}

async function measure(members: () => Member[], op: Op, scraped: boolean, round: number): Promise<Run> {
  const all = members().map((m) => m.endpoint);
  const leader = await raftkvLeader(members);
  // Gets as bench:compare spreads them: the followers first, the leader last.
  const endpoints = op === 'put' ? [leader] : [...all.filter((e) => e !== leader), leader];
  const others = all.filter((e) => !endpoints.includes(e));
  const flags = [
    '--target',
    'raftkv',
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
    String(data.keySize),
    '--value-size',
    String(data.valueSize),
    '--keyspace',
    String(data.keyspace),
    ...(scraped ? ['--scrape-metrics', `${intervalMs}ms`] : []),
  ];
  // The nodes the generator does not load are read from here, for as long as it runs.
  const side =
    scraped && others.length > 0
      ? new MetricsScraper({ endpoints: others, intervalMs, timeoutMs: 10_000 })
      : null;
  side?.start();
  let bench: BenchJson & { readonly metricsScrapes?: ScrapeJson };
  try {
    bench = await runGenerator(reaper, flags, durationMs);
  } finally {
    await side?.stop();
  }
  const errors = Object.values(bench.errors).reduce((a, b) => a + b, 0);
  if (errors > bench.requests * 0.01) {
    throw new Error(`${op} round ${round}: ${errorsOf(bench)} of ${bench.requests} requests`);
  }
  const scrapes: { who: string; s: ScrapeJson }[] = [];
  if (scraped) {
    if (bench.metricsScrapes === undefined) throw new Error('the generator reported no scrapes');
    scrapes.push({ who: op === 'put' ? 'the generator (leader)' : 'the generator', s: bench.metricsScrapes });
    if (side !== null) scrapes.push({ who: 'this script (followers)', s: scrapeJson(side.stats()) });
  }
  return { op, scraped, round, throughput: bench.throughput, benchCpu: bench.benchCpuPercent, scrapes };
}

const fmtRate = (n: number): string => Math.round(n).toLocaleString('en-US');
const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
const pct = (ratio: number): string => `${ratio >= 1 ? '+' : '−'}${(Math.abs(ratio - 1) * 100).toFixed(1)}%`;

function report(runs: readonly Run[]): string {
  const rates = (op: Op, scraped: boolean): number[] =>
    runs
      .filter((r) => r.op === op && r.scraped === scraped)
      .sort((a, b) => a.round - b.round)
      .map((r) => r.throughput);
  const roundCols = Array.from({ length: rounds }, (_, i) => `round ${i + 1}`);
  const lines = [
    '## Metrics scrape cost (`npm run bench:scrape`)',
    '',
    `3 nodes on 127.0.0.1, ${clients} clients, ${durationMs / 1000} s per case, ${rounds} round(s), ` +
      `without and with every node's /metrics read every ${intervalMs / 1000} s (alternated). Requests per second:`,
    '',
    `| case | scrapes | ${roundCols.join(' | ')} | best | mean |`,
    `| --- | --- | ${roundCols.map(() => '---:').join(' | ')} | ---: | ---: |`,
  ];
  for (const op of ops) {
    for (const scraped of [false, true]) {
      const xs = rates(op, scraped);
      lines.push(
        `| ${opLabels[op]} | ${scraped ? `every ${intervalMs / 1000} s` : 'none'} | ${xs.map(fmtRate).join(' | ')} | ` +
          `${fmtRate(Math.max(...xs))} | ${fmtRate(mean(xs))} |`,
      );
    }
  }
  lines.push('', '| case | with / without, best | with / without, mean |', '| --- | ---: | ---: |');
  for (const op of ops) {
    const on = rates(op, true);
    const off = rates(op, false);
    const best = Math.max(...on) / Math.max(...off);
    const avg = mean(on) / mean(off);
    lines.push(`| ${opLabels[op]} | ${best.toFixed(3)} (${pct(best)}) | ${avg.toFixed(3)} (${pct(avg)}) |`);
  }
  lines.push(
    '',
    'The scrapes of the runs with them (latency: request sent to the last byte of the body):',
    '',
    '| case | round | scraped by | nodes | scrapes | failed | p50 ms | max ms | bytes per scrape |',
    '| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  );
  for (const r of runs.filter((x) => x.scraped)) {
    for (const { who, s } of r.scrapes) {
      const failed =
        s.failed === 0
          ? '0'
          : `${s.failed} (${Object.entries(s.errors)
              .map(([k, v]) => `${v} ${k}`)
              .join(', ')})`;
      lines.push(
        `| ${opLabels[r.op]} | ${r.round} | ${who} | ${s.nodes} | ${s.scrapes} | ${failed} | ` +
          `${fmtMs(s.latency.p50Ms)} | ${fmtMs(s.latency.maxMs)} | ${fmtRate(s.bytesPerScrape)} |`,
      );
    }
  }
  const cpu = (scraped: boolean): string =>
    mean(runs.filter((r) => r.scraped === scraped).map((r) => r.benchCpu)).toFixed(0);
  lines.push(
    '',
    `Generator CPU, mean over the runs: ${cpu(false)}% of a core without scrapes, ${cpu(true)}% with ` +
      '(near 100%, the generator is the limit).',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const cluster = await ProcessCluster.create(reaper, { size: 3, timing: {} });
  reaper.clusters.add(cluster);
  const members = (): Member[] =>
    cluster.ids.map((id) => ({ name: id, endpoint: endpointOf(cluster, id), pid: cluster.node(id).pid }));
  await cluster.waitForLeader(cluster.ids, 30_000);
  log(
    `raftkv: 3 nodes, leader ${await raftkvLeader(members)}; ${rounds} round(s) of ${durationMs / 1000} s ` +
      `per case at ${clients} clients, without and with scrapes every ${intervalMs / 1000} s`,
  );
  // The gets read keys that are there, and both cases start warm (not reported).
  for (const op of ops) await measure(members, op, false, 0);
  const runs: Run[] = [];
  for (let round = 1; round <= rounds; round++) {
    for (const op of ops) {
      // Alternated, the order flipped every round, so drift falls on both sides.
      for (const scraped of round % 2 === 1 ? [false, true] : [true, false]) {
        const run = await measure(members, op, scraped, round);
        runs.push(run);
        log(
          `round ${round}: ${opLabels[op]}, ${scraped ? 'with scrapes' : 'without'}: ${fmtRate(run.throughput)}/s` +
            run.scrapes.map(({ s }) => `; ${s.scrapes} scrapes, ${s.failed} failed`).join(''),
        );
      }
    }
  }
  printReport(report(runs), out);
}

await reaper.run('scrape', main);
