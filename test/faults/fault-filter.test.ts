// Goal: the transport's fault filter (src/transport/fault-filter.ts) drops exactly the messages of
// the links it cuts — outgoing to dropTo, incoming from dropFrom, everything both ways when
// isolated — and delays outgoing messages without ever reordering those to one peer, even when the
// delay is shortened or a link is cut while messages wait; a full delay queue drops, counted. The
// forwarding frames (a proposal handed to the leader, its answer) are treated like the messages,
// and no proposal is handed over a link cut either way.
// Driven on a fake transport and a manual clock: no sockets, no real time.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Heartbeat, Message } from '../../src/raft/index.js';
import {
  FaultFilter,
  type FilterableTransport,
  type FilterTimer,
  maxDelayedPerPeer,
} from '../../src/transport/fault-filter.js';
import type { ForwardFrame, TransportEvent } from '../../src/transport/index.js';

class FakeTransport implements FilterableTransport {
  readonly sent: Message[] = [];
  /** Messages and forwarding frames, in the order they were handed over. */
  readonly order: string[] = [];
  private handler: ((m: Message) => void) | null = null;
  private forwardHandler: ((from: string, f: ForwardFrame) => void) | null = null;
  send(m: Message): boolean {
    this.sent.push(m);
    this.order.push(`m:${m.to}`);
    return true;
  }
  canForwardTo(): boolean {
    return true;
  }
  sendForward(to: string, f: ForwardFrame): boolean {
    this.order.push(`f${f.requestId}:${to}`);
    return true;
  }
  onForward(h: (from: string, f: ForwardFrame) => void): () => void {
    this.forwardHandler = h;
    return () => {};
  }
  arriveForward(from: string, f: ForwardFrame): void {
    this.forwardHandler?.(from, f);
  }
  setPeer(): void {}
  async removePeer(): Promise<void> {}
  onMessage(h: (m: Message) => void): () => void {
    this.handler = h;
    return () => {};
  }
  onEvent(_l: (e: TransportEvent) => void): () => void {
    return () => {};
  }
  stats(): unknown {
    return { messagesReceived: 0 };
  }
  arrive(m: Message): void {
    this.handler?.(m);
  }
}

/** Time moves only when the test says; due timers fire in order. */
class ManualTimer implements FilterTimer {
  private t = 0;
  private timers: { at: number; fn: () => void; live: boolean }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn, live: true };
    this.timers.push(timer);
    return () => {
      timer.live = false;
    };
  }
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const due = this.timers.filter((x) => x.live && x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.t = due.at;
      due.live = false;
      due.fn();
    }
    this.t = end;
    this.timers = this.timers.filter((x) => x.live);
  }
}

let round = 0;
function hb(from: string, to: string): Heartbeat {
  return { type: 'Heartbeat', from, to, term: 1, leaderCommit: 0, readRound: ++round };
}

function setup(): { inner: FakeTransport; timer: ManualTimer; filter: FaultFilter; got: Message[] } {
  const inner = new FakeTransport();
  const timer = new ManualTimer();
  const filter = new FaultFilter(inner, timer);
  const got: Message[] = [];
  filter.onMessage((m) => got.push(m));
  return { inner, timer, filter, got };
}

const none = { dropTo: [], dropFrom: [], isolate: false, messageDelayMs: 0 };

test('dropTo and dropFrom cut one direction of one link; isolate cuts every link both ways', () => {
  const { inner, filter, got } = setup();
  filter.set({ ...none, dropTo: ['n2'], dropFrom: ['n3'] });
  assert.equal(filter.send(hb('n1', 'n2')), false);
  assert.equal(filter.send(hb('n1', 'n3')), true);
  inner.arrive(hb('n2', 'n1'));
  inner.arrive(hb('n3', 'n1'));
  assert.deepEqual(
    inner.sent.map((m) => m.to),
    ['n3'],
  );
  assert.deepEqual(
    got.map((m) => m.from),
    ['n2'],
  );

  filter.set({ ...none, isolate: true });
  filter.send(hb('n1', 'n3'));
  inner.arrive(hb('n2', 'n1'));
  assert.equal(inner.sent.length, 1);
  assert.equal(got.length, 1);

  filter.set(none);
  filter.send(hb('n1', 'n2'));
  inner.arrive(hb('n3', 'n1'));
  assert.equal(inner.sent.length, 2);
  assert.equal(got.length, 2);
  const stats = filter.filterStats();
  assert.deepEqual(stats, { droppedOut: 2, droppedIn: 2, droppedDelayed: 0, delayedNow: 0 });
  assert.deepEqual((filter.stats() as { faults: unknown }).faults, stats);
});

test('a delay holds each message its time and keeps the order per peer, even when shortened', () => {
  const { inner, timer, filter } = setup();
  filter.set({ ...none, messageDelayMs: 100 });
  const a = hb('n1', 'n2');
  const b = hb('n1', 'n3');
  filter.send(a);
  timer.advance(50);
  filter.send(b);
  // Shortened: a message sent now may not overtake the one to n2 still waiting.
  filter.set({ ...none, messageDelayMs: 10 });
  const c = hb('n1', 'n2');
  filter.send(c);
  timer.advance(49);
  assert.deepEqual(inner.sent, []);
  timer.advance(1);
  assert.deepEqual(inner.sent, [a, c]);
  timer.advance(50);
  assert.deepEqual(inner.sent, [a, c, b]);
  // No delay and nothing waiting: straight through.
  filter.set(none);
  const d = hb('n1', 'n2');
  filter.send(d);
  assert.deepEqual(inner.sent.at(-1), d);
  assert.equal(filter.filterStats().delayedNow, 0);
});

test('messages waiting out a delay are dropped if their link is cut meanwhile', () => {
  const { inner, timer, filter } = setup();
  filter.set({ ...none, messageDelayMs: 100 });
  filter.send(hb('n1', 'n2'));
  filter.send(hb('n1', 'n3'));
  filter.set({ ...none, messageDelayMs: 100, dropTo: ['n2'] });
  timer.advance(100);
  assert.deepEqual(
    inner.sent.map((m) => m.to),
    ['n3'],
  );
  assert.equal(filter.filterStats().droppedOut, 1);
});

test('a full delay queue drops newer messages, counted; close() drops what waits', () => {
  const { inner, timer, filter } = setup();
  filter.set({ ...none, messageDelayMs: 1000 });
  for (let i = 0; i < maxDelayedPerPeer; i++) assert.equal(filter.send(hb('n1', 'n2')), true);
  assert.equal(filter.send(hb('n1', 'n2')), false);
  assert.equal(filter.filterStats().droppedDelayed, 1);
  assert.equal(filter.filterStats().delayedNow, maxDelayedPerPeer);
  filter.close();
  timer.advance(2000);
  assert.equal(inner.sent.length, 0);
  assert.equal(filter.filterStats().delayedNow, 0);
});

test('forwarding frames: cut links drop them, delays keep them in order with the messages', () => {
  const { inner, timer, filter } = setup();
  const got: string[] = [];
  filter.onForward((from, f) => got.push(`${from}:${f.requestId}`));
  const frame = (requestId: number): ForwardFrame => ({
    kind: 'forwardAppended',
    requestId,
    index: requestId,
    term: 1,
  });
  assert.equal(filter.canForwardTo('n2'), true);
  filter.set({ ...none, dropTo: ['n2'] });
  assert.equal(filter.canForwardTo('n2'), false, 'the proposal could not go out');
  assert.equal(filter.sendForward('n2', frame(1)), false);
  filter.set({ ...none, dropFrom: ['n2'] });
  assert.equal(filter.canForwardTo('n2'), false, 'its answer could not come back');
  inner.arriveForward('n2', frame(2));
  inner.arriveForward('n3', frame(3));
  assert.deepEqual(got, ['n3:3']);
  filter.set({ ...none, isolate: true });
  assert.equal(filter.canForwardTo('n3'), false);

  filter.set({ ...none, messageDelayMs: 100 });
  filter.send(hb('n1', 'n2'));
  assert.equal(filter.sendForward('n2', frame(4)), true);
  filter.send(hb('n1', 'n2'));
  assert.deepEqual(inner.order, []);
  timer.advance(100);
  assert.deepEqual(inner.order, ['m:n2', 'f4:n2', 'm:n2']);
  filter.set(none);
  filter.sendForward('n3', frame(5));
  assert.deepEqual(inner.order.at(-1), 'f5:n3');
  assert.deepEqual(filter.filterStats(), { droppedOut: 1, droppedIn: 1, droppedDelayed: 0, delayedNow: 0 });
});

test('over a transport without forwarding, the filter forwards nothing', () => {
  const bare: FilterableTransport = {
    send: () => true,
    setPeer: () => {},
    removePeer: async () => {},
    onMessage: () => () => {},
    onEvent: () => () => {},
    stats: () => ({}),
  };
  const filter = new FaultFilter(bare, new ManualTimer());
  assert.equal(filter.canForwardTo('n2'), false);
  assert.equal(filter.sendForward('n2', { kind: 'forwardAppended', requestId: 1, index: 1, term: 1 }), false);
});
