// Goal: the client's watch() gives every committed change once, in order, across whatever happens
// to the stream: the SSE text is read the same however it is cut into chunks; a stream cut midway
// through one index's events resumes with that index again and skips what was given; a node that
// stops is left for the next one with Last-Event-ID; a node's `dropped` resumes on it; a start
// the history no longer holds is WatchCompactedError; a refusal is RaftkvApiError, not retried;
// the caller's abort ends it.

import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { readAuthFile } from '../../src/auth/index.js';
import {
  RaftkvApiError,
  RaftkvClient,
  ResumePoint,
  type SseBlock,
  SseParser,
  WatchCompactedError,
  type WatchEvent,
  type WatchResume,
} from '../../src/client/index.js';
import { AccessControl } from '../../src/server/access.js';
import { formatEvent } from '../../src/server/watch-stream.js';
import { writeAuthFile } from '../support/auth.js';
import { FakeHistory } from '../support/event-history.js';
import { LOOPBACK } from '../support/ports.js';
import { waitFor, within } from '../support/wait.js';
import { serveWatches } from '../support/watch-server.js';

const brief = (e: WatchEvent): string => `${e.index}:${e.type}:${e.key}`;

/** Takes `n` events from a watch (then leaves it open). */
async function take(it: AsyncIterator<WatchEvent>, n: number): Promise<string[]> {
  const got: string[] = [];
  while (got.length < n) {
    const next = await within(`event ${got.length + 1} of ${n}`, it.next(), { timeoutMs: 10_000 });
    if (next.done) break;
    got.push(brief(next.value));
  }
  return got;
}

test('SSE text reads the same whatever the chunks: every split point, CR LF across chunks', () => {
  const stream =
    '\ufeff: watching from index 3\r\nid: 2\r\n\r\n' +
    'id: 3\nevent: put\ndata: {"a":1}\n\n' +
    'event: x\rdata: one\rdata:two\r\r' +
    ': keepalive\nid: 9\n\n' +
    'data\nid: 1\u00002\n\n';
  const whole = new SseParser().push(stream);
  const expected: SseBlock[] = [
    { event: null, data: null, id: '2' },
    { event: 'put', data: '{"a":1}', id: '3' },
    { event: 'x', data: 'one\ntwo', id: null },
    { event: null, data: null, id: '9' },
    { event: null, data: '', id: null },
  ];
  assert.deepEqual(whole, expected);
  for (let i = 0; i <= stream.length; i++) {
    for (const j of [i, Math.min(stream.length, i + 1), Math.min(stream.length, i + 7)]) {
      const p = new SseParser();
      const blocks = [
        ...p.push(stream.slice(0, i)),
        ...p.push(stream.slice(i, j)),
        ...p.push(stream.slice(j)),
      ];
      assert.deepEqual(blocks, expected, `split at ${i} and ${j}`);
    }
  }
});

test('the resume point: an index counts once something follows it; a cut one is asked again and skipped', () => {
  const p = new ResumePoint();
  assert.equal(p.resume(), null);
  p.other(4); // the stream opened from 5
  assert.equal(p.after(), 4);
  assert.ok(p.event(5));
  assert.ok(p.event(5));
  assert.equal(p.after(), 4, 'index 5 may not be whole yet');
  // Cut here: ask for 5 again, skip the two events of it already given.
  assert.equal(p.resume(), 4);
  p.other(4);
  assert.equal(p.event(5), false);
  assert.equal(p.event(5), false);
  assert.ok(p.event(5), 'the third event of 5 is new');
  assert.ok(p.event(7));
  assert.equal(p.after(), 6, 'everything before 7 has come');
  p.other(null);
  assert.equal(p.after(), 7);
  assert.equal(p.resume(), 7);
  assert.equal(p.event(7), false, 'never again once whole');
  assert.equal(p.event(6), false, 'never backwards');
});

/** A node that speaks raw SSE as the test scripts it: one function per request, in turn. */
async function scriptedNode(
  t: { after: (fn: () => Promise<void>) => void },
  script: ((req: http.IncomingMessage, res: http.ServerResponse) => void)[],
): Promise<{ url: string; requests: http.IncomingMessage[] }> {
  const requests: http.IncomingMessage[] = [];
  const server = http.createServer((req, res) => {
    requests.push(req);
    const step = script[requests.length - 1];
    if (step === undefined) {
      res.writeHead(503).end('{"error":"no more","code":"busy","definite":true}');
      return;
    }
    step(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://${LOOPBACK}:${(server.address() as AddressInfo).port}`, requests };
}

const sse = { 'content-type': 'text/event-stream' };
const put = (index: number, key: string): string =>
  formatEvent({ index, type: 'put', key, value: 'v', prevValue: null });

test('a stream cut midway through an index resumes with that index and skips what was given', async (t) => {
  const node = await scriptedNode(t, [
    (_req, res) => {
      res.writeHead(200, sse);
      // Index 5 has two events; the connection breaks after the first.
      res.write(`id: 4\n\n${put(5, 'a')}`);
      setTimeout(() => res.destroy(), 20);
    },
    (_req, res) => {
      res.writeHead(200, sse);
      res.write(`id: 4\n\n${put(5, 'a')}${put(5, 'b')}${put(6, 'c')}`);
    },
  ]);
  const client = new RaftkvClient(node.url, { keepAlive: false });
  const resumes: WatchResume[] = [];
  const it = client.watch({ prefix: '' }, { fromIndex: 5, onResume: (r) => resumes.push(r) });
  assert.deepEqual(await take(it, 3), ['5:put:a', '5:put:b', '6:put:c']);
  await it.return();
  assert.equal(node.requests[0]!.url, '/watch?prefix=&fromIndex=5');
  assert.equal(node.requests[0]!.headers['last-event-id'], undefined);
  assert.equal(node.requests[1]!.headers['last-event-id'], '4');
  assert.equal(resumes.length, 1);
  assert.equal(resumes[0]!.after, 4);
});

test('a node that stops is left for the next with Last-Event-ID: nothing missed, nothing repeated', async (t) => {
  const history = new FakeHistory();
  const n1 = await serveWatches(t, { history });
  const n2 = await serveWatches(t, { history });
  const apply = (key: string) => {
    history.apply(['put', key]);
    n1.hub.dispatch();
    n2.hub.dispatch();
  };
  apply('a'); // 1
  const other = new RaftkvClient(n2.url, { keepAlive: false });
  const client = new RaftkvClient(n1.url, { keepAlive: false, timeoutMs: 2000 });
  const resumes: WatchResume[] = [];
  const it = client.watch(
    { prefix: '' },
    { fromIndex: 1, failover: [other], onResume: (r) => resumes.push(r) },
  );
  assert.deepEqual(await take(it, 1), ['1:put:a']);
  apply('b'); // 2
  assert.deepEqual(await take(it, 1), ['2:put:b']);
  await n1.stop();
  apply('c'); // 3, applied while the watch moves over
  apply('d'); // 4
  assert.deepEqual(await take(it, 2), ['3:put:c', '4:put:d']);
  assert.equal(resumes.length, 1);
  assert.deepEqual(
    { from: resumes[0]!.from, to: resumes[0]!.to, after: resumes[0]!.after },
    {
      from: n1.url,
      to: n2.url,
      after: 2,
    },
  );
  await it.return();
});

test("a node's dropped resumes on the same node from the last index it sent", async (t) => {
  const node = await scriptedNode(t, [
    (_req, res) => {
      res.writeHead(200, sse);
      res.end(`id: 0\n\n${put(1, 'a')}id: 3\nevent: dropped\ndata: {"lastIndex":3}\n\n`);
    },
    (req, res) => {
      res.writeHead(200, sse);
      res.write(`id: ${req.headers['last-event-id']}\n\n${put(4, 'b')}`);
    },
  ]);
  const it = new RaftkvClient(node.url, { keepAlive: false }).watch({ key: 'x' });
  assert.deepEqual(await take(it, 2), ['1:put:a', '4:put:b']);
  assert.equal(node.requests[1]!.headers['last-event-id'], '3');
  await it.return();
});

test('compacted is WatchCompactedError; a refusal is RaftkvApiError at once; an abort ends it', async (t) => {
  const s = await serveWatches(t);
  for (let i = 0; i < 4; i++) s.apply([['put', 'a']]);
  s.history.compactTo(3);
  const client = new RaftkvClient(s.url, { keepAlive: false });
  await assert.rejects(
    async () => {
      for await (const _ of client.watch({ key: 'a' }, { fromIndex: 1 })) assert.fail('no event');
    },
    (e) => e instanceof WatchCompactedError && e.oldestIndex === 3,
  );

  const file = await writeAuthFile(t);
  const users = await readAuthFile(file);
  const guarded = await serveWatches(t, {
    http: { access: new AccessControl({ users: () => users, metricsAuth: false }) },
  });
  const anonymous = new RaftkvClient(guarded.url, { keepAlive: false });
  await assert.rejects(
    async () => {
      for await (const _ of anonymous.watch({ key: 'a' })) assert.fail('no event');
    },
    (e) => e instanceof RaftkvApiError && e.status === 401 && e.code === 'unauthenticated',
  );

  const abort = new AbortController();
  const it = client.watch({ key: 'b' }, { signal: abort.signal });
  const next = it.next();
  await waitFor('the watch open', () => s.hub.watchersOpen > 0);
  abort.abort(new Error('enough'));
  await assert.rejects(next, /enough/);
});
