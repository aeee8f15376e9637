// The load generator behind `raftkv bench` (after etcd's benchmark tool): a fixed number of
// clients, each with one request in flight, over a bounded pool of keep-alive connections, for a
// total number of requests or a duration. It talks to raftkv's HTTP API or to etcd's v3 JSON
// gateway, so both can be measured by the same code in one run — by raw HTTP requests of its own
// (below), or for raftkv through the package's client (client-path.ts), so that the client's
// cost can be measured against the raw path. Latencies go into a histogram per operation; errors
// are counted by kind; the generator reports its own CPU use so a reader can tell whether it was
// the bottleneck.

import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { checkClientTls } from '../client/index.js';
import { Prng } from '../random.js';
import { clientPath } from './client-path.js';
import { type AgentEndpoint, agentEndpoint } from './endpoint.js';
import { Histogram } from './histogram.js';
import type { BenchOptions, RequestPath } from './options.js';
import { MetricsScraper, type ScrapeStats } from './scrape.js';

export type { BenchOp, BenchOptions, BenchTarget, BenchVia, RequestPath, Send } from './options.js';
export type { ScrapeStats } from './scrape.js';

/** What a run was asked to do; the credentials are left out (a report must not show them). */
export type BenchSettings = Omit<BenchOptions, 'onProgress' | 'token' | 'tls'>;

export interface BenchResult {
  readonly options: BenchSettings;
  readonly elapsedS: number;
  readonly requests: number;
  readonly throughput: number;
  readonly latency: { readonly all: Histogram; readonly put: Histogram; readonly get: Histogram };
  readonly errors: Readonly<Record<string, number>>;
  /** CPU the generator itself used, in percent of one core (its scrapes included). */
  readonly benchCpuPercent: number;
  /** With scrapeMetricsMs: the /metrics scrapes made during the run. */
  readonly scrapes?: ScrapeStats;
}

type Endpoint = AgentEndpoint;

export async function runBench(o: BenchOptions): Promise<BenchResult> {
  if (o.endpoints.length === 0) throw new Error('no endpoints');
  if (o.via === 'client' && o.target !== 'raftkv') throw new Error('via client goes with target raftkv');
  if (o.scrapeMetricsMs !== undefined && o.target !== 'raftkv') {
    throw new Error('scrapeMetricsMs goes with target raftkv');
  }
  const perEndpoint = Math.max(1, Math.ceil(o.conns / o.endpoints.length));
  if (o.tls !== undefined) checkClientTls(o.tls);
  const path = o.via === 'client' ? clientPath(o, perEndpoint) : httpPath(o, perEndpoint);
  const value = 'v'.repeat(o.valueSize);
  const latency = { all: new Histogram(), put: new Histogram(), get: new Histogram() };
  const errors: Record<string, number> = {};
  let issued = 0;
  let done = 0;
  const start = process.hrtime.bigint();
  const cpuStart = process.cpuUsage();
  const deadline = Date.now() + o.durationS * 1000;
  const more = (): boolean => (o.total !== null ? issued < o.total : Date.now() < deadline);

  const progress =
    o.onProgress === undefined
      ? null
      : setInterval(() => o.onProgress?.(done, Number(process.hrtime.bigint() - start) / 1e9), 200);

  const random = new Prng(0x9e3779b9);
  // Started with the load and stopped as it ends: the scrapes fall within the measured run.
  const scraper =
    o.scrapeMetricsMs === undefined
      ? null
      : new MetricsScraper({
          endpoints: o.endpoints,
          intervalMs: o.scrapeMetricsMs,
          timeoutMs: o.timeoutMs ?? 10_000,
          ...(o.token !== undefined && { token: o.token }),
          ...(o.tls !== undefined && { tls: o.tls }),
        });
  scraper?.start();

  async function client(c: number): Promise<void> {
    const send = path.sender(c);
    while (more()) {
      issued++;
      const key = keyOf(random.nextInt(o.keyspace), o.keySize);
      const isRead = o.op.kind === 'get' || (o.op.kind === 'mixed' && random.next() < o.op.readRatio);
      const t0 = process.hrtime.bigint();
      const outcome = await send(isRead, key, value);
      const us = Number(process.hrtime.bigint() - t0) / 1000;
      done++;
      if (outcome === 'ok') {
        latency.all.record(us);
        (isRead ? latency.get : latency.put).record(us);
      } else errors[outcome] = (errors[outcome] ?? 0) + 1;
    }
  }

  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  if (progress !== null) clearInterval(progress);
  const elapsedS = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = process.cpuUsage(cpuStart);
  // After the clock stopped: a scrape still under way is waited for, not timed into the run.
  const scrapes = await scraper?.stop();
  path.close();
  const { onProgress: _ignored, token: _token, tls: _tls, ...options } = o;
  return {
    options,
    elapsedS,
    requests: latency.all.count,
    throughput: latency.all.count / elapsedS,
    latency,
    errors,
    benchCpuPercent: ((cpu.user + cpu.system) / 1e6 / elapsedS) * 100,
    ...(scrapes !== undefined && { scrapes }),
  };
}

/**
 * The raw path: requests of the generator's own over one keep-alive agent per endpoint, at most
 * `perEndpoint` connections each. bench:compare measures it: keep its requests as they are.
 */
function httpPath(o: BenchOptions, perEndpoint: number): RequestPath {
  const endpoints = o.endpoints.map((e) => agentEndpoint(e, perEndpoint, o.tls));
  return {
    sender: (c) => {
      const ep = endpoints[c % endpoints.length]!;
      return (isRead, key, value) => request(ep, o, isRead, key, value);
    },
    close: () => {
      for (const ep of endpoints) ep.agent.destroy();
    },
  };
}

/** Keys of exactly `size` bytes: a zero-padded number (prefixed so they sort and list together). */
export function keyOf(n: number, size: number): string {
  const digits = String(n);
  if (size <= digits.length) return digits.slice(-size);
  return 'k'.padEnd(size - digits.length, '0') + digits;
}

function request(
  ep: Endpoint,
  o: BenchOptions,
  isRead: boolean,
  key: string,
  value: string,
): Promise<string> {
  let method: string;
  let path: string;
  let body: string | null;
  if (o.target === 'raftkv') {
    if (isRead) {
      method = 'GET';
      path = `/kv/${encodeURIComponent(key)}${o.consistency === 'stale' ? '?consistency=stale' : ''}`;
      body = null;
    } else {
      method = 'POST';
      path = '/kv';
      body = JSON.stringify({ key, value });
    }
  } else {
    // etcd's v3 JSON gateway: keys and values in base64; serializable = a local (stale) read.
    const k = Buffer.from(key).toString('base64');
    method = 'POST';
    if (isRead) {
      path = '/v3/kv/range';
      body = JSON.stringify({ key: k, serializable: o.consistency === 'stale' });
    } else {
      path = '/v3/kv/put';
      body = JSON.stringify({ key: k, value: Buffer.from(value).toString('base64') });
    }
  }
  return new Promise((resolve) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (o.token !== undefined && o.target === 'raftkv') headers.authorization = `Bearer ${o.token}`;
    if (o.idempotencyKeys === true && !isRead) headers['idempotency-key'] = `raftkv-client-${randomUUID()}`;
    if (body !== null) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
    }
    const req = (ep.secure ? https : http).request(
      {
        host: ep.host,
        port: ep.port,
        method,
        path,
        agent: ep.agent,
        headers,
        timeout: o.timeoutMs ?? 10_000,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const s = res.statusCode ?? 0;
          // A read of a key never written is a valid answer.
          resolve(s === 200 || (isRead && s === 404) ? 'ok' : `http ${s}`);
        });
        res.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'response error'));
      },
    );
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
    req.end(body ?? undefined);
  });
}
