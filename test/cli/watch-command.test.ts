// Goal: `raftkv watch KEY | --prefix P [--from-index N] [--json]` parses its command line (KEY or
// --prefix, never both or neither), prints one line per change (or JSON), goes on across a failed
// node through the endpoint list without missing or repeating a change, exits 0 when interrupted
// and 1 with what to do when the history no longer holds the start or the node refuses.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import type { Io } from '../../src/cli/io.js';
import { type CliDeps, runCli } from '../../src/cli/run.js';
import { formatChange, parseWatchCommand, runWatch, type WatchSource } from '../../src/cli/watch-command.js';
import { RaftkvApiError, WatchCompactedError, type WatchEvent } from '../../src/client/index.js';
import { capturedIo } from '../support/captured-io.js';
import { FakeHistory } from '../support/event-history.js';
import { within } from '../support/wait.js';
import { serveWatches } from '../support/watch-server.js';

const parse = (argv: string[], env: Record<string, string> = {}) => parseWatchCommand(argv, env);

test('the command line: KEY or --prefix P, --from-index, endpoints, --json', () => {
  const key = parse(['color']);
  assert.deepEqual(key.target, { key: 'color' });
  assert.equal(key.fromIndex, undefined);
  assert.equal(key.json, false);
  assert.deepEqual(
    key.endpoints.map((e) => e.label),
    ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
  );
  assert.deepEqual(parse(['--prefix', 'app/']).target, { prefix: 'app/' });
  assert.deepEqual(parse(['--prefix=']).target, { prefix: '' });
  const full = parse(['k', '--from-index', '42', '--json', '--endpoints', 'h:1,h:2', '--timeout', '2s']);
  assert.equal(full.fromIndex, 42);
  assert.equal(full.json, true);
  assert.equal(full.timeoutMs, 2000);
  assert.deepEqual(
    full.endpoints.map((e) => e.url),
    ['http://h:1', 'http://h:2'],
  );
  assert.equal(parse(['k'], { RAFTKV_TOKEN: 'tok' }).token, 'tok');
  for (const [argv, message] of [
    [[], /missing KEY/],
    [['k', '--prefix', 'p'], /not both/],
    [[''], /must not be empty/],
    [['a', 'b'], /unexpected argument "b"/],
    [['--prefix', 'p', 'b'], /not both/],
    [['k', '--from-index', '-1'], /needs a value|whole number/],
    [['k', '--from-index', 'soon'], /--from-index must be a whole number/],
    [['k', '--stale'], /unknown flag --stale/],
  ] as const) {
    assert.throws(
      () => parse([...argv]),
      (e) => e instanceof UsageError && message.test(e.message),
      argv.join(' '),
    );
  }
});

test('one line per change, or one JSON object', () => {
  const put: WatchEvent = { index: 7, type: 'put', key: 'k', value: 'v 1', prevValue: null };
  const del: WatchEvent = { index: 8, type: 'delete', key: 'k', value: null, prevValue: 'v 1' };
  assert.equal(formatChange(put, false), 'put k v 1 (index 7)\n');
  assert.equal(formatChange(del, false), 'delete k (index 8)\n');
  assert.equal(
    formatChange(put, true),
    '{"type":"put","key":"k","value":"v 1","prevValue":null,"index":7}\n',
  );
  assert.deepEqual(JSON.parse(formatChange(del, true)), {
    type: 'delete',
    key: 'k',
    value: null,
    prevValue: 'v 1',
    index: 8,
  });
});

/** A signal the test sends, as SIGINT would be. */
function signals(): { onSignal: (h: (s: string) => void) => void; send: () => void } {
  let handler: (s: string) => void = () => {};
  return { onSignal: (h) => (handler = h), send: () => handler('SIGINT') };
}

function failingSource(error: unknown): WatchSource {
  // biome-ignore lint/correctness/useYield: a watch that fails before its first event
  return async function* () {
    throw error;
  };
}

test('exit codes: 0 when interrupted; 1 with what to do when compacted or refused', async () => {
  const inv = parse(['k', '--endpoints', '127.0.0.1:1']);
  const sig = signals();
  const io = capturedIo();
  const running = runWatch(inv, io.io, {
    onSignal: sig.onSignal,
    source: async function* (_inv, signal) {
      yield { index: 1, type: 'put', key: 'k', value: 'a', prevValue: null };
      await new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason)));
    },
  });
  await io.until('put k a (index 1)\n');
  sig.send();
  assert.equal(await within('the watch stopped', running), 0);

  const compacted = capturedIo();
  const code = await runWatch(inv, compacted.io, {
    onSignal: () => {},
    source: failingSource(new WatchCompactedError('http://127.0.0.1:1', 3, 90)),
  });
  assert.equal(code, 1);
  assert.match(compacted.text(), /no longer kept \(the oldest kept is at index 90\).*--from-index/);

  const refused = capturedIo();
  const body = { error: 'user "u" may not watch keys', code: 'permission_denied', definite: true };
  assert.equal(
    await runWatch(inv, refused.io, {
      onSignal: () => {},
      source: failingSource(new RaftkvApiError('GET', '/watch?key=k', 403, body)),
    }),
    1,
  );
  assert.equal(refused.text(), 'raftkv: user "u" may not watch keys (permission_denied)\n');
});

test('raftkv watch across two nodes: the first stops, the watch goes on on the second', async (t) => {
  const history = new FakeHistory();
  const n1 = await serveWatches(t, { history });
  const n2 = await serveWatches(t, { history });
  const apply = (key: string, value: string) => {
    history.apply(['put', key, value]);
    n1.hub.dispatch();
    n2.hub.dispatch();
  };
  apply('app/a', '1'); // 1
  const sig = signals();
  const io = capturedIo();
  const deps: CliDeps = {
    io: io.io,
    startNode: () => assert.fail('not used'),
    start: { onSignal: () => {}, onStdinClosed: () => {} },
    cluster: { onSignal: () => {}, command: ['false'], pollIntervalMs: 1000, gracePeriodMs: 1000 },
    watch: { onSignal: sig.onSignal },
  };
  const endpoints = `${n1.url},${n2.url}`;
  const running = runCli(
    ['watch', '--prefix', 'app/', '--from-index', '1', '--endpoints', endpoints],
    {},
    deps,
  );
  await io.until('put app/a 1 (index 1)\n');
  apply('app/b', '2'); // 2
  await io.until('put app/b 2 (index 2)\n');
  await n1.stop();
  apply('other', 'x'); // 3
  apply('app/c', '3'); // 4
  await io.until('put app/c 3 (index 4)\n');
  sig.send();
  assert.equal(await within('raftkv watch stopped', running), 0);
  const lines = io
    .text()
    .split('\n')
    .filter((l) => l !== '');
  const host1 = n1.url.replace('http://', '');
  const host2 = n2.url.replace('http://', '');
  assert.deepEqual(lines, [
    'put app/a 1 (index 1)',
    'put app/b 2 (index 2)',
    `raftkv: watch: ${host1}: the stream ended; resuming after index 2 on ${host2}`,
    'put app/c 3 (index 4)',
  ]);
});

test('raftkv watch --help shows the usage', async () => {
  const io = capturedIo();
  const out: Io = io.io;
  const code = await runCli(
    ['watch', '--help'],
    {},
    {
      io: out,
      startNode: () => assert.fail('not used'),
      start: { onSignal: () => {}, onStdinClosed: () => {} },
      cluster: { onSignal: () => {}, command: ['false'], pollIntervalMs: 1000, gracePeriodMs: 1000 },
    },
  );
  assert.equal(code, 0);
  assert.match(io.text(), /Usage: raftkv watch KEY \| --prefix P \[--from-index N\]/);
  assert.match(io.text(), /--from-index N/);
});
