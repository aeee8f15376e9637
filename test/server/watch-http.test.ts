// Goal: GET /watch through the real HTTP server (KvHttpServer, in process, a real WatchHub over a
// history the test drives): a 200 event stream with the SSE headers that replays then goes live;
// Last-Event-ID resumes after the id given; a start the history no longer holds is one
// `compacted` event and the end of the stream; bad watches are 400/413 in the API's error shape;
// a watch is neither refused by nor counted against --max-inflight, nor cut by the request
// timeout or the slow-reader sweep; a client that does not read is dropped once its backlog
// passes the bound, with where to resume; read permission as GET /kv and list; a graceful stop
// ends the open streams at once.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readAuthFile, UserTable } from '../../src/auth/index.js';
import { MAX_KEY_BYTES } from '../../src/kv/limits.js';
import { AccessControl } from '../../src/server/access.js';
import { bearer, testUsers, writeAuthFile } from '../support/auth.js';
import { request, testClient } from '../support/http.js';
import { waitFor, within } from '../support/wait.js';
import { openRaw, serveWatches } from '../support/watch-server.js';

/** The put/delete events of a raw SSE text, as `index:type:key`. */
function eventsOf(text: string): string[] {
  return [...text.matchAll(/^id: (\d+)\nevent: (put|delete)\ndata: (.*)\n\n/gm)].map((m) => {
    const data = JSON.parse(m[3]!) as { key: string; index: number };
    assert.equal(String(data.index), m[1]);
    return `${m[1]}:${m[2]}:${data.key}`;
  });
}

test('a watch is a 200 event stream that replays, then goes live', async (t) => {
  const s = await serveWatches(t);
  s.apply([['put', 'a', '1']], [['put', 'b']], [['put', 'a', '2']]);
  const w = await openRaw(s.port, '/watch?key=a&fromIndex=1');
  assert.equal(w.status, 200);
  assert.equal(w.headers['content-type'], 'text/event-stream');
  assert.equal(w.headers['cache-control'], 'no-cache');
  await w.until('"index":3}\n\n');
  assert.ok(w.text().startsWith(': watching from index 1\nid: 0\n\n'), w.text());
  assert.match(w.text(), /id: 1\nevent: put\ndata: \{"key":"a","value":"1","prevValue":null,"index":1\}\n\n/);
  assert.match(w.text(), /id: 3\nevent: put\ndata: \{"key":"a","value":"2","prevValue":"1","index":3\}\n\n/);
  s.apply([['delete', 'a']], [['put', 'c']]);
  await w.until('"index":4}\n\n');
  assert.deepEqual(eventsOf(w.text()), ['1:put:a', '3:put:a', '4:delete:a']);
  // Keepalives carry the progress: everything to 5 has been sent.
  await w.until(': keepalive\nid: 5\n\n');
  w.close();
  await waitFor('the watcher removed', () => s.hub.watchersOpen === 0);
});

test('Last-Event-ID resumes right after it; with fromIndex too the later start wins', async (t) => {
  const s = await serveWatches(t);
  s.apply([['put', 'p/1']], [['put', 'p/2']], [['put', 'q']], [['put', 'p/3']]);
  const resumed = await openRaw(s.port, '/watch?prefix=p%2F', { 'last-event-id': '2' });
  await resumed.until('"index":4}\n\n');
  assert.deepEqual(eventsOf(resumed.text()), ['4:put:p/3']);
  const both = await openRaw(s.port, '/watch?prefix=p%2F&fromIndex=1', { 'last-event-id': '1' });
  await both.until('"index":4}\n\n');
  assert.deepEqual(eventsOf(both.text()), ['2:put:p/2', '4:put:p/3']);
  resumed.close();
  both.close();
});

test('a start older than the history: one compacted event, then the stream ends', async (t) => {
  const s = await serveWatches(t);
  for (let i = 0; i < 5; i++) s.apply([['put', 'a']]);
  s.history.compactTo(4);
  const w = await openRaw(s.port, '/watch?key=a&fromIndex=2');
  assert.equal(w.status, 200);
  await w.end();
  assert.equal(w.text(), 'event: compacted\ndata: {"oldestIndex":4}\n\n');
  assert.equal(s.hub.watchersOpen, 0);
});

test('bad watches get 400 or 413 in the API error shape', async (t) => {
  const s = await serveWatches(t);
  const client = testClient(s.url);
  for (const [path, headers, status, about] of [
    ['/watch', {}, 400, /key=K .* or \?prefix=P/],
    ['/watch?key=a&prefix=b', {}, 400, /not both/],
    ['/watch?key=a&fromIndex=x', {}, 400, /fromIndex must be a log index/],
    ['/watch?key=a', { 'last-event-id': 'later' }, 400, /Last-Event-ID must be a log index/],
    [`/watch?key=${'k'.repeat(MAX_KEY_BYTES + 1)}`, {}, 413, /key/],
    [`/watch?prefix=${'k'.repeat(MAX_KEY_BYTES + 1)}`, {}, 413, /prefix/],
  ] as const) {
    const a = await request(client, 'GET', path, { headers });
    assert.equal(a.status, status, `${path.slice(0, 40)}: ${a.text}`);
    assert.equal(a.body.code, status === 400 ? 'bad_request' : 'too_large');
    assert.equal(a.body.definite, true);
    assert.match(a.body.error, about);
  }
  assert.equal((await request(client, 'POST', '/watch?key=a')).status, 404);
});

test('watches are not admission-counted, not cut by the request timeout, and leave room for requests', async (t) => {
  const s = await serveWatches(t, { http: { maxInflight: 1, requestTimeoutMs: 300 } });
  const watches = await Promise.all([1, 2, 3].map((i) => openRaw(s.port, `/watch?key=k${i}`)));
  assert.deepEqual(
    watches.map((w) => w.status),
    [200, 200, 200],
  );
  assert.equal(s.server.stats().inflight, 0);
  const get = await request(testClient(s.url), 'GET', '/kv/x');
  assert.equal(get.status, 404, get.text);
  // Well past the request timeout (keepalives every 100 ms), every stream is open and live.
  const from = s.service.keepalives;
  await waitFor('keepalives for more than a second', () => s.service.keepalives >= from + 3 * 12);
  s.apply([['put', 'k2']]);
  await watches[1]!.until('"index":1}\n\n');
  for (const w of watches) assert.equal(w.ended(), false);
  for (const w of watches) w.close();
});

test('a watch whose client reads slowly is spared by the slow-reader sweep', async (t) => {
  const mib = 1024 * 1024;
  const s = await serveWatches(t, { limits: { maxBufferedBytes: 256 * mib }, http: { slowReaderMs: 200 } });
  const w = await openRaw(s.port, '/watch?prefix=');
  await w.until('id: 0\n');
  w.res.pause();
  // More than the socket buffers hold: bytes wait in the node, none leaving.
  const value = 'x'.repeat(mib);
  for (let i = 1; i <= 16; i++) s.apply([['put', `k${i}`, value]]);
  await waitFor('bytes waiting for the client', () => s.service.buffered() > 0);
  const from = s.service.keepalives;
  await waitFor('keepalives well past the slow-reader timeout', () => s.service.keepalives >= from + 5);
  assert.ok(s.service.buffered() > 0, 'the client still read nothing');
  assert.equal(w.res.destroyed, false, 'the stream was not cut');
  w.res.resume();
  await w.until('"index":16}\n\n', 20_000);
  assert.equal(eventsOf(w.text().replace(/"value":"x+"/g, '"value":"x"')).length, 16);
  assert.equal(w.ended(), false);
  w.close();
});

test('a long replay is paced by the client, not dropped, however far back it starts', async (t) => {
  const kib = 1024;
  const s = await serveWatches(t, { limits: { maxBufferedBytes: 512 * kib } });
  const value = 'y'.repeat(256 * kib);
  for (let i = 1; i <= 40; i++) s.history.apply(['put', `k${i}`, value]);
  s.hub.dispatch();
  // 10 MiB of history, twenty times the bound: written as fast as the client reads it.
  const w = await openRaw(s.port, '/watch?prefix=k&fromIndex=1');
  w.res.pause();
  await waitFor('the replay waiting on the client', () => s.service.buffered() > 0);
  // It stopped at the socket's high-water mark (plus one event), far short of the history's size.
  assert.ok(s.service.buffered() < 512 * kib, `${s.service.buffered()} bytes waiting`);
  w.res.resume();
  s.apply([['put', 'k41', 'live']]);
  await w.until('"index":41}\n\n', 20_000);
  const events = eventsOf(w.text().replace(/"value":"y+"/g, '"value":"y"'));
  assert.deepEqual(
    events,
    Array.from({ length: 41 }, (_, i) => `${i + 1}:put:k${i + 1}`),
  );
  assert.equal(s.hub.watchersDropped, 0);
  w.close();
});

test('a client that falls too far behind is dropped, told where to resume', async (t) => {
  const mib = 1024 * 1024;
  const s = await serveWatches(t, { limits: { maxBufferedBytes: 2 * mib } });
  const w = await openRaw(s.port, '/watch?prefix=');
  await w.until('id: 0\n');
  w.res.pause();
  const value = 'x'.repeat(mib);
  for (let i = 1; i <= 16; i++) s.apply([['put', `k${i}`, value]]);
  await waitFor('the watcher dropped', () => s.hub.watchersDropped === 1);
  assert.equal(s.hub.watchersOpen, 0);
  w.res.resume();
  await w.end();
  const dropped = /id: (\d+)\nevent: dropped\ndata: \{"lastIndex":(\d+)\}\n\n$/.exec(w.text());
  assert.ok(dropped, w.text().slice(-200));
  const events = eventsOf(w.text().replace(/"value":"x+"/g, '"value":"x"'));
  // Every event before the drop, in order; lastIndex is the last one sent.
  assert.deepEqual(
    events,
    events.map((_, i) => `${i + 1}:put:k${i + 1}`),
  );
  assert.ok(events.length >= 1 && events.length < 16, `${events.length} events before the drop`);
  assert.equal(Number(dropped[2]), events.length);
  assert.equal(dropped[1], dropped[2]);
});

test('read permission: as GET /kv for a key, as a listing for a prefix', async (t) => {
  const file = await writeAuthFile(t);
  const users = await readAuthFile(file);
  const s = await serveWatches(t, {
    http: { access: new AccessControl({ users: () => users, metricsAuth: false }) },
  });
  const client = testClient(s.url);
  const as = (user: { token: string } | null) => ({ headers: user === null ? {} : bearer(user.token) });
  // Refusals come as plain answers, before any stream opens.
  for (const [path, user, status] of [
    ['/watch?key=a', null, 401],
    ['/watch?key=other', testUsers.appReader, 403],
    ['/watch?prefix=', testUsers.appReader, 403],
    ['/watch?prefix=ap', testUsers.appReader, 403],
  ] as const) {
    const a = await request(client, 'GET', path, as(user));
    assert.equal(a.status, status, `${path}: ${a.text}`);
  }
  for (const [path, user] of [
    ['/watch?key=app%2Fx', testUsers.appReader],
    ['/watch?prefix=app%2Fsub', testUsers.appReader],
    ['/watch?prefix=', testUsers.reader],
  ] as const) {
    const w = await openRaw(s.port, path, bearer(user.token));
    assert.equal(w.status, 200, path);
    w.close();
  }
  assert.equal(
    new AccessControl({ users: () => new UserTable([]), metricsAuth: false }).required('watch'),
    'read',
  );
});

test('a graceful stop ends the open watches at once', async (t) => {
  const s = await serveWatches(t);
  const watches = await Promise.all(['a', 'b'].map((k) => openRaw(s.port, `/watch?key=${k}`)));
  const closing = s.server.close();
  for (const w of watches) await w.end(5_000);
  for (const w of watches) assert.match(w.text(), /: the node is shutting down[^\n]*\n\n$/);
  await within('the server closed', closing, { timeoutMs: 5_000 });
  assert.equal(s.hub.watchersOpen, 0);
});
