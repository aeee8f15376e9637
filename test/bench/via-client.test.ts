// Goal: `raftkv bench --via client` sends every request through the package's ClusterClient and
// loads the nodes as the raw path does (here, where no node names a leader to send writes to):
// client c starts at endpoint c mod N and keeps to it, over keep-alive connections (at most the
// raw path's number per node), every write with an Idempotency-Key of its own, gets with the
// bench's consistency, the token on every request. A failed call is counted under the raw path's
// name for it (`http 503`), after the client's retries; a dead endpoint is failed over instead of
// counted. Against a real in-process cluster a short run counts every request as a success.
// `--via http --idempotency-keys` puts a key of its own on every raw write.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { errorKind } from '../../src/bench/client-path.js';
import { type BenchOptions, runBench } from '../../src/bench/load.js';
import { parseBenchOptions, runBenchCommand } from '../../src/cli/bench-command.js';
import { OutcomeUnknownError, RaftkvApiError, RaftkvConnectionError } from '../../src/client/index.js';
import { capturedIo } from '../support/captured-io.js';
import { startCluster } from '../support/cluster.js';
import { freePorts, LOOPBACK } from '../support/ports.js';

interface Seen {
  readonly method: string;
  readonly path: string;
  readonly idempotencyKey: string | undefined;
  readonly authorization: string | undefined;
  /** The client end of the connection it came on. */
  readonly socket: number;
}

/**
 * A stand-in node that answers puts and gets with the API's shapes (or `status` with an error
 * body of `code` to everything) and notes every request. Closed after the test.
 */
async function stubNode(
  t: { after: (fn: () => Promise<void>) => void },
  status = 200,
  code = 'no_leader',
): Promise<{ address: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return typeof v === 'string' ? v : undefined;
    };
    seen.push({
      method: req.method ?? '',
      path: req.url ?? '',
      idempotencyKey: header('idempotency-key'),
      authorization: header('authorization'),
      socket: req.socket.remotePort ?? 0,
    });
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const answer = (code: number, b: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(b));
      };
      if (status !== 200) return answer(status, { error: code, code });
      const meta = { index: 7, version: 1, createIndex: 7, modIndex: 7 };
      if (req.method === 'POST') {
        const { key, value } = JSON.parse(body) as { key: string; value: string };
        return answer(200, { key, value, ...meta });
      }
      const key = decodeURIComponent(/^\/kv\/([^?]*)/.exec(req.url ?? '')?.[1] ?? '');
      return answer(200, { key, value: 'v', ...meta });
    });
  });
  await new Promise<void>((r) => server.listen(0, LOOPBACK, r));
  t.after(
    () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  );
  return { address: `${LOOPBACK}:${(server.address() as AddressInfo).port}`, seen };
}

function benchOptions(argv: readonly string[]): BenchOptions {
  const { json: _json, ...options } = parseBenchOptions(argv, {});
  return options;
}

test('each request is one ClusterClient call: spread as on the raw path, kept-alive, writes keyed', async (t) => {
  const a = await stubNode(t);
  const b = await stubNode(t);
  const flags = ['--endpoints', `${a.address},${b.address}`, '--op', 'mixed:0.5', '--total', '40'];
  const result = await runBench(
    benchOptions([
      ...flags,
      '--via',
      'client',
      '--clients',
      '4',
      '--consistency',
      'stale',
      '--token',
      'bench-token-0123456789',
    ]),
  );
  assert.equal(result.requests, 40, JSON.stringify(result.errors));
  assert.deepEqual(result.errors, {});
  assert.equal(result.options.via, 'client');
  assert.ok(result.latency.put.count > 0 && result.latency.get.count > 0);
  // Two clients per endpoint, each keeping to its own: both nodes loaded, nothing sent twice.
  assert.ok(a.seen.length > 0 && b.seen.length > 0, `${a.seen.length} + ${b.seen.length}`);
  const all = [...a.seen, ...b.seen];
  assert.equal(all.length, 40);
  const puts = all.filter((s) => s.method === 'POST');
  assert.ok(puts.every((s) => s.path === '/kv' && s.idempotencyKey !== undefined));
  assert.equal(new Set(puts.map((s) => s.idempotencyKey)).size, puts.length, 'a key of its own per write');
  const gets = all.filter((s) => s.method === 'GET');
  assert.ok(
    gets.every((s) => /^\/kv\/k0*\d+\?consistency=stale$/.test(s.path)),
    gets[0]?.path,
  );
  assert.ok(all.every((s) => s.authorization === 'Bearer bench-token-0123456789'));
  // 4 connections in all (--conns defaults to --clients), 2 per node, reused.
  for (const node of [a, b]) assert.ok(new Set(node.seen.map((s) => s.socket)).size <= 2);

  // One client: the first endpoint takes every request, on both paths.
  for (const via of ['http', 'client']) {
    a.seen.length = 0;
    b.seen.length = 0;
    const one = await runBench(benchOptions([...flags, '--via', via, '--clients', '1']));
    assert.equal(one.requests, 40, `${via}: ${JSON.stringify(one.errors)}`);
    assert.equal(a.seen.length, 40, via);
    assert.equal(b.seen.length, 0, via);
    // The raw path's requests stay as they were: no Idempotency-Key, linearizable gets unmarked.
    if (via === 'http')
      assert.ok(a.seen.every((s) => s.idempotencyKey === undefined && !s.path.includes('?')));
  }
});

test('--idempotency-keys: every raw write carries a key of its own; raw reads none', async (t) => {
  const a = await stubNode(t);
  const result = await runBench(
    benchOptions([
      '--endpoints',
      a.address,
      '--via',
      'http',
      '--idempotency-keys',
      '--op',
      'mixed:0.5',
      '--total',
      '40',
      '--clients',
      '2',
    ]),
  );
  assert.equal(result.requests, 40, JSON.stringify(result.errors));
  assert.equal(a.seen.length, 40);
  const puts = a.seen.filter((s) => s.method === 'POST');
  const gets = a.seen.filter((s) => s.method === 'GET');
  assert.ok(puts.length > 0 && gets.length > 0, `${puts.length} puts, ${gets.length} gets`);
  assert.ok(puts.every((s) => s.path === '/kv' && s.idempotencyKey !== undefined));
  assert.equal(new Set(puts.map((s) => s.idempotencyKey)).size, puts.length, 'a key of its own per write');
  assert.ok(gets.every((s) => s.idempotencyKey === undefined));
});

test('errors are counted under the raw path names; a dead endpoint is failed over, not counted', async (t) => {
  // A definite refusal comes back at once, on both paths.
  const refusing = await stubNode(t, 400, 'invalid_request');
  const once = ['--endpoints', refusing.address, '--total', '3', '--clients', '1'];
  assert.deepEqual((await runBench(benchOptions([...once, '--via', 'http']))).errors, { 'http 400': 3 });
  assert.deepEqual((await runBench(benchOptions([...once, '--via', 'client']))).errors, { 'http 400': 3 });

  // A 503 the client retries until the call's time runs out (kept short here); it counts under
  // the last failure seen — the 503, or the timeout of an attempt the deadline cut short.
  const failing = await stubNode(t, 503);
  const flags = ['--endpoints', failing.address, '--total', '3', '--clients', '1'];
  const raw = await runBench(benchOptions([...flags, '--via', 'http']));
  const viaClient = await runBench({ ...benchOptions([...flags, '--via', 'client']), timeoutMs: 250 });
  assert.deepEqual(raw.errors, { 'http 503': 3 });
  assert.equal(viaClient.requests, 0);
  assert.equal(
    Object.values(viaClient.errors).reduce((x, y) => x + y, 0),
    3,
    JSON.stringify(viaClient.errors),
  );
  assert.ok(Object.keys(viaClient.errors).every((k) => k === 'http 503' || k === 'timeout'));

  const good = await stubNode(t);
  const [dead] = await freePorts(1);
  const spread = ['--endpoints', `${good.address},${LOOPBACK}:${dead}`, '--total', '20', '--clients', '2'];
  const rawSpread = await runBench(benchOptions([...spread, '--via', 'http']));
  assert.ok((rawSpread.errors.ECONNREFUSED ?? 0) > 0, JSON.stringify(rawSpread.errors));
  const clientSpread = await runBench(benchOptions([...spread, '--via', 'client']));
  assert.deepEqual(clientSpread.errors, {});
  assert.equal(clientSpread.requests, 20);

  const url = 'http://127.0.0.1:1/kv';
  assert.equal(errorKind(new RaftkvApiError('POST', '/kv', 504, undefined)), 'http 504');
  assert.equal(errorKind(new RaftkvApiError('POST', '/kv', 200, undefined)), 'unexpected answer');
  assert.equal(
    errorKind(new RaftkvConnectionError('POST', url, true, true, 'no answer within 1 ms')),
    'timeout',
  );
  const reset = new RaftkvConnectionError('POST', url, true, false, 'read ECONNRESET', {
    code: 'ECONNRESET',
  });
  assert.equal(errorKind(reset), 'ECONNRESET');
  assert.equal(errorKind(new OutcomeUnknownError('put k', reset)), 'ECONNRESET');
});

test('raftkv bench --via client --total 200 against a cluster: 200 successful requests, no errors', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const endpoints = c.ids.map((id) => c.address(id)).join(',');
  const out = capturedIo();
  const argv = ['--endpoints', endpoints, '--via', 'client', '--total', '200', '--op', 'mixed:0.5', '--json'];
  const code = await runBenchCommand(argv, {}, out.io, false);
  const report = JSON.parse(out.text()) as {
    options: { via: string };
    requests: number;
    errors: Record<string, number>;
    latency: { put: { count: number }; get: { count: number } };
  };
  assert.equal(code, 0);
  assert.equal(report.options.via, 'client');
  assert.equal(report.requests, 200, JSON.stringify(report.errors));
  assert.deepEqual(report.errors, {});
  assert.equal(report.latency.put.count + report.latency.get.count, 200);
  assert.ok(report.latency.put.count > 0);
});
