// Goal: `raftkv bench --scrape-metrics D` reads /metrics as Prometheus would — every node every D,
// on one keep-alive connection per node of its own, the whole body read, never two scrapes of a
// node at once (a tick that comes during a slow scrape is skipped), with the bench's token and
// TLS options — and counts scrapes, failed scrapes by kind, their latency and bytes. Against a
// real in-process cluster a short run, on the raw path and through the client, scrapes every node
// and no scrape fails; the report says so.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { runBench } from '../../src/bench/load.js';
import { MetricsScraper } from '../../src/bench/scrape.js';
import { parseBenchOptions, runBenchCommand } from '../../src/cli/bench-command.js';
import { capturedIo } from '../support/captured-io.js';
import { startCluster } from '../support/cluster.js';
import { httpsStub } from '../support/https-stub.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { makeTestCerts, opensslMissing } from '../support/tls-certs.js';
import { waitFor } from '../support/wait.js';

const skipTls = (await opensslMissing()) ?? false;

interface MetricsStub {
  readonly address: string;
  /** Scrapes received, with the client end of their connection and their Authorization header. */
  readonly seen: { socket: number; authorization: string | undefined }[];
  /** The most scrapes it was answering at once. */
  readonly maxInFlight: () => number;
}

/** A stand-in node whose GET /metrics answers `status` with `body`, `delayMs` after it arrived. */
async function metricsStub(
  t: { after: (fn: () => Promise<void>) => void },
  options: { body: string; delayMs?: number; status?: number },
): Promise<MetricsStub> {
  const seen: MetricsStub['seen'] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics' || req.method !== 'GET') {
      res.writeHead(404).end();
      return;
    }
    seen.push({ socket: req.socket.remotePort ?? 0, authorization: req.headers.authorization });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    setTimeout(() => {
      inFlight--;
      res.writeHead(options.status ?? 200, { 'content-type': 'text/plain' });
      // In pieces, as a large exposition arrives: all of them are counted.
      const half = Math.floor(options.body.length / 2);
      res.write(options.body.slice(0, half));
      res.end(options.body.slice(half));
    }, options.delayMs ?? 0);
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return {
    address: `${LOOPBACK}:${(server.address() as AddressInfo).port}`,
    seen,
    maxInFlight: () => maxInFlight,
  };
}

test('every node every interval, one connection each, the whole body, the token; failures counted by kind', async (t) => {
  const body = '# HELP x\n'.repeat(1000);
  const a = await metricsStub(t, { body });
  const b = await metricsStub(t, { body });
  const scraper = new MetricsScraper({
    endpoints: [a.address, `http://${b.address}`],
    intervalMs: 20,
    timeoutMs: 5000,
    token: 'bench-token-0123456789',
  });
  scraper.start();
  await waitFor('5 scrapes of each node', () => a.seen.length >= 5 && b.seen.length >= 5);
  const stats = await scraper.stop();
  const after = a.seen.length + b.seen.length;
  assert.equal(stats.scrapes, after, 'every scrape a node answered is counted');
  assert.equal(stats.failed, 0);
  assert.deepEqual(stats.errors, {});
  assert.equal(stats.nodes, 2);
  assert.equal(stats.intervalMs, 20);
  assert.equal(stats.bytes, stats.scrapes * Buffer.byteLength(body));
  assert.equal(stats.latency.count, stats.scrapes);
  for (const node of [a, b]) {
    assert.equal(new Set(node.seen.map((s) => s.socket)).size, 1, 'one kept-alive connection per node');
    assert.ok(node.seen.every((s) => s.authorization === 'Bearer bench-token-0123456789'));
  }

  // Failures: a refusal by status, a dead node by its connection error.
  const refusing = await metricsStub(t, { body: 'no', status: 403 });
  const [dead] = await freePorts(1);
  const failing = new MetricsScraper({
    endpoints: [refusing.address, `${LOOPBACK}:${dead}`],
    intervalMs: 20,
    timeoutMs: 5000,
  });
  failing.start();
  await waitFor('a failed scrape of each', () => {
    const { errors } = failing.stats();
    return errors['http 403'] !== undefined && errors.ECONNREFUSED !== undefined;
  });
  const failed = await failing.stop();
  assert.equal(failed.scrapes, 0);
  assert.ok((failed.errors['http 403'] ?? 0) >= 1, JSON.stringify(failed.errors));
  assert.ok((failed.errors.ECONNREFUSED ?? 0) >= 1, JSON.stringify(failed.errors));
  assert.equal(
    Object.values(failed.errors).reduce((x, y) => x + y, 0),
    failed.failed,
  );
});

test('a scrape slower than the interval: never two at once on a node, the ticks it overran skipped', async (t) => {
  const slow = await metricsStub(t, { body: 'x 1\n', delayMs: 150 });
  const scraper = new MetricsScraper({ endpoints: [slow.address], intervalMs: 20, timeoutMs: 5000 });
  const t0 = Date.now();
  scraper.start();
  await waitFor('3 scrapes', () => scraper.stats().scrapes >= 3);
  const stats = await scraper.stop();
  const elapsed = Date.now() - t0;
  assert.equal(slow.maxInFlight(), 1);
  assert.equal(stats.scrapes, slow.seen.length);
  // Back to back at best: a tick during a scrape does not queue another behind it.
  assert.ok(stats.scrapes <= Math.ceil(elapsed / 150), `${stats.scrapes} scrapes in ${elapsed} ms`);
  assert.ok(stats.latency.quantile(0.5) >= 150_000, String(stats.latency.quantile(0.5)));

  // A scrape cut off by the timeout is a failed one.
  const hung = await metricsStub(t, { body: 'x 1\n', delayMs: 1000 });
  const timing = new MetricsScraper({ endpoints: [hung.address], intervalMs: 20, timeoutMs: 50 });
  timing.start();
  await waitFor('a timed-out scrape', () => timing.stats().failed >= 1);
  const timedOut = await timing.stop();
  assert.equal(timedOut.scrapes, 0);
  assert.ok((timedOut.errors.timeout ?? 0) >= 1, JSON.stringify(timedOut.errors));
});

test('over https: the bench scrapes with its CA, client certificate and token', {
  skip: skipTls,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'required' });
  const token = 'admin-token-0123456789';
  const { json: _json, ...options } = parseBenchOptions(
    [
      '--endpoints',
      stub.url,
      '--op',
      'get',
      '--total',
      '10',
      '--clients',
      '1',
      '--scrape-metrics',
      '10ms',
      '--cacert',
      certs.ca,
      '--cert',
      certs.client.cert,
      '--key',
      certs.client.key,
      '--token',
      token,
    ],
    {},
  );
  const result = await runBench(options);
  assert.equal(result.requests, 10, JSON.stringify(result.errors));
  const scrapes = stub.seen.filter((s) => s.path === '/metrics');
  assert.ok(scrapes.length >= 1);
  assert.ok(scrapes.every((s) => s.authorization === `Bearer ${token}` && s.clientName === 'client'));
  // The stand-in has no /metrics: each scrape reached it over TLS and is counted as failed.
  assert.equal(result.scrapes?.failed, scrapes.length);
  assert.deepEqual(result.scrapes?.errors, { 'http 404': scrapes.length });
});

test('raftkv bench --total 300 --scrape-metrics 100ms against a cluster, both paths: scrapes, none failed', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const endpoints = c.ids.map((id) => c.address(id)).join(',');
  for (const via of ['http', 'client']) {
    const out = capturedIo();
    const argv = [
      '--endpoints',
      endpoints,
      '--via',
      via,
      '--total',
      '300',
      '--op',
      'mixed:0.5',
      '--scrape-metrics',
      '100ms',
      '--json',
    ];
    const code = await runBenchCommand(argv, {}, out.io, false);
    const report = JSON.parse(out.text()) as {
      options: { via: string; scrapeMetricsMs: number };
      requests: number;
      errors: Record<string, number>;
      metricsScrapes: {
        nodes: number;
        scrapes: number;
        failed: number;
        errors: Record<string, number>;
        latency: { p50Ms: number; maxMs: number };
        bytesPerScrape: number;
      };
    };
    assert.equal(code, 0, via);
    assert.equal(report.options.via, via);
    assert.equal(report.options.scrapeMetricsMs, 100);
    assert.equal(report.requests, 300, `${via}: ${JSON.stringify(report.errors)}`);
    const s = report.metricsScrapes;
    assert.equal(s.nodes, 3);
    assert.ok(s.scrapes > 0, `${via}: ${JSON.stringify(s)}`);
    assert.equal(s.failed, 0, `${via}: ${JSON.stringify(s.errors)}`);
    assert.ok(s.latency.maxMs > 0 && s.latency.p50Ms <= s.latency.maxMs);
    // A node's exposition: raftkv's own families are in it.
    assert.ok(s.bytesPerScrape > 1000, String(s.bytesPerScrape));
  }

  // The text report's line.
  const text = capturedIo();
  const argv = ['--endpoints', endpoints, '--total', '50', '--scrape-metrics', '100ms'];
  assert.equal(await runBenchCommand(argv, {}, text.io, false), 0);
  assert.match(text.text(), /^ {2}Metrics scrapes: [1-9]\d* \(every 100ms, 3 nodes\), 0 failed, p50 /m);
});
