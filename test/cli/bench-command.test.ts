// Goal: `raftkv bench --via http|client` parses as documented — http by default, client only with
// --target raftkv (a usage error naming both flags otherwise), anything else refused naming the
// flag — and the report, as text and as JSON, says which request path the run took.
// `--scrape-metrics D` is off by default, takes a duration, goes with --target raftkv only (a
// usage error naming both flags otherwise) and either --via, and the report shows its scrapes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Histogram } from '../../src/bench/histogram.js';
import type { BenchResult } from '../../src/bench/load.js';
import { formatReport, jsonReport } from '../../src/bench/report.js';
import { UsageError } from '../../src/cli/args.js';
import { parseBenchOptions } from '../../src/cli/bench-command.js';
import { runCli } from '../support/cli.js';

test('--via is http by default and takes client with --target raftkv', () => {
  assert.equal(parseBenchOptions([], {}).via, 'http');
  assert.equal(parseBenchOptions(['--via', 'http'], {}).via, 'http');
  const o = parseBenchOptions(['--via', 'client', '--endpoints', '127.0.0.1:1,127.0.0.1:2'], {});
  assert.equal(o.via, 'client');
  assert.equal(o.target, 'raftkv');
  assert.deepEqual(o.endpoints, ['127.0.0.1:1', '127.0.0.1:2']);
  assert.equal(parseBenchOptions(['--via=client', '--target', 'raftkv'], {}).via, 'client');
  // etcd is spoken by raw HTTP: saying so is allowed.
  assert.equal(parseBenchOptions(['--target', 'etcd', '--via', 'http'], {}).via, 'http');
  assert.equal(parseBenchOptions(['--target', 'etcd'], {}).via, 'http');
});

test('--via client with --target etcd, and an unknown --via, are usage errors naming the flags', () => {
  for (const argv of [
    ['--via', 'client', '--target', 'etcd'],
    ['--target', 'etcd', '--via', 'client'],
  ]) {
    assert.throws(
      () => parseBenchOptions(argv, {}),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes('--via client') && e.message.includes('--target etcd'),
    );
  }
  assert.throws(
    () => parseBenchOptions(['--via', 'fetch'], {}),
    (e: unknown) =>
      e instanceof UsageError && /--via must be one of http, client, got "fetch"/.test(e.message),
  );
  assert.throws(() => parseBenchOptions(['--via'], {}), UsageError);
});

test('the CLI refuses --via client --target etcd with exit code 2 before any request', async () => {
  const r = await runCli(['bench', '--via', 'client', '--target', 'etcd', '--total', '1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--via client goes with --target raftkv, not --target etcd/);
  assert.equal(r.stdout, '');
});

/** A run's result with the given request path, as runBench makes it. */
function resultVia(via: 'http' | 'client'): BenchResult {
  const latency = { all: new Histogram(), put: new Histogram(), get: new Histogram() };
  latency.all.record(1500);
  latency.put.record(1500);
  const { json: _json, ...options } = parseBenchOptions(['--via', via, '--total', '1'], {});
  return {
    options,
    elapsedS: 1,
    requests: 1,
    throughput: 1,
    latency,
    errors: {},
    benchCpuPercent: 3,
  };
}

test('the report says which path the run took, as text and as JSON', () => {
  assert.match(formatReport(resultVia('http')), /^raftkv bench via raw HTTP: put, 16 clients/);
  assert.match(formatReport(resultVia('client')), /^raftkv bench via the client \(ClusterClient/);
  const json = JSON.parse(JSON.stringify(jsonReport(resultVia('client')))) as { options: { via: string } };
  assert.equal(json.options.via, 'client');
  const raw = JSON.parse(JSON.stringify(jsonReport(resultVia('http')))) as { options: { via: string } };
  assert.equal(raw.options.via, 'http');
});

test('--idempotency-keys: raw raftkv writes only', () => {
  assert.equal(parseBenchOptions([], {}).idempotencyKeys, false);
  assert.equal(parseBenchOptions(['--idempotency-keys'], {}).idempotencyKeys, true);
  for (const argv of [
    ['--idempotency-keys', '--via', 'client'],
    ['--idempotency-keys', '--target', 'etcd'],
  ]) {
    assert.throws(
      () => parseBenchOptions(argv, {}),
      (e: unknown) => e instanceof UsageError && /--idempotency-keys/.test(e.message),
    );
  }
});

test('--scrape-metrics: off by default, a duration, with either --via', () => {
  assert.equal(parseBenchOptions([], {}).scrapeMetricsMs, undefined);
  assert.equal(parseBenchOptions(['--scrape-metrics', '1s'], {}).scrapeMetricsMs, 1000);
  assert.equal(parseBenchOptions(['--scrape-metrics=250ms'], {}).scrapeMetricsMs, 250);
  assert.equal(parseBenchOptions(['--scrape-metrics', '2000'], {}).scrapeMetricsMs, 2000);
  const viaClient = parseBenchOptions(['--via', 'client', '--scrape-metrics', '100ms'], {});
  assert.equal(viaClient.scrapeMetricsMs, 100);
  assert.equal(viaClient.via, 'client');
  assert.equal(parseBenchOptions(['--target', 'raftkv', '--scrape-metrics', '1s'], {}).scrapeMetricsMs, 1000);
  for (const bad of ['1m', 'often', '0', '5ms', '-1s']) {
    assert.throws(
      () => parseBenchOptions(['--scrape-metrics', bad], {}),
      (e: unknown) => e instanceof UsageError && e.message.includes('--scrape-metrics'),
      bad,
    );
  }
  assert.throws(() => parseBenchOptions(['--scrape-metrics'], {}), UsageError);
});

test('--scrape-metrics with --target etcd is a usage error naming both flags', async () => {
  for (const argv of [
    ['--scrape-metrics', '1s', '--target', 'etcd'],
    ['--target', 'etcd', '--scrape-metrics', '1s'],
  ]) {
    assert.throws(
      () => parseBenchOptions(argv, {}),
      (e: unknown) =>
        e instanceof UsageError &&
        e.message.includes('--scrape-metrics') &&
        e.message.includes('--target etcd'),
    );
  }
  const r = await runCli(['bench', '--target', 'etcd', '--scrape-metrics', '1s', '--total', '1']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--scrape-metrics goes with --target raftkv, not --target etcd/);
  assert.equal(r.stdout, '');
});

test('the report shows the scrapes as a "Metrics scrapes" line and a metricsScrapes section, only when asked', () => {
  const plain = resultVia('http');
  assert.doesNotMatch(formatReport(plain), /Metrics scrapes/);
  assert.equal((jsonReport(plain) as { metricsScrapes?: unknown }).metricsScrapes, undefined);

  const latency = new Histogram();
  latency.record(2000);
  latency.record(4000);
  const scrapes = {
    intervalMs: 1000,
    nodes: 2,
    scrapes: 2,
    failed: 1,
    errors: { 'http 403': 1 },
    latency,
    bytes: 30_000,
  };
  const r: BenchResult = { ...plain, options: { ...plain.options, scrapeMetricsMs: 1000 }, scrapes };
  assert.match(
    formatReport(r),
    /^ {2}Metrics scrapes: 2 \(every 1s, 2 nodes\), 1 failed \(http 403: 1\), p50 2\.\d\d ms, max 4\.00 ms, 15000 B each$/m,
  );
  const json = JSON.parse(JSON.stringify(jsonReport(r))) as {
    options: { scrapeMetricsMs: number };
    metricsScrapes: { latency: { p50Ms: number; maxMs: number } };
  };
  assert.equal(json.options.scrapeMetricsMs, 1000);
  const { latency: lat, ...counts } = json.metricsScrapes;
  assert.deepEqual(counts, {
    intervalMs: 1000,
    nodes: 2,
    scrapes: 2,
    failed: 1,
    errors: { 'http 403': 1 },
    bytesPerScrape: 15_000,
  });
  // Within the histogram's bucket error.
  assert.ok(lat.p50Ms >= 2 && lat.p50Ms < 2.1, String(lat.p50Ms));
  assert.equal(lat.maxMs, 4);
});
