// Goal: `raftkv bench --via http|client` parses as documented — http by default, client only with
// --target raftkv (a usage error naming both flags otherwise), anything else refused naming the
// flag — and the report, as text and as JSON, says which request path the run took.

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
