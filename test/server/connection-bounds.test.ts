// Goal: the bounds on a client's connections that the HTTP server adds to node:http's own (head
// size, arrival time, body size): more than 100 header fields get 431; one client address holds
// at most --max-connections-per-client connections, the next gets 429 and the node keeps serving
// the others; a client that never reads its answers loses its connection after
// --slow-reader-timeout, without holding up anyone else. Each refusal is counted in the metrics.

import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { MAX_VALUE_BYTES } from '../../src/kv/limits.js';
import { maxHeaderFields } from '../../src/server/http-server.js';
import { startCluster } from '../support/cluster.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';
import { type RawRequest, send } from './hostile-requests.js';

const health = (fields: number): RawRequest => ({
  method: 'GET',
  target: '/health',
  // The encoder adds the Host field.
  headers: Array.from({ length: fields - 1 }, (_, i): [string, string] => [`x-f${i}`, '1']),
  body: new Uint8Array(0),
  framing: 'none',
});

/** A connection that has been answered once, so the server has surely counted it. */
async function openConnection(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const answered = new Promise<void>((resolve) => socket.once('data', () => resolve()));
  socket.write('GET /livez HTTP/1.1\r\nhost: raftkv\r\n\r\n');
  await answered;
  return socket;
}

async function rejected(c: Awaited<ReturnType<typeof startCluster>>, id: string, reason: string) {
  const metrics = parseExposition(await c.client(id).metrics());
  return seriesValue(metrics, 'raftkv_requests_rejected_total', { reason });
}

test('more than 100 header fields get 431 headers_too_large', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  const atLimit = await send(c.port(id), health(maxHeaderFields));
  assert.equal(atLimit.status, 200, atLimit.text);
  const over = await send(c.port(id), health(maxHeaderFields + 1));
  assert.equal(over.status, 431, over.text);
  assert.deepEqual(JSON.parse(over.text), {
    error: `the request has more than ${maxHeaderFields} header fields`,
    code: 'headers_too_large',
    definite: true,
  });
});

test('past --max-connections-per-client a connection gets 429 and the others are served', async (t) => {
  const limit = 4;
  const c = await startCluster(t, { size: 1, maxConnectionsPerClient: limit });
  const id = await c.waitForLeader();
  const port = c.port(id);
  await waitFor('idle client connections closed', async () => (await send(port, health(1))).status === 200);
  const held = await Promise.all(Array.from({ length: limit }, () => openConnection(port)));
  try {
    const refused = await send(port, health(1));
    assert.equal(refused.status, 429, refused.text);
    assert.equal(JSON.parse(refused.text).code, 'too_many_connections');
    assert.equal(JSON.parse(refused.text).definite, true);
    // The held connections are still served.
    const again = new Promise<string>((resolve) =>
      held[0]!.once('data', (d: Buffer) => resolve(d.toString())),
    );
    held[0]!.write('GET /health HTTP/1.1\r\nhost: raftkv\r\n\r\n');
    assert.match(await again, /^HTTP\/1\.1 200/);
  } finally {
    for (const s of held) s.destroy();
  }
  // Once they close, the address may connect again.
  await waitFor('a new connection is accepted', async () => (await send(port, health(1))).status === 200);
  assert.ok((await rejected(c, id, 'connections_per_client')) >= 1);
});

test('a client that never reads its answers loses the connection after --slow-reader-timeout', async (t) => {
  const c = await startCluster(t, { size: 1, slowReaderMs: 300 });
  const id = await c.waitForLeader();
  const port = c.port(id);
  assert.equal((await c.put(id, 'big', 'v'.repeat(MAX_VALUE_BYTES))).status, 200);
  // 64 pipelined reads of a 1 MiB value, and nothing read: far more than the socket buffers hold.
  const slow = net.connect(port, '127.0.0.1');
  slow.on('error', () => {});
  slow.pause();
  slow.write('GET /kv/big HTTP/1.1\r\nhost: raftkv\r\n\r\n'.repeat(64));
  try {
    // Meanwhile everyone else is served.
    assert.equal((await c.get(id, 'big')).status, 200);
    await waitFor('the slow reader cut off', async () => (await rejected(c, id, 'slow_reader')) >= 1, {
      timeoutMs: 10_000,
    });
  } finally {
    slow.destroy();
  }
  assert.equal((await c.request(id, 'GET', '/health')).status, 200);
});

test('headers that never finish arriving get 408 request_timeout; others are served meanwhile', async (t) => {
  const c = await startCluster(t, { size: 1, requestTimeoutMs: 1_000 });
  const id = await c.waitForLeader();
  const socket = net.connect(c.port(id), '127.0.0.1');
  socket.on('error', () => {});
  let got = '';
  socket.on('data', (d: Buffer) => {
    got += d.toString('latin1');
  });
  let closed = false;
  socket.on('close', () => {
    closed = true;
  });
  // The request line and one header, then nothing: the blank line that ends the head never comes.
  socket.write('GET /health HTTP/1.1\r\nhost: raftkv\r\n');
  try {
    assert.equal((await c.request(id, 'GET', '/health')).status, 200);
    await waitFor('the stalled head answered', () => got.includes('\r\n\r\n{'), { timeoutMs: 10_000 });
    assert.match(got, /^HTTP\/1\.1 408 /);
    assert.equal(JSON.parse(got.slice(got.indexOf('\r\n\r\n') + 4)).code, 'request_timeout');
    await waitFor('the connection closed after the 408', () => closed, { timeoutMs: 10_000 });
  } finally {
    socket.destroy();
  }
});
