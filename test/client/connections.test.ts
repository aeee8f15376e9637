// Goal: the client's connections (undici: a pool per client, or a fresh connection per request)
// keep what the client promises. A request says whether it may have reached the node: refused, or
// given up on while it waited for a pooled connection, it certainly did not (connected false);
// cut after it was sent, it may have (connected true). keepAlive false opens a connection per
// request and closes it after the answer, so a node restarted under the client is refused, then
// answered, at once. Headers come in lower case with repeats as arrays, X-Raftkv-Leader reaches
// onForwarded, and the backup download reads the SHA-256 trailer and says how far a cut-off or
// stalled stream got. Fake nodes here are plain node:http and net servers on loopback.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http from 'node:http';
import { createRequire } from 'node:module';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { undiciModules } from '../../src/client/connections.js';
import { RaftkvClient, RaftkvConnectionError } from '../../src/client/index.js';
import { mayHaveHappened } from '../../src/client/retry.js';
import type { AfterHook } from '../support/node-process.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const require = createRequire(import.meta.url);

/** An http server on loopback, closed (its connections too) after the test. */
async function httpServer(t: AfterHook, handler: http.RequestListener, port = 0): Promise<http.Server> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(port, LOOPBACK, resolve));
  t.after(() => stop(server));
  return server;
}

async function stop(server: http.Server | net.Server): Promise<void> {
  if (server instanceof http.Server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A raw TCP server: `onRequest` is given each connection once a whole request head has arrived. */
async function rawServer(t: AfterHook, onRequest: (socket: net.Socket, request: string) => void) {
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      text += d;
      const end = text.indexOf('\r\n\r\n');
      if (end < 0) return;
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
      if (text.length < end + 4 + length) return;
      requests.push(text);
      socket.removeAllListeners('data');
      onRequest(socket, text);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await stop(server);
  });
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, requests };
}

const getAnswer = JSON.stringify({ key: 'k', value: 'v', index: 1, version: 1, createIndex: 1, modIndex: 1 });

function json(res: http.ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

test('undici is loaded from its own modules, which are the ones its index exports', () => {
  const undici = require('undici') as Record<string, unknown>;
  for (const [name, module] of Object.entries(undiciModules)) {
    assert.equal(require(module), undici[name], `${module} is undici's ${name}`);
  }
});

test('a write whose connection was refused never reached the node: connected false', async () => {
  const [port] = await freePorts(1);
  for (const keepAlive of [true, false]) {
    const client = new RaftkvClient(`${LOOPBACK}:${port}`, { keepAlive });
    await assert.rejects(client.put('k', 'v'), (e: unknown) => {
      assert.ok(e instanceof RaftkvConnectionError, String(e));
      assert.equal(e.connected, false, `keepAlive ${keepAlive}`);
      assert.equal(e.code, 'ECONNREFUSED');
      assert.equal(e.reason, 'connection refused');
      assert.equal(mayHaveHappened(e), false, 'safe to send again');
      return true;
    });
    client.close();
  }
});

test('a write cut after it was sent may have happened: connected true, reset or closed', async (t) => {
  // The node reads the whole request, then resets the connection, or closes it without a word.
  const reset = await rawServer(t, (socket) => socket.resetAndDestroy());
  const closed = await rawServer(t, (socket) => socket.end());
  for (const keepAlive of [true, false]) {
    for (const [node, reason] of [
      [reset, /ECONNRESET/],
      [closed, /^the connection closed before an answer \(ECONNRESET\)$/],
    ] as const) {
      const client = new RaftkvClient(node.url, { keepAlive });
      const before = node.requests.length;
      await assert.rejects(client.put('k', 'v'), (e: unknown) => {
        assert.ok(e instanceof RaftkvConnectionError, String(e));
        assert.equal(e.connected, true, `keepAlive ${keepAlive}: ${e.message}`);
        assert.equal(e.timedOut, false);
        assert.equal(e.code, 'ECONNRESET');
        assert.match(e.reason, reason);
        assert.equal(mayHaveHappened(e), true, 'not safe to send again without an idempotency key');
        return true;
      });
      assert.equal(node.requests.length, before + 1, 'the node read the request');
      assert.match(node.requests.at(-1) ?? '', /\r\n\r\n\{"key":"k","value":"v"/);
      client.close();
    }
  }
});

test('an answer cut off midway: connected true, "answer cut off"', async (t) => {
  const node = await rawServer(t, (socket) => {
    socket.write(
      'HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"key"',
      () => socket.end(),
    );
  });
  for (const keepAlive of [true, false]) {
    const client = new RaftkvClient(node.url, { keepAlive });
    await assert.rejects(client.get('k'), (e: unknown) => {
      assert.ok(e instanceof RaftkvConnectionError, String(e));
      assert.equal(e.connected, true);
      assert.equal(e.code, 'ECONNRESET');
      assert.equal(e.reason, 'answer cut off (ECONNRESET)');
      return true;
    });
    client.close();
  }
});

test('a call out of time while it waited for a pooled connection never left: connected false', async (t) => {
  // A node that reads requests and never answers; the client may have one connection.
  const opened: net.Socket[] = [];
  let requests = 0;
  const silent = await httpServer(t, () => {
    requests++;
  });
  silent.on('connection', (s: net.Socket) => opened.push(s));
  const url = `http://${LOOPBACK}:${(silent.address() as AddressInfo).port}`;
  const client = new RaftkvClient(url, { maxSockets: 1, timeoutMs: 60_000 });
  t.after(() => client.close());
  const holder = new AbortController();
  const first = client.put('a', '1', { signal: holder.signal });
  await waitFor('the first request at the node', () => requests === 1);
  await assert.rejects(client.put('b', '2', { timeoutMs: 200 }), (e: unknown) => {
    assert.ok(e instanceof RaftkvConnectionError, String(e));
    assert.equal(e.connected, false, 'it was never written');
    assert.equal(e.timedOut, true);
    assert.equal(e.reason, 'no connection within 200 ms');
    return true;
  });
  holder.abort(new Error('enough'));
  await assert.rejects(first, /enough/);
  // The pool reconnects for the request still queued, which then goes no further.
  await waitFor('both connections closed', () => opened.length === 2 && opened.every((s) => s.destroyed));
  assert.equal(requests, 1, 'the request out of time never reached the node');
});

test('keepAlive false: a connection per request, closed after the answer; a restarted node is refused, then answered, at once', async (t) => {
  const connections: net.Socket[] = [];
  const seen: (string | undefined)[] = [];
  const answer: http.RequestListener = (req, res) => {
    seen.push(req.headers.connection);
    json(res, getAnswer);
  };
  const node = await httpServer(t, answer);
  node.on('connection', (s: net.Socket) => connections.push(s));
  const port = (node.address() as AddressInfo).port;
  const client = new RaftkvClient(`${LOOPBACK}:${port}`, { keepAlive: false });
  for (let i = 0; i < 3; i++) assert.equal((await client.get('k')).value, 'v');
  assert.deepEqual(seen, ['close', 'close', 'close'], 'each request asks for its connection to close');
  await waitFor(
    'every connection closed',
    () => connections.length === 3 && connections.every((s) => s.destroyed),
  );

  await stop(node);
  await assert.rejects(
    client.get('k'),
    (e: unknown) => e instanceof RaftkvConnectionError && !e.connected && e.code === 'ECONNREFUSED',
  );
  await httpServer(t, answer, port);
  assert.equal((await client.get('k')).value, 'v', 'the restarted node answers the next call');
});

test('close() ends the pool; a later call opens a new one', async (t) => {
  const connections: net.Socket[] = [];
  const node = await httpServer(t, (_req, res) => json(res, getAnswer));
  node.on('connection', (s: net.Socket) => connections.push(s));
  const client = new RaftkvClient(`${LOOPBACK}:${(node.address() as AddressInfo).port}`);
  for (let i = 0; i < 6; i++) assert.equal((await client.get('k')).value, 'v');
  // undici lets a connection rest one turn of the event loop after an answer before it takes the
  // next request, so a caller that asks again at once may be given a second connection.
  const kept = connections.length;
  assert.ok(kept <= 2, `kept alive: ${kept} connections for 6 requests`);
  client.close();
  await waitFor('the kept-alive connections closed', () => connections.every((s) => s.destroyed));
  assert.equal((await client.get('k')).value, 'v');
  assert.equal(connections.length, kept + 1, 'a new connection');
  client.close();
});

test('answer headers: names in lower case, a repeated header an array; X-Raftkv-Leader reaches onForwarded', async (t) => {
  const node = await httpServer(t, (_req, res) => {
    res.setHeader('X-Raftkv-Leader', '127.0.0.1:7001');
    res.setHeader('X-Twice', ['a', 'b']);
    json(res, getAnswer);
  });
  const forwarded: string[] = [];
  const client = new RaftkvClient(`${LOOPBACK}:${(node.address() as AddressInfo).port}`, {
    onForwarded: (leader) => forwarded.push(leader),
  });
  t.after(() => client.close());
  const a = await client.send({ method: 'GET', path: '/kv/k' });
  assert.equal(a.status, 200);
  assert.equal(a.headers['content-type'], 'application/json');
  assert.deepEqual(a.headers['x-twice'], ['a', 'b']);
  assert.equal(a.headers['x-raftkv-leader'], '127.0.0.1:7001');
  assert.deepEqual(forwarded, ['127.0.0.1:7001']);
});

test('a backup download: the headers and the SHA-256 trailer; one cut off or stalled says after how many bytes', async (t) => {
  const file = Buffer.alloc(300_000, 7);
  const sha256 = createHash('sha256').update(file).digest('hex');
  let mode: 'whole' | 'cut' | 'stall' = 'whole';
  const node = await httpServer(t, (_req, res) => {
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'x-raftkv-index': '7',
      'x-raftkv-term': '2',
      'x-raftkv-keys': '3',
      'x-raftkv-cluster-id': 'c-1',
      trailer: 'X-Raftkv-Sha256',
    });
    if (mode === 'whole') {
      res.write(file.subarray(0, 100_000));
      res.write(file.subarray(100_000));
      res.addTrailers({ 'X-Raftkv-Sha256': sha256 });
      res.end();
    } else {
      res.write(file.subarray(0, 1000), () => {
        if (mode === 'cut') res.socket?.destroy();
      });
    }
  });
  const url = `${LOOPBACK}:${(node.address() as AddressInfo).port}`;
  for (const keepAlive of [true, false]) {
    const client = new RaftkvClient(url, { keepAlive });
    mode = 'whole';
    const parts: Uint8Array[] = [];
    const got = await client.backup(async (chunk) => {
      parts.push(Buffer.from(chunk));
    });
    assert.deepEqual(got, { index: 7, term: 2, keys: 3, clusterId: 'c-1', bytes: file.length, sha256 });
    assert.ok(Buffer.concat(parts).equals(file), `keepAlive ${keepAlive}: the bytes as sent`);

    mode = 'cut';
    await assert.rejects(
      client.backup(() => {}),
      (e: unknown) =>
        e instanceof RaftkvConnectionError &&
        e.connected &&
        !e.timedOut &&
        /the answer was cut off after 1000 bytes/.test(e.reason),
    );
    mode = 'stall';
    await assert.rejects(
      client.backup(() => {}, { idleTimeoutMs: 200 }),
      (e: unknown) =>
        e instanceof RaftkvConnectionError &&
        e.connected &&
        e.timedOut &&
        e.reason === 'nothing received for 200 ms after 1000 bytes',
    );
    client.close();
  }
});

test("connecting is bounded by the client's timeoutMs, whatever the call's own; a shorter call gives up sooner", async (t) => {
  // An https endpoint whose server accepts the TCP connection and never says a word: the TLS
  // handshake never ends, so no connection is ever made.
  const sockets = new Set<net.Socket>();
  const mute = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((resolve) => mute.listen(0, LOOPBACK, resolve));
  t.after(async () => {
    for (const s of sockets) s.destroy();
    await stop(mute);
  });
  const url = `https://${LOOPBACK}:${(mute.address() as AddressInfo).port}`;
  for (const keepAlive of [true, false]) {
    const client = new RaftkvClient(url, { keepAlive, timeoutMs: 300 });
    await assert.rejects(client.get('k', { timeoutMs: 60_000 }), (e: unknown) => {
      assert.ok(e instanceof RaftkvConnectionError, String(e));
      assert.equal(e.connected, false, `keepAlive ${keepAlive}`);
      assert.equal(e.timedOut, true);
      assert.equal(e.code, 'UND_ERR_CONNECT_TIMEOUT');
      assert.equal(e.reason, 'no connection within 300 ms (connect timeout)');
      return true;
    });
    await assert.rejects(
      client.get('k', { timeoutMs: 100 }),
      (e: unknown) =>
        e instanceof RaftkvConnectionError && !e.connected && e.reason === 'no connection within 100 ms',
    );
    client.close();
  }
});

test('a streamed answer read slowly while the node closes the connection: all of it arrives, nothing crashes', async (t) => {
  // undici 6 crashed the process here when the body held back its parser (undici issue 5360).
  const payload = Buffer.alloc(4 * 1024 * 1024, 0x61);
  let ended = false;
  const node = await rawServer(t, (socket) => {
    socket.write(`HTTP/1.1 200 OK\r\ncontent-length: ${payload.length}\r\nconnection: close\r\n\r\n`);
    socket.write(payload);
    socket.end(() => {
      ended = true;
    });
  });
  const client = new RaftkvClient(node.url);
  t.after(() => client.close());
  const answer = await client.openStream({ method: 'GET', path: '/admin/snapshot' });
  assert.equal(answer.status, 200);
  // Not read until the node has sent everything and closed its end.
  await waitFor('the node to have sent everything and closed its end', () => ended);
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
  let received = 0;
  for await (const chunk of answer.body) received += (chunk as Buffer).length;
  assert.equal(received, payload.length);
});
