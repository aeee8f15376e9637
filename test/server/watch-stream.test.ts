// Goal: GET /watch's request is checked like the reads' (key XOR prefix, the key limits with 413,
// fromIndex and Last-Event-ID as log indexes, the later of the two winning), and its answer is
// framed as the SSE standard reads it: `id`, `event`, one-line JSON `data`, a blank line; progress
// markers carry an id and no data; the node's last words are `compacted` and `dropped`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BadRequestError, TooLargeError } from '../../src/api/errors.js';
import type { WatchSpec } from '../../src/api/service.js';
import { MAX_KEY_BYTES } from '../../src/kv/limits.js';
import { findRoute, parseRequest, type RequestHead } from '../../src/server/validate.js';
import { formatEnd, formatEvent, formatProgress } from '../../src/server/watch-stream.js';

function head(query: string, headers: Record<string, string[]> = {}): RequestHead {
  return {
    method: 'GET',
    path: '/watch',
    query: new URLSearchParams(query),
    header: (name) => headers[name],
  };
}

function parse(query: string, headers: Record<string, string[]> = {}): WatchSpec {
  const r = parseRequest('watch', head(query, headers), Buffer.alloc(0));
  assert.equal(r.route, 'watch');
  return r.route === 'watch' ? r.watch : assert.fail();
}

function refused(query: string, kind: typeof BadRequestError | typeof TooLargeError, about: RegExp) {
  return refusedWith(query, {}, kind, about);
}

function refusedWith(
  query: string,
  headers: Record<string, string[]>,
  kind: typeof BadRequestError | typeof TooLargeError,
  about: RegExp,
) {
  assert.throws(
    () => parse(query, headers),
    (e) => e instanceof kind && about.test((e as Error).message),
    `${query} ${JSON.stringify(headers)}`,
  );
}

test('the route: GET /watch only', () => {
  assert.equal(findRoute('GET', '/watch'), 'watch');
  assert.equal(findRoute('POST', '/watch'), null);
  assert.equal(findRoute('GET', '/watch/a'), null);
});

test('a key or a prefix, and where to start', () => {
  assert.deepEqual(parse('key=a%2Fb'), { key: 'a/b' });
  assert.deepEqual(parse('prefix=app%2F'), { prefix: 'app/' });
  assert.deepEqual(parse('prefix='), { prefix: '' }, 'the empty prefix watches every key');
  assert.deepEqual(parse('key=a&fromIndex=0'), { key: 'a', from: 0 });
  assert.deepEqual(parse('key=a&fromIndex=42'), { key: 'a', from: 42 });
  assert.deepEqual(parse('key=a', { 'last-event-id': ['41'] }), { key: 'a', from: 42 });
  assert.deepEqual(parse('key=a', { 'last-event-id': [''] }), { key: 'a' }, 'an empty id is no resume point');
  // Both: the later start wins (an EventSource reconnects to its URL with the id it reached).
  assert.deepEqual(parse('key=a&fromIndex=10', { 'last-event-id': ['41'] }), { key: 'a', from: 42 });
  assert.deepEqual(parse('key=a&fromIndex=50', { 'last-event-id': ['41'] }), { key: 'a', from: 50 });
  assert.deepEqual(parse('key=a&other=ignored'), { key: 'a' });
});

test('bad watches are 400 naming the problem, and 413 past the key limit', () => {
  refused('', BadRequestError, /needs \?key=K .* or \?prefix=P/);
  refused('fromIndex=3', BadRequestError, /needs \?key=K/);
  refused('key=a&prefix=b', BadRequestError, /either key .* or prefix .*not both/);
  refused('key=', BadRequestError, /key/);
  refused('key=a&key=b', BadRequestError, /"key" must be given at most once/);
  refused('prefix=a&prefix=b', BadRequestError, /"prefix" must be given at most once/);
  refused('key=a&fromIndex=-1', BadRequestError, /fromIndex must be a log index/);
  refused('key=a&fromIndex=1e3', BadRequestError, /fromIndex must be a log index/);
  refused('key=a&fromIndex=', BadRequestError, /fromIndex must be a log index/);
  refused('key=a&fromIndex=99999999999999999', BadRequestError, /fromIndex must be a log index/);
  refused('key=a&fromIndex=1&fromIndex=2', BadRequestError, /"fromIndex" must be given at most once/);
  refused(`key=${'k'.repeat(MAX_KEY_BYTES + 1)}`, TooLargeError, /key/);
  refused(`prefix=${'k'.repeat(MAX_KEY_BYTES + 1)}`, TooLargeError, /prefix is longer than the key limit/);
  refusedWith('key=a', { 'last-event-id': ['x7'] }, BadRequestError, /Last-Event-ID must be a log index/);
  refusedWith('key=a', { 'last-event-id': ['-3'] }, BadRequestError, /Last-Event-ID must be a log index/);
  refusedWith(
    'key=a',
    { 'last-event-id': ['1', '2'] },
    BadRequestError,
    /Last-Event-ID must be given at most once/,
  );
});

/** Reads SSE text as the standard's parser does: the events it dispatches and the last event id. */
function readSse(text: string): { events: { type: string; data: string; id: string }[]; lastId: string } {
  const events: { type: string; data: string; id: string }[] = [];
  let lastId = '';
  let type = '';
  let data: string[] = [];
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (data.length > 0) events.push({ type: type || 'message', data: data.join('\n'), id: lastId });
      type = '';
      data = [];
      continue;
    }
    if (line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') type = value;
    else if (field === 'id') lastId = value;
  }
  return { events, lastId };
}

test('an event: id, type, one line of JSON data, a blank line', () => {
  const text = formatEvent({ index: 7, type: 'put', key: 'a\nb', value: 'x\r\ny', prevValue: null });
  assert.equal(
    text,
    'id: 7\nevent: put\ndata: {"key":"a\\nb","value":"x\\r\\ny","prevValue":null,"index":7}\n\n',
  );
  const del = formatEvent({ index: 8, type: 'delete', key: 'k', value: null, prevValue: 'v' });
  const { events, lastId } = readSse(text + del);
  assert.deepEqual(
    events.map((e) => [e.type, e.id, JSON.parse(e.data)]),
    [
      ['put', '7', { key: 'a\nb', value: 'x\r\ny', prevValue: null, index: 7 }],
      ['delete', '8', { key: 'k', value: null, prevValue: 'v', index: 8 }],
    ],
  );
  assert.equal(lastId, '8');
});

test('progress markers move the client id and dispatch nothing; the ends are their own events', () => {
  const text = `: keepalive\n${formatProgress(12)}`;
  assert.deepEqual(readSse(text), { events: [], lastId: '12' });
  assert.equal(
    formatEnd({ kind: 'compacted', oldestIndex: 30 }),
    'event: compacted\ndata: {"oldestIndex":30}\n\n',
  );
  const dropped = readSse(formatEnd({ kind: 'dropped', lastIndex: 9 }));
  assert.deepEqual(dropped, { events: [{ type: 'dropped', data: '{"lastIndex":9}', id: '9' }], lastId: '9' });
  assert.deepEqual(readSse(formatEnd({ kind: 'closed' })), { events: [], lastId: '' });
});
