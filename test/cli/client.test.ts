// Goal: the HTTP client speaks to a real HTTP server the way the API expects (JSON body, the
// Idempotency-Key header, URL-encoded keys) and classifies connection failures correctly.
// Loopback only: a server on 127.0.0.1 in this process.

import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { Endpoint } from '../../src/cli/addresses.js';
import { classifyFetchError, requestOnce } from '../../src/cli/client.js';

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
  assert.deepEqual(classifyFetchError(err, 5000), { reason: 'connection refused', mayHaveArrived: false });
});

test('timeouts and broken connections may have reached the server', () => {
  const timeout = Object.assign(new Error('The operation was aborted due to timeout'), {
    name: 'TimeoutError',
  });
  assert.deepEqual(classifyFetchError(timeout, 250), {
    reason: 'no answer within 250 ms',
    mayHaveArrived: true,
  });
  const reset = new TypeError('fetch failed', {
    cause: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  });
  assert.deepEqual(classifyFetchError(reset, 1), { reason: 'read ECONNRESET', mayHaveArrived: true });
  const dns = new TypeError('fetch failed', {
    cause: Object.assign(new Error('getaddrinfo ENOTFOUND x'), { code: 'ENOTFOUND' }),
  });
  assert.deepEqual(classifyFetchError(dns, 1), {
    reason: 'cannot connect (ENOTFOUND)',
    mayHaveArrived: false,
  });
});
