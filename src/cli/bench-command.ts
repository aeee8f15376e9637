// `raftkv bench`: the load generator of src/bench/ on the command line, after etcd's benchmark
// tool. Parsing is pure (argv, env → options); running prints a progress bar on stderr and the
// report (or JSON) on stdout.

import { type BenchOp, type BenchOptions, runBench } from '../bench/load.js';
import { formatReport, jsonReport } from '../bench/report.js';
import { parseEndpoints } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  parseArgs,
  parseChoice,
  parseDurationMs,
  parseInteger,
  sourceOf,
  stringOption,
  UsageError,
} from './args.js';
import { connectionFlags, parseCredentials } from './connection-options.js';
import type { Io } from './io.js';
import { defaultEndpoints } from './kv-commands.js';

export const benchFlags: readonly FlagDef[] = [
  {
    name: 'endpoints',
    value: 'HOST:PORT,...',
    env: 'RAFTKV_ENDPOINTS',
    default: defaultEndpoints,
    help: 'nodes to load; clients are spread over them',
  },
  {
    name: 'target',
    value: 'raftkv|etcd',
    default: 'raftkv',
    help: 'API to speak (etcd: its v3 JSON gateway)',
  },
  {
    name: 'via',
    value: 'http|client',
    default: 'http',
    help: "raw HTTP requests, or the package's ClusterClient (--target raftkv)",
  },
  {
    name: 'idempotency-keys',
    help: 'raw HTTP writes carry an Idempotency-Key each, as the client sends (--via http, --target raftkv)',
  },
  { name: 'clients', value: 'N', default: '16', help: 'concurrent requests in flight' },
  { name: 'conns', value: 'N', default: 'the number of clients', help: 'keep-alive connections in all' },
  { name: 'total', value: 'N', help: 'stop after N requests (instead of --duration)' },
  { name: 'duration', value: 'DURATION', default: '10s', help: 'how long to run' },
  { name: 'key-size', value: 'BYTES', default: '16', help: 'key size' },
  { name: 'value-size', value: 'BYTES', default: '256', help: 'value size' },
  { name: 'keyspace', value: 'N', default: '100000', help: 'distinct keys used' },
  { name: 'op', value: 'put|get|mixed:R', default: 'put', help: 'operation; mixed:0.9 = 90% gets' },
  {
    name: 'consistency',
    value: 'linearizable|stale',
    default: 'linearizable',
    help: 'read consistency for gets',
  },
  {
    name: 'scrape-metrics',
    value: 'DURATION',
    help: 'GET /metrics from every endpoint this often during the run, as Prometheus would (--target raftkv)',
  },
  { name: 'json', help: 'print the result as JSON' },
  ...connectionFlags,
];

export function parseBenchOptions(argv: readonly string[], env: Env): BenchOptions & { json: boolean } {
  const args = parseArgs(argv, benchFlags);
  noMorePositionals(args, 0);
  const endpointsRaw = stringOption(args, 'endpoints', env, 'RAFTKV_ENDPOINTS') ?? defaultEndpoints;
  // host:port for http (as before), the URL for https.
  const endpoints = parseEndpoints(endpointsRaw, sourceOf(args, 'endpoints', 'RAFTKV_ENDPOINTS')).map((e) =>
    e.url === `http://${e.label}` ? e.label : e.url,
  );
  const target = parseChoice(stringOption(args, 'target') ?? 'raftkv', '--target', [
    'raftkv',
    'etcd',
  ] as const);
  const via = parseChoice(stringOption(args, 'via') ?? 'http', '--via', ['http', 'client'] as const);
  // The client speaks raftkv's API only.
  if (via === 'client' && target !== 'raftkv') {
    throw new UsageError(`--via client goes with --target raftkv, not --target ${target}`);
  }
  const idempotencyKeys = booleanOption(args, 'idempotency-keys');
  if (idempotencyKeys && (via !== 'http' || target !== 'raftkv')) {
    throw new UsageError(
      '--idempotency-keys goes with --via http --target raftkv (the client always sends keys)',
    );
  }
  // etcd's gateway has tokens of its own: --token is refused for it, RAFTKV_TOKEN left aside.
  if (target !== 'raftkv' && stringOption(args, 'token') !== undefined) {
    throw new UsageError('--token goes with --target raftkv');
  }
  const scrapeRaw = stringOption(args, 'scrape-metrics');
  // /metrics is raftkv's; etcd's differs in path and auth, and is not what this measures.
  if (scrapeRaw !== undefined && target !== 'raftkv') {
    throw new UsageError(`--scrape-metrics goes with --target raftkv, not --target ${target}`);
  }
  const { token, tls } = parseCredentials(args, env);
  const int = (name: string, def: number, min: number): number => {
    const raw = stringOption(args, name);
    return raw === undefined ? def : parseInteger(raw, `--${name}`, min);
  };
  const clients = int('clients', 16, 1);
  const totalRaw = stringOption(args, 'total');
  const durationRaw = stringOption(args, 'duration');
  if (totalRaw !== undefined && durationRaw !== undefined) {
    throw new UsageError('give --total or --duration, not both');
  }
  return {
    endpoints,
    target,
    via,
    idempotencyKeys,
    clients,
    conns: int('conns', clients, 1),
    total: totalRaw === undefined ? null : parseInteger(totalRaw, '--total', 1),
    durationS: parseDurationMs(durationRaw ?? '10s', '--duration', 100) / 1000,
    keySize: int('key-size', 16, 1),
    valueSize: int('value-size', 256, 0),
    keyspace: int('keyspace', 100_000, 1),
    op: parseOp(stringOption(args, 'op') ?? 'put'),
    consistency: parseChoice(stringOption(args, 'consistency') ?? 'linearizable', '--consistency', [
      'linearizable',
      'stale',
    ] as const),
    json: booleanOption(args, 'json'),
    ...(scrapeRaw !== undefined && { scrapeMetricsMs: parseDurationMs(scrapeRaw, '--scrape-metrics', 10) }),
    ...(token !== undefined && target === 'raftkv' && { token }),
    ...(tls !== undefined && { tls }),
  };
}

function parseOp(raw: string): BenchOp {
  if (raw === 'put' || raw === 'get') return { kind: raw };
  const m = /^mixed:(0(\.\d+)?|1(\.0+)?)$/.exec(raw);
  if (m) return { kind: 'mixed', readRatio: Number(m[1]) };
  throw new UsageError(`--op must be put, get or mixed:R with R the share of gets in [0, 1], got "${raw}"`);
}

export async function runBenchCommand(
  argv: readonly string[],
  env: Env,
  io: Io,
  tty: boolean,
): Promise<number> {
  const { json, ...options } = parseBenchOptions(argv, env);
  const goal = options.total ?? options.durationS;
  const result = await runBench({
    ...options,
    onProgress: tty
      ? (done, elapsedS) => {
          const frac = Math.min(1, options.total === null ? elapsedS / goal : done / goal);
          const bar = '='.repeat(Math.round(frac * 30)).padEnd(30);
          io.err(`\r[${bar}] ${(frac * 100).toFixed(0).padStart(3)}%  ${done} requests`);
        }
      : undefined,
  });
  if (tty) io.err('\n');
  io.out(json ? `${JSON.stringify(jsonReport(result), null, 2)}\n` : `${formatReport(result)}\n`);
  return result.requests > 0 ? 0 : 1;
}
