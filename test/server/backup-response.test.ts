// Goal: the server streams a backup at its client's pace and never holds on to it: a client that
// stops reading gets only what the socket buffers hold (the node serialises no further ahead) and
// is cut off after the stall timeout; a whole stream carries its SHA-256 in an HTTP trailer; a
// stream that fails midway is cut off, not ended as if whole. In every case the state's copy is let
// go (the chunk iterator closed) and `finished` is called once.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { BackupOutcome, BackupStream } from '../../src/api/service.js';
import { sendBackup } from '../../src/server/backup-response.js';
import { waitFor } from '../support/wait.js';

const chunkBytes = 256 * 1024;

/** A stream of `count` chunks that counts its pulls, notes being closed, and may fail at `failAt`. */
function fakeStream(count: number, failAt = -1) {
  const seen = { pulled: 0, closed: false, outcomes: [] as BackupOutcome[] };
  function* chunks(): Generator<Uint8Array, string, undefined> {
    try {
      for (let i = 0; i < count; i++) {
        if (i === failAt) throw new Error('serialising failed');
        seen.pulled++;
        yield new Uint8Array(chunkBytes).fill(i % 256);
      }
      return 'ab'.repeat(32);
    } finally {
      seen.closed = true;
    }
  }
  const stream: BackupStream = {
    clusterId: 'c',
    index: 7,
    term: 2,
    keys: 3,
    chunks: chunks(),
    finished: (o) => seen.outcomes.push(o),
  };
  return { stream, seen };
}

async function serve(t: { after: (fn: () => Promise<void>) => void }, stream: BackupStream, stallMs: number) {
  const server = http.createServer((_req, res) => void sendBackup(res, stream, stallMs));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return (server.address() as AddressInfo).port;
}

test('a client that stops reading holds back the serialisation, then is cut off', async (t) => {
  const { stream, seen } = fakeStream(1000); // 250 MB if it were all produced
  const port = await serve(t, stream, 500);
  const socket = net.connect(port, '127.0.0.1');
  t.after(() => {
    socket.destroy();
  });
  socket.write('GET /admin/snapshot HTTP/1.1\r\nHost: x\r\n\r\n');
  socket.pause(); // reads nothing
  await waitFor('the stream is cut off', () => seen.outcomes.length === 1, { timeoutMs: 20_000 });
  const [outcome] = seen.outcomes;
  assert.equal(outcome?.sent, false);
  assert.match(outcome?.sent === false ? outcome.reason : '', /read nothing for 500 ms/);
  assert.ok(seen.pulled < 200, `only what the buffers hold was produced: ${seen.pulled} of 1000 chunks`);
  assert.equal(seen.closed, true, "the state's copy was let go");
});

test('a whole stream ends with its SHA-256 in the HTTP trailer', async (t) => {
  const { stream, seen } = fakeStream(12);
  const port = await serve(t, stream, 5000);
  const got = await new Promise<{
    bytes: number;
    headers: http.IncomingHttpHeaders;
    trailers: NodeJS.Dict<string>;
  }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/admin/snapshot' }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.length;
      });
      res.on('end', () => resolve({ bytes, headers: res.headers, trailers: res.trailers }));
      res.on('error', reject);
    });
  });
  assert.equal(got.bytes, 12 * chunkBytes);
  assert.equal(got.headers['content-type'], 'application/octet-stream');
  assert.equal(got.headers['x-raftkv-index'], '7');
  assert.equal(got.headers['x-raftkv-keys'], '3');
  assert.equal(got.trailers['x-raftkv-sha256'], 'ab'.repeat(32));
  await waitFor('finished', () => seen.outcomes.length === 1);
  assert.deepEqual(seen.outcomes, [{ sent: true, bytes: 12 * chunkBytes }]);
  assert.equal(seen.closed, true);
});

test('a stream that fails midway is cut off, not ended as if whole', async (t) => {
  const { stream, seen } = fakeStream(12, 5);
  const port = await serve(t, stream, 5000);
  const outcome = await new Promise<string>((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/admin/snapshot' }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.complete ? 'complete' : 'incomplete'));
        res.on('error', () => resolve('cut off'));
        res.on('close', () => resolve(res.complete ? 'complete' : 'cut off'));
      })
      .on('error', () => resolve('cut off'));
  });
  assert.equal(outcome, 'cut off');
  await waitFor('finished', () => seen.outcomes.length === 1);
  const [o] = seen.outcomes;
  assert.equal(o?.sent, false);
  assert.match(o?.sent === false ? o.reason : '', /failed: serialising failed/);
  assert.equal(seen.closed, true);
});
