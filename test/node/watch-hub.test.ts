// Goal: the watch hub (src/node/watch-hub.ts) tells each watcher every committed change to its key
// or prefix exactly once, in log order, one index at a time: replayed from the history, then
// live, with no gap and no repeat between the two; a start in the future waits for it; a start the
// history no longer reaches — at open, or because the history jumped past what was dispatched —
// is answered `compacted`, never passed over; a live watcher whose client leaves too much unread
// is ended `dropped` with the index it resumes after, and memory stays bounded; a catching-up
// watcher waits for its client's drain; routing costs a key lookup, not a scan of the watchers;
// keepalives come from one shared timer and carry progress; close removes a watcher everywhere.
// Against a fake history and fake sinks; no HTTP.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShuttingDownError } from '../../src/api/errors.js';
import type { WatchEnd, WatchEvent, WatchSink, WatchSpec } from '../../src/api/service.js';
import { type Command, encodeCommand } from '../../src/kv/command.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import type { NodeClock } from '../../src/node/clock.js';
import { WatchHub, type WatchLimits } from '../../src/node/watch-hub.js';
import { type Change, FakeHistory } from '../support/event-history.js';

/** A manual clock: `every` timers fire when the test ticks them. */
class ManualClock implements NodeClock {
  readonly timers = new Set<() => void>();
  now(): number {
    return 0;
  }
  every(_ms: number, fn: () => void): () => void {
    this.timers.add(fn);
    return () => this.timers.delete(fn);
  }
  after(_ms: number, fn: () => void): () => void {
    return this.every(_ms, fn);
  }
  soon(fn: () => void): void {
    fn();
  }
  tick(): void {
    for (const fn of [...this.timers]) fn();
  }
}

type Written =
  | { readonly kind: 'start'; readonly from: number }
  | { readonly kind: 'events'; readonly batch: readonly WatchEvent[] }
  | { readonly kind: 'keepalive'; readonly progress: number | null }
  | { readonly kind: 'end'; readonly how: WatchEnd };

/** A client's stream: what was written; a buffer that fills unless drained. */
class FakeSink implements WatchSink {
  readonly written: Written[] = [];
  bufferedBytes = 0;
  /** events() answers false once the buffer holds more than this (the socket's high-water mark). */
  highWaterMark = Number.POSITIVE_INFINITY;
  /** Bytes one event adds to the buffer. */
  eventBytes = 0;
  private drainWaiters: (() => void)[] = [];

  start(from: number): void {
    this.written.push({ kind: 'start', from });
  }
  events(batch: readonly WatchEvent[]): boolean {
    this.written.push({ kind: 'events', batch });
    this.bufferedBytes += batch.length * this.eventBytes;
    return this.bufferedBytes <= this.highWaterMark;
  }
  keepalive(progress: number | null): void {
    this.written.push({ kind: 'keepalive', progress });
  }
  end(how: WatchEnd): void {
    assert.equal(this.ended, null, 'end() is called at most once');
    this.written.push({ kind: 'end', how });
  }
  buffered(): number {
    return this.bufferedBytes;
  }
  onDrain(fn: () => void): void {
    this.drainWaiters.push(fn);
  }
  /** The client read everything. */
  drain(): void {
    this.bufferedBytes = 0;
    for (const fn of this.drainWaiters.splice(0)) fn();
  }

  get ended(): WatchEnd | null {
    const last = this.written.at(-1);
    return last?.kind === 'end' ? last.how : null;
  }
  /** Every event received, flattened, as `index:type:key`. */
  get seen(): string[] {
    return this.written.flatMap((w) =>
      w.kind === 'events' ? w.batch.map((e) => `${e.index}:${e.type}:${e.key}`) : [],
    );
  }
  get batches(): (readonly WatchEvent[])[] {
    return this.written.flatMap((w) => (w.kind === 'events' ? [w.batch] : []));
  }
}

function setup(limits: Partial<WatchLimits> = {}) {
  const history = new FakeHistory();
  const clock = new ManualClock();
  const hub = new WatchHub(() => history, clock, limits);
  const open = (spec: WatchSpec) => {
    const sink = new FakeSink();
    const handle = hub.open(spec, sink);
    return { sink, handle };
  };
  /** Entries applied, then the driver's dispatch. */
  const apply = (...entries: Change[][]) => {
    for (const changes of entries) history.apply(...changes);
    hub.dispatch();
  };
  return { history, clock, hub, open, apply };
}

test('replay from fromIndex, then live: every matching change once, in order, nothing else', () => {
  const { history, hub, open, apply } = setup();
  history.apply(['put', 'a']); // 1
  history.apply(['put', 'b']); // 2
  history.apply(['put', 'a']); // 3
  history.apply(['delete', 'a']); // 4
  hub.dispatch();
  const { sink } = open({ key: 'a', from: 2 });
  assert.deepEqual(sink.written[0], { kind: 'start', from: 2 });
  assert.deepEqual(sink.seen, ['3:put:a', '4:delete:a']);
  apply([['put', 'b']], [['put', 'a', 'x']], []); // 5, 6, 7 (7 changes no key)
  assert.deepEqual(sink.seen, ['3:put:a', '4:delete:a', '6:put:a']);
  const six = sink.batches.at(-1)![0]!;
  assert.deepEqual(six, { index: 6, type: 'put', key: 'a', value: 'x', prevValue: null });
  assert.equal(hub.eventsSent, 3);
  assert.equal(sink.ended, null);
});

test('the default start is the next index applied; fromIndex 0 means from the first entry', () => {
  const { history, open, apply } = setup();
  history.apply(['put', 'a']);
  const now = open({ key: 'a' });
  const all = open({ key: 'a', from: 0 });
  assert.deepEqual(now.sink.written[0], { kind: 'start', from: 2 });
  assert.deepEqual(all.sink.written[0], { kind: 'start', from: 1 });
  apply([['put', 'a']]);
  assert.deepEqual(now.sink.seen, ['2:put:a']);
  assert.deepEqual(all.sink.seen, ['1:put:a', '2:put:a']);
});

test('a start in the future: nothing before it, then everything from it', () => {
  const { open, apply } = setup();
  const { sink } = open({ prefix: '', from: 3 });
  apply([['put', 'a']], [['put', 'b']]);
  assert.deepEqual(sink.seen, []);
  apply([['put', 'c']], [['delete', 'a']]);
  assert.deepEqual(sink.seen, ['3:put:c', '4:delete:a']);
});

test('a start older than the history: one compacted answer with the oldest index kept', () => {
  const { history, hub, open } = setup();
  for (let i = 0; i < 10; i++) history.apply(['put', 'a']);
  history.compactTo(6);
  hub.dispatch();
  const { sink } = open({ key: 'a', from: 5 });
  assert.deepEqual(sink.written, [{ kind: 'end', how: { kind: 'compacted', oldestIndex: 6 } }]);
  assert.equal(hub.watchersOpen, 0);
  assert.equal(hub.watchesCompacted, 1);
  const ok = open({ key: 'a', from: 6 });
  assert.deepEqual(ok.sink.seen, ['6:put:a', '7:put:a', '8:put:a', '9:put:a', '10:put:a']);
});

test('a snapshot that jumps past what was dispatched ends the watchers it skipped, not the others', () => {
  const { history, hub, open, apply } = setup();
  apply([['put', 'a']]);
  const behind = open({ key: 'a' }); // wants 2 on
  const ahead = open({ key: 'a', from: 20 });
  history.jumpTo(10); // installed from the leader: 2..10 never seen here
  hub.dispatch();
  assert.deepEqual(behind.sink.ended, { kind: 'compacted', oldestIndex: 11 });
  assert.equal(ahead.sink.ended, null);
  assert.equal(hub.watchersOpen, 1);
  apply(...Array.from({ length: 10 }, () => [['put', 'a']] as Change[]));
  assert.deepEqual(ahead.sink.seen.slice(0, 1), ['20:put:a']);
});

test('the window moving past what was dispatched (events dropped before dispatch) is compacted too', () => {
  const { history, hub, open } = setup();
  const { sink } = open({ prefix: 'p/' });
  history.apply(['put', 'p/1']); // 1
  history.apply(['put', 'p/2']); // 2
  history.compactTo(2);
  hub.dispatch();
  assert.deepEqual(sink.seen, []);
  assert.deepEqual(sink.ended, { kind: 'compacted', oldestIndex: 2 });
});

test("the state machine's own history: a transaction's events arrive together, a compacted window is said", () => {
  const sm = new KvStateMachine({ history: { maxEvents: 3 } });
  let index = 0;
  const apply = (cmd: Command) =>
    sm.apply({ term: 1, index: ++index, type: 'command', data: encodeCommand(cmd) });
  const clock = new ManualClock();
  const hub = new WatchHub(() => sm.history, clock);
  const live = new FakeSink();
  hub.open({ prefix: 'k' }, live);
  apply({ op: 'put', key: 'k1', value: 'a' });
  apply({
    op: 'txn',
    compare: [],
    success: [
      { type: 'put', key: 'k2', value: 'b' },
      { type: 'delete', key: 'k1' },
    ],
    failure: [],
  });
  hub.dispatch();
  assert.deepEqual(live.seen, ['1:put:k1', '2:put:k2', '2:delete:k1']);
  // The window kept 3 events; older indexes are gone, and a watch from them is compacted.
  for (let i = 0; i < 3; i++) apply({ op: 'put', key: `k${i}`, value: 'x' });
  hub.dispatch();
  const old = new FakeSink();
  hub.open({ prefix: 'k', from: 1 }, old);
  assert.deepEqual(old.ended, { kind: 'compacted', oldestIndex: sm.history.firstCompleteIndex });
});

test('the events of one index go together, each watcher only its own', () => {
  const { open, apply } = setup();
  const a = open({ key: 'a' });
  const p = open({ prefix: 'x/' });
  const all = open({ prefix: '' });
  apply([
    ['put', 'a'],
    ['put', 'x/1'],
    ['delete', 'b'],
    ['put', 'x/2'],
  ]);
  assert.deepEqual(
    a.sink.batches.map((b) => b.map((e) => e.key)),
    [['a']],
  );
  assert.deepEqual(
    p.sink.batches.map((b) => b.map((e) => e.key)),
    [['x/1', 'x/2']],
  );
  assert.deepEqual(
    all.sink.batches.map((b) => b.map((e) => e.key)),
    [['a', 'x/1', 'b', 'x/2']],
  );
});

test('key and prefix matching with many watchers: exact keys only, prefixes by bytes, none repeated', () => {
  const { hub, open, apply } = setup();
  const keys = Array.from({ length: 2000 }, (_, i) => open({ key: `k${i}` }));
  // Two watchers per prefix: a prefix's watchers share one entry of the index.
  const prefixes = ['', 'k', 'k1', 'k10', 'k100', 'k1000', 'k19', 'z', 'ü', 'k1000/'].flatMap((prefix) => [
    { prefix, ...open({ prefix }) },
    { prefix, ...open({ prefix }) },
  ]);
  assert.equal(hub.watchersOpen, 2020);
  const written = ['k1000', 'k7', 'k19', 'üx', 'q', 'k1000/a'];
  apply(...written.map((key) => [['put', key]] as Change[]));
  keys.forEach((w, i) => {
    const expected = written.flatMap((key, j) => (key === `k${i}` ? [`${j + 1}:put:${key}`] : []));
    assert.deepEqual(w.sink.seen, expected, `k${i}`);
  });
  for (const w of prefixes) {
    const expected = written.flatMap((key, j) => (key.startsWith(w.prefix) ? [`${j + 1}:put:${key}`] : []));
    assert.deepEqual(w.sink.seen, expected, `prefix ${JSON.stringify(w.prefix)}`);
  }
});

test('routing an event does not visit the watchers of other keys', () => {
  const { hub, open, apply } = setup();
  const others = Array.from({ length: 5000 }, (_, i) => open({ key: `other-${i}` }).sink);
  let visits = 0;
  for (const s of others) {
    const buffered = s.buffered.bind(s);
    s.buffered = () => {
      visits++;
      return buffered();
    };
  }
  const mine = open({ key: 'mine' });
  apply([['put', 'mine']], [['put', 'nobody']]);
  assert.equal(visits, 0, 'no other watcher was looked at');
  assert.deepEqual(mine.sink.seen, ['1:put:mine']);
  assert.equal(hub.watchersOpen, 5001);
});

test('a live watcher whose client leaves too much unread is dropped with where to resume; memory bounded', () => {
  const { hub, open, apply } = setup({ maxBufferedBytes: 1000 });
  const slow = open({ key: 'a' });
  slow.sink.eventBytes = 300;
  const fast = open({ key: 'a' });
  for (let i = 0; i < 50; i++) {
    apply([['put', 'a']]);
    fast.sink.drain();
    // The node never writes a watcher more than its bound plus one index's events.
    assert.ok(slow.sink.bufferedBytes <= 1000 + 300, `${slow.sink.bufferedBytes} bytes buffered`);
  }
  // 300, 600, 900, 1200 bytes after indexes 1..4; index 5 finds 1200 > 1000 unread.
  assert.deepEqual(slow.sink.seen, ['1:put:a', '2:put:a', '3:put:a', '4:put:a']);
  assert.deepEqual(slow.sink.ended, { kind: 'dropped', lastIndex: 4 });
  assert.equal(fast.sink.seen.length, 50);
  assert.equal(hub.watchersDropped, 1);
  assert.equal(hub.watchersOpen, 1);
  // Resuming after lastIndex gets the rest, none repeated.
  const resumed = open({ key: 'a', from: 5 });
  assert.deepEqual(resumed.sink.seen, fast.sink.seen.slice(4));
});

test('many slow watchers together are bounded too: past the node-wide budget, a lagging one is dropped', () => {
  // Each may leave 1000 bytes unread, but all together only 1500: the third lagging one goes.
  const { hub, open, apply } = setup({ maxBufferedBytes: 1000, maxTotalBufferedBytes: 1500 });
  const slow = [open({ key: 'a' }), open({ key: 'a' }), open({ key: 'a' })];
  for (const w of slow) w.sink.eventBytes = 300;
  apply([['put', 'a']], [['put', 'a']]); // 600 bytes each, 1800 in all
  apply([['put', 'a']]);
  const dropped = slow.filter((w) => w.sink.ended !== undefined && w.sink.ended !== null);
  assert.ok(dropped.length >= 1, 'a lagging watcher was dropped');
  for (const w of dropped) assert.deepEqual(w.sink.ended, { kind: 'dropped', lastIndex: 2 });
  assert.equal(hub.watchersOpen, 3 - dropped.length);
});

test('a catching-up watcher reads the history as its client drains, then goes live without a gap', () => {
  const { history, hub, apply } = setup();
  for (let i = 0; i < 100; i++) history.apply(['put', `k${i % 3}`]);
  hub.dispatch();
  const sink = new FakeSink();
  sink.eventBytes = 100;
  sink.highWaterMark = 1000;
  hub.open({ prefix: 'k', from: 1 }, sink);
  // Stopped once the buffer passed its high-water mark: 11 events of 100 bytes.
  assert.equal(sink.seen.length, 11);
  // Live writes meanwhile are not sent to it out of order; they come after the replay.
  apply([['put', 'k0']], [['put', 'k1']]);
  assert.equal(sink.seen.length, 11);
  while (sink.seen.length < 102) {
    const before = sink.seen.length;
    sink.drain();
    assert.ok(sink.seen.length > before, 'each drain lets more through');
  }
  const indexes = sink.seen.map((s) => Number(s.split(':')[0]));
  assert.deepEqual(
    indexes,
    Array.from({ length: 102 }, (_, i) => i + 1),
  );
  sink.highWaterMark = Number.POSITIVE_INFINITY;
  apply([['put', 'k2']]);
  assert.equal(sink.seen.at(-1), '103:put:k2');
  assert.equal(sink.ended, null);
});

test('a catching-up watcher whose history is compacted while it waits ends compacted', () => {
  const { history, hub, open } = setup();
  for (let i = 0; i < 20; i++) history.apply(['put', 'a']);
  hub.dispatch();
  const { sink } = open({ key: 'a', from: 1 });
  const paused = new FakeSink();
  paused.eventBytes = 1;
  paused.highWaterMark = 2;
  hub.open({ key: 'a', from: 1 }, paused);
  assert.equal(paused.seen.length, 3);
  history.compactTo(10);
  paused.drain();
  assert.deepEqual(paused.ended, { kind: 'compacted', oldestIndex: 10 });
  assert.equal(sink.seen.length, 20);
});

test('keepalives: one shared timer while watchers are open, with progress once there is news', () => {
  const { clock, hub, open, apply } = setup();
  assert.equal(clock.timers.size, 0, 'no timer while no one watches');
  const a = open({ key: 'a' });
  const b = open({ key: 'b' });
  const c = open({ prefix: 'c' });
  assert.equal(clock.timers.size, 1, 'one timer for every watcher');
  apply([['put', 'a']], [['put', 'x']]);
  clock.tick();
  const lastKeepalive = (s: FakeSink) => s.written.filter((w) => w.kind === 'keepalive').at(-1);
  // a was sent index 1 and has been told everything to 2 since; b and c never had an event.
  assert.deepEqual(lastKeepalive(a.sink), { kind: 'keepalive', progress: 2 });
  assert.deepEqual(lastKeepalive(b.sink), { kind: 'keepalive', progress: 2 });
  clock.tick();
  assert.deepEqual(lastKeepalive(c.sink), { kind: 'keepalive', progress: null }, 'nothing new');
  a.handle.close();
  b.handle.close();
  assert.equal(clock.timers.size, 1);
  c.handle.close();
  assert.equal(clock.timers.size, 0, 'the timer stops with the last watcher');
  assert.equal(hub.watchersOpen, 0);
});

test('close removes a watcher from everything; close twice is harmless; hub close ends the rest', () => {
  const { hub, open, apply } = setup();
  const a = open({ key: 'a' });
  const p = open({ prefix: 'a' });
  const q = open({ prefix: 'b' });
  a.handle.close();
  a.handle.close();
  p.handle.close();
  apply([['put', 'a']]);
  assert.deepEqual(a.sink.seen, []);
  assert.deepEqual(p.sink.seen, []);
  assert.equal(a.sink.ended, null, 'a client that left is not written to');
  assert.equal(hub.watchersOpen, 1);
  hub.close();
  assert.deepEqual(q.sink.ended, { kind: 'closed' });
  assert.equal(hub.watchersOpen, 0);
  assert.throws(
    () => hub.open({ key: 'a' }, new FakeSink()),
    (e) => e instanceof ShuttingDownError,
  );
});

test('a watcher closed from inside its own delivery is not written to again', () => {
  const { open, apply } = setup();
  const w = open({ prefix: '' });
  const events = w.sink.events.bind(w.sink);
  w.sink.events = (batch) => {
    const r = events(batch);
    w.handle.close();
    return r;
  };
  apply([['put', 'a']], [['put', 'b']]);
  assert.deepEqual(w.sink.seen, ['1:put:a']);
});
