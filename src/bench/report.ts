// Human-readable and JSON reports of a bench run.

import type { Histogram } from './histogram.js';
import type { BenchResult, BenchVia, ScrapeStats } from './load.js';

/** Which request path a run took, as the report's first line says it. */
const viaLabels: Readonly<Record<BenchVia, string>> = {
  http: 'via raw HTTP',
  client: 'via the client (ClusterClient: failover, an Idempotency-Key on every write)',
};

const ms = (us: number): string => (us / 1000).toFixed(us < 10_000 ? 2 : 1);

function latencyLine(h: Histogram): string {
  return (
    `p50 ${ms(h.quantile(0.5))}  p90 ${ms(h.quantile(0.9))}  p99 ${ms(h.quantile(0.99))}  ` +
    `p99.9 ${ms(h.quantile(0.999))}  max ${ms(h.max)}  mean ${ms(h.mean())}`
  );
}

export function formatReport(r: BenchResult): string {
  const o = r.options;
  const op = o.op.kind === 'mixed' ? `mixed (${Math.round(o.op.readRatio * 100)}% reads)` : o.op.kind;
  const lines = [
    `${o.target} bench ${viaLabels[o.via]}: ${op}, ${o.clients} clients, ${o.conns} connections, ` +
      `key ${o.keySize} B, value ${o.valueSize} B, keyspace ${o.keyspace}, ${o.consistency} reads`,
    '',
    `  Total:       ${r.elapsedS.toFixed(2)} s`,
    `  Requests:    ${r.requests} ok (${r.throughput.toFixed(1)}/s)`,
    `  Errors:      ${
      Object.keys(r.errors).length === 0
        ? 0
        : Object.entries(r.errors)
            .map(([k, v]) => `${k}: ${v}`)
            .join(', ')
    }`,
    `  Latency ms:  ${latencyLine(r.latency.all)}`,
  ];
  if (r.latency.put.count > 0 && r.latency.get.count > 0) {
    lines.push(`    puts:      ${latencyLine(r.latency.put)}`);
    lines.push(`    gets:      ${latencyLine(r.latency.get)}`);
  }
  if (r.scrapes !== undefined) lines.push(`  Metrics scrapes: ${scrapeLine(r.scrapes)}`);
  lines.push(`  Bench CPU:   ${r.benchCpuPercent.toFixed(0)}% of one core (the load generator itself)`);
  lines.push('', '  Latency histogram (ms):');
  lines.push(...histogramLines(r.latency.all));
  return lines.join('\n');
}

const interval = (ms: number): string => (ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

function bytesPerScrape(s: ScrapeStats): number {
  return s.scrapes === 0 ? 0 : Math.round(s.bytes / s.scrapes);
}

/** `30 (every 1s, 3 nodes), 0 failed, p50 2.31 ms, max 5.10 ms, 14532 B each`. */
function scrapeLine(s: ScrapeStats): string {
  const kinds = Object.entries(s.errors).map(([k, v]) => `${k}: ${v}`);
  const failed = kinds.length === 0 ? `${s.failed} failed` : `${s.failed} failed (${kinds.join(', ')})`;
  return (
    `${s.scrapes} (every ${interval(s.intervalMs)}, ${s.nodes} node${s.nodes === 1 ? '' : 's'}), ${failed}, ` +
    `p50 ${ms(s.latency.quantile(0.5))} ms, max ${ms(s.latency.max)} ms, ${bytesPerScrape(s)} B each`
  );
}

/** Ten rows, log-spaced between min and max, with bars. */
function histogramLines(h: Histogram): string[] {
  if (h.count === 0) return ['    (no successful requests)'];
  const rows = 10;
  const lo = Math.max(1, h.min);
  const hi = Math.max(lo + 1, h.max);
  const edges = Array.from({ length: rows }, (_, i) => lo * (hi / lo) ** ((i + 1) / rows));
  const counts = new Array<number>(rows).fill(0);
  for (const [edge, c] of h.buckets()) {
    const i = edges.findIndex((e) => edge <= e);
    counts[i === -1 ? rows - 1 : i]! += c;
  }
  const top = Math.max(...counts);
  return edges.map((e, i) => {
    const bar = '#'.repeat(Math.round((counts[i]! / top) * 40));
    return `    ≤ ${ms(e).padStart(8)} | ${bar} ${counts[i]}`;
  });
}

export function jsonReport(r: BenchResult): Record<string, unknown> {
  const lat = (h: Histogram) => ({
    count: h.count,
    p50Ms: h.quantile(0.5) / 1000,
    p90Ms: h.quantile(0.9) / 1000,
    p99Ms: h.quantile(0.99) / 1000,
    p999Ms: h.quantile(0.999) / 1000,
    maxMs: h.max / 1000,
    meanMs: h.mean() / 1000,
  });
  return {
    // options.via: which request path the run took.
    options: r.options,
    elapsedS: r.elapsedS,
    requests: r.requests,
    throughput: r.throughput,
    latency: { all: lat(r.latency.all), put: lat(r.latency.put), get: lat(r.latency.get) },
    errors: r.errors,
    benchCpuPercent: r.benchCpuPercent,
    ...(r.scrapes !== undefined && {
      metricsScrapes: {
        intervalMs: r.scrapes.intervalMs,
        nodes: r.scrapes.nodes,
        scrapes: r.scrapes.scrapes,
        failed: r.scrapes.failed,
        errors: r.scrapes.errors,
        latency: { p50Ms: r.scrapes.latency.quantile(0.5) / 1000, maxMs: r.scrapes.latency.max / 1000 },
        bytesPerScrape: bytesPerScrape(r.scrapes),
      },
    }),
  };
}
