// Goal: the client commands' requests reach a real HTTP server the way the API expects (JSON body,
// the Idempotency-Key header, URL-encoded keys), and connection failures are classified correctly.
// Loopback only: a server on 127.0.0.1 in this process.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Endpoint } from '../../src/cli/addresses.js';
import { classifyFailure, requestOnce } from '../../src/cli/client.js';
import { RaftkvConnectionError } from '../../src/client/index.js';

interface Seen {
  method: string;
  url: string;
  idempotencyKey: string | undefined;
  contentType: string | undefined;
  body: string;
}

async function withServer(
  respond: (req: IncomingMessage, body: string) => { status: number; body: string },
  fn: (endpoint: Endpoint, seen: Seen[]) => Promise<void>,
): Promise<void> {
  const seen: Seen[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => {
      body += c;
    });
    req.on('end', () => {
      const h = req.headers['idempotency-key'];
      seen.push({
        method: req.method ?? '',
        url: req.url ?? '',
        idempotencyKey: Array.isArray(h) ? h[0] : h,
        contentType: req.headers['content-type'],
        body,
      });
      const r = respond(req, body);
      res.writeHead(r.status, { 'content-type': 'application/json' });
      res.end(r.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await fn({ label: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` }, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

test('requestOnce sends JSON with the idempotency key and parses the answer', async () => {
  await withServer(
    () => ({ status: 200, body: '{"key":"k","value":"v","index":3}' }),
    async (endpoint, seen) => {
      const a = await requestOnce(endpoint, {
        method: 'POST',
        path: '/kv',
        body: { key: 'k', value: 'v', prevValue: null },
        idempotencyKey: 'abc',
        timeoutMs: 5000,
      });
      assert.equal(a.status, 200);
      assert.deepEqual(a.body, { key: 'k', value: 'v', index: 3 });
      assert.deepEqual(seen, [
        {
          method: 'POST',
          url: '/kv',
          idempotencyKey: 'abc',
          contentType: 'application/json',
          body: '{"key":"k","value":"v","prevValue":null}',
        },
      ]);
    },
  );
});

test('a body that is not JSON becomes null, with its status kept', async () => {
  await withServer(
    () => ({ status: 502, body: '<html>bad gateway</html>' }),
    async (endpoint) => {
      const a = await requestOnce(endpoint, { method: 'GET', path: '/kv/x%2Fy', timeoutMs: 5000 });
      assert.equal(a.status, 502);
      assert.equal(a.body, null);
    },
  );
});

test('a refused connection is classified as "not sent"', async () => {
  // A port that was just free: bind, note it, close.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const endpoint = { label: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
  const err = await requestOnce(endpoint, { method: 'GET', path: '/debug', timeoutMs: 5000 }).then(
    () => assert.fail('expected a connection error'),
    (e: unknown) => e,
  );
  assert.deepEqual(classifyFailure(err, 5000), { reason: 'connection refused', mayHaveArrived: false });
});

test('a timeout may have reached the server, whether or not it had connected', async () => {
  // A server that never answers.
  const silent = createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as AddressInfo;
  try {
    const endpoint = { label: `127.0.0.1:${port}`, url: `http://127.0.0.1:${port}` };
    const err = await requestOnce(endpoint, { method: 'GET', path: '/debug', timeoutMs: 250 }).then(
      () => assert.fail('expected a timeout'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof RaftkvConnectionError && err.timedOut && err.connected);
    assert.deepEqual(classifyFailure(err, 250), { reason: 'no answer within 250 ms', mayHaveArrived: true });
  } finally {
    silent.closeAllConnections();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
  const beforeConnecting = new RaftkvConnectionError('GET', 'http://h:1/debug', false, true, 'no connection');
  assert.deepEqual(classifyFailure(beforeConnecting, 250), {
    reason: 'no answer within 250 ms',
    mayHaveArrived: true,
  });
});

test('a connection cut before the answer may have reached the server', async () => {
  await withServer(
    (req) => {
      req.socket.destroy();
      return { status: 200, body: '{}' };
    },
    async (endpoint) => {
      const err = await requestOnce(endpoint, {
        method: 'POST',
        path: '/kv',
        body: {},
        timeoutMs: 5000,
      }).then(
        () => assert.fail('expected a connection error'),
        (e: unknown) => e,
      );
      const f = classifyFailure(err, 5000);
      assert.equal(f.mayHaveArrived, true);
      assert.match(f.reason, /ECONNRESET|socket hang up/);
    },
  );
  const dns = new RaftkvConnectionError('GET', 'http://x:1/', false, false, 'cannot connect (ENOTFOUND)', {
    code: 'ENOTFOUND',
  });
  assert.deepEqual(classifyFailure(dns, 1), { reason: 'cannot connect (ENOTFOUND)', mayHaveArrived: false });
  assert.deepEqual(classifyFailure(new Error('odd'), 1), { reason: 'odd', mayHaveArrived: true });
});
