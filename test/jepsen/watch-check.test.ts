// Goal: the watch workload's check fails a stream that misses, repeats, reorders or invents a
// change, or that stops short of the end, and a reference that lacks an acknowledged write; it
// passes exact streams, including one restarted after `compacted`.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { KvOp } from '../../src/check/index.js';
import type { WatchEvent } from '../../src/client/index.js';
import { WatchWorkload } from '../../src/jepsen/watch-workload.js';

const put = (index: number, key: string, value: string, prevValue: string | null = null): WatchEvent => ({
  index,
  type: 'put',
  key,
  value,
  prevValue,
});
const reference = [
  put(2, 'a', '1'),
  put(3, 'b', '1'),
  put(4, 'a', '2', '1'),
  put(4, 'c', 'x'),
  put(6, 'watch/end', 'e'),
];
const okPut = (key: string, value: string): KvOp =>
  ({
    id: 1,
    process: 0,
    kind: 'put',
    key,
    value,
    invokedAt: 0,
    completedAt: 1,
    outcome: { type: 'ok' },
  }) as KvOp;

function judge(streams: WatchEvent[][], register: KvOp[] = [], from: number[] = []) {
  const w = new WatchWorkload({ watchers: streams.length, retryMs: 10, log: () => {} });
  streams.forEach((events, watcher) => {
    w.spans.push({ watcher, from: from[watcher] ?? 1, events, end: 'stopped' });
  });
  return w.check({ from: 1, events: reference }, 6, register);
}

test('exact streams pass; missing, repeated, reordered, invented or short ones fail', () => {
  assert.deepEqual(judge([reference, reference]).problems, []);
  assert.equal(judge([reference], [okPut('a', '2')]).valid, true);
  const cases: [WatchEvent[], RegExp][] = [
    [reference.filter((_, i) => i !== 2), /event 2: got 4 put "c"/],
    [[...reference.slice(0, 2), reference[1]!, ...reference.slice(2)], /event 2: got 3 put "b"/],
    [[reference[1]!, reference[0]!, ...reference.slice(2)], /event 0/],
    [[...reference.slice(0, 2), put(3, 'z', 'made up'), ...reference.slice(2)], /event 2: got 3 put "z"/],
    [reference.slice(0, 3), /up to index 4 only/],
  ];
  for (const [stream, problem] of cases) {
    const r = judge([reference, stream]);
    assert.equal(r.valid, false);
    assert.match(r.problems.join('\n'), problem);
  }
  // A stream that started after a `compacted` is judged from where it started.
  assert.equal(judge([reference.slice(2)], [], [4]).valid, true);
  assert.equal(judge([reference.slice(3)], [], [4]).valid, false);
});

test('an acknowledged write missing from the committed history fails the run', () => {
  const r = judge([reference], [okPut('a', 'never seen')]);
  assert.equal(r.valid, false);
  assert.match(r.problems.join('\n'), /acknowledged write a=never seen/);
});
