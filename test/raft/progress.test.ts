// Goal: the leader's view of one follower (progress/progress.ts), rule by rule: what each state
// (probe, replicate, snapshot) lets the leader send, what an acknowledgement or a rejection does to
// next and match, and — as properties over random histories — the invariants every transition
// keeps. Last, the conflict hint of §3.5 end to end: the follower's hint and the leader's answer
// to it find exactly where two logs stop agreeing, skipping a whole term per round trip.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { initialMembership } from '../../src/raft/index.js';
import { RaftLog } from '../../src/raft/log.js';
import { Progress } from '../../src/raft/progress/progress.js';
import { MemoryLogStorage } from '../../src/raft/storage.js';

/** A fresh follower's progress, as a new leader whose last index is 10 makes it. */
const fresh = (window = 3): Progress => new Progress(11, window, 1 << 20);

test('a new follower is probed: next is after the leader’s last entry and nothing is known to match', () => {
  const pr = fresh();
  assert.equal(pr.state, 'probe');
  assert.equal(pr.match, 0);
  assert.equal(pr.next, 11);
  assert.equal(pr.isPaused(), false);
});

test('probe: one AppendEntries at a time — paused once sent, until an answer arrives', () => {
  const pr = fresh();
  pr.sentEntries(12, 10, 2);
  assert.equal(pr.isPaused(), true, 'a probe is out');
  assert.equal(pr.next, 11, 'a probe does not move next: the follower may reject it');
  // An acknowledgement unpauses and moves match and next.
  assert.equal(pr.maybeUpdate(12), true);
  assert.equal(pr.isPaused(), false);
  assert.deepEqual([pr.match, pr.next], [12, 13]);
  // So does a rejection of the probe that is out (the follower answered it).
  pr.sentEntries(13, 0, 0);
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.onRejected(12, 12), true);
  assert.equal(pr.isPaused(), false);
});

test('probe → replicate: streaming restarts right after match', () => {
  const pr = fresh();
  pr.maybeUpdate(7);
  pr.becomeReplicate();
  assert.equal(pr.state, 'replicate');
  assert.deepEqual([pr.match, pr.next], [7, 8]);
});

test('replicate: sending advances next at once; at most the window is in flight; acknowledgements free it', () => {
  const pr = fresh(2);
  pr.maybeUpdate(10);
  pr.becomeReplicate();
  pr.sentEntries(12, 100, 2);
  assert.equal(pr.next, 13, 'optimistic: next moves as the leader sends');
  assert.equal(pr.isPaused(), false);
  pr.sentEntries(15, 100, 3);
  assert.equal(pr.next, 16);
  assert.equal(pr.isPaused(), true, 'two messages in flight fill a window of two');
  // An AppendEntries without entries (a commit index to carry) takes no room in the window.
  assert.equal(pr.inflights.count(), 2);
  pr.maybeUpdate(12);
  pr.inflights.freeThrough(12);
  assert.equal(pr.isPaused(), false, 'the acknowledgement of the first frees a slot');
  assert.deepEqual([pr.match, pr.next], [12, 16], 'an acknowledgement never moves next back');
});

test('replicate: a bytes budget pauses too', () => {
  const pr = new Progress(1, 100, 1000);
  pr.becomeReplicate();
  pr.sentEntries(1, 999, 1);
  assert.equal(pr.isPaused(), false);
  pr.sentEntries(2, 1, 1);
  assert.equal(pr.isPaused(), true, '1000 bytes in flight');
});

test('replicate: a rejection above match sends next back to match + 1; one at or below match is stale', () => {
  const pr = fresh();
  pr.maybeUpdate(10);
  pr.becomeReplicate();
  pr.sentEntries(14, 0, 4);
  assert.equal(pr.onRejected(10, 3), false, 'rejects prevLogIndex 10 ≤ match: a reordered echo');
  assert.equal(pr.next, 15);
  assert.equal(pr.onRejected(12, 3), true);
  assert.equal(pr.next, 11, 'back to just after match; the hint is not trusted below match');
});

test('probe: only the answer to the probe that is out counts; next follows the hint, never below match + 1', () => {
  // As after a new leader whose last index is 10: probing from there, the follower known to hold 3.
  const pr = fresh();
  pr.maybeUpdate(3);
  assert.equal(pr.next, 11);
  pr.sentEntries(10, 0, 0);
  assert.equal(pr.onRejected(7, 2), false, 'the probe out named prevLogIndex 10, not 7');
  assert.equal(pr.next, 11);
  assert.equal(pr.onRejected(10, 6), true, 'the hint says the logs may agree up to 6');
  assert.equal(pr.next, 7);
  pr.sentEntries(6, 0, 0);
  assert.equal(pr.onRejected(6, 0), true);
  assert.equal(pr.next, 4, 'never below match + 1, whatever the hint');
  // A hint above the rejected index cannot move next forward.
  const ahead = new Progress(9, 3, 1 << 20);
  ahead.maybeUpdate(3);
  ahead.sentEntries(8, 0, 0);
  assert.equal(ahead.onRejected(8, 20), true);
  assert.equal(ahead.next, 8);
});

test('snapshot: nothing is sent while it is out; afterwards probing resumes after the snapshot', () => {
  const pr = fresh();
  pr.maybeUpdate(2);
  pr.becomeReplicate();
  pr.sentEntries(5, 10, 1);
  pr.becomeSnapshot(40, 123);
  assert.equal(pr.state, 'snapshot');
  assert.equal(pr.isPaused(), true);
  assert.equal(pr.inflights.count(), 0, 'the window is emptied');
  assert.deepEqual([pr.pendingSnapshot, pr.snapshotSentAtTick], [40, 123]);
  assert.throws(() => pr.sentEntries(41, 0, 1), /snapshot state/, 'the leader must not send entries now');
  // Given up (lost snapshot) before any answer: probe after the snapshot's index.
  pr.becomeProbe();
  assert.deepEqual([pr.state, pr.next, pr.pendingSnapshot], ['probe', 41, 0]);
  // Acknowledged beyond the snapshot (the follower already held more): after match instead.
  pr.becomeSnapshot(40, 200);
  pr.maybeUpdate(45);
  pr.becomeProbe();
  assert.equal(pr.next, 46);
});

test('acknowledgements: a stale one moves nothing back and says so', () => {
  const pr = fresh();
  assert.equal(pr.maybeUpdate(8), true);
  pr.sentEntries(9, 0, 0);
  assert.equal(pr.maybeUpdate(5), false, 'older than match');
  assert.equal(pr.match, 8);
  assert.equal(pr.isPaused(), true, 'a stale answer does not stand for the probe that is out');
});

// ---------------------------------------------------------------------------------------------
// Properties over random histories.

type Op =
  | { kind: 'send'; entries: number; bytes: number }
  | { kind: 'ack'; delta: number }
  | { kind: 'reject'; at: number; hint: number }
  | { kind: 'probe' }
  | { kind: 'replicate' }
  | { kind: 'snapshot'; ahead: number }
  | { kind: 'heartbeatAnswer' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constant('send' as const),
    entries: fc.integer({ min: 0, max: 4 }),
    bytes: fc.integer({ min: 0, max: 50 }),
  }),
  fc.record({ kind: fc.constant('ack' as const), delta: fc.integer({ min: -5, max: 8 }) }),
  fc.record({
    kind: fc.constant('reject' as const),
    at: fc.integer({ min: -6, max: 2 }),
    hint: fc.integer({ min: 0, max: 30 }),
  }),
  fc.record({ kind: fc.constant('probe' as const) }),
  fc.record({ kind: fc.constant('replicate' as const) }),
  fc.record({ kind: fc.constant('snapshot' as const), ahead: fc.integer({ min: 0, max: 10 }) }),
  fc.record({ kind: fc.constant('heartbeatAnswer' as const) }),
);

/** Drives a Progress as the leader does (leader.ts), but with arbitrary answers. */
function apply(pr: Progress, o: Op): void {
  switch (o.kind) {
    case 'send':
      if (pr.isPaused()) return; // the leader never sends to a paused follower
      pr.sentEntries(pr.next - 1 + o.entries, o.bytes, o.entries);
      return;
    case 'ack': {
      const n = Math.max(0, pr.match + o.delta);
      if (pr.maybeUpdate(n) && pr.state === 'replicate') pr.inflights.freeThrough(n);
      return;
    }
    case 'reject':
      // A rejection names the prevLogIndex of an AppendEntries sent: near next - 1.
      pr.onRejected(Math.max(0, pr.next - 1 + o.at), o.hint);
      return;
    case 'probe':
      pr.becomeProbe();
      return;
    case 'replicate':
      pr.becomeReplicate();
      return;
    case 'snapshot':
      pr.becomeSnapshot(pr.match + 1 + o.ahead, 0);
      return;
    case 'heartbeatAnswer':
      pr.heartbeatAnswered();
      return;
  }
}

test('every history keeps match < next, never lowers match, and pauses exactly as its state says', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 20 }), fc.array(op, { maxLength: 60 }), (start, ops) => {
      const pr = new Progress(start, 3, 120);
      let match = pr.match;
      for (const o of ops) {
        const before = pr.state;
        apply(pr, o);
        assert.ok(pr.match < pr.next, `match ${pr.match} < next ${pr.next} after ${o.kind} in ${before}`);
        assert.ok(pr.match >= match, 'match never decreases');
        match = pr.match;
        switch (pr.state) {
          case 'probe':
            assert.equal(pr.isPaused(), pr.probeSent);
            assert.equal(pr.inflights.count(), 0, 'nothing is pipelined while probing');
            break;
          case 'replicate':
            assert.equal(pr.isPaused(), pr.inflights.full());
            assert.ok(pr.inflights.count() <= 3, 'never more than the window in flight');
            break;
          case 'snapshot':
            assert.equal(pr.isPaused(), true);
            assert.ok(pr.pendingSnapshot > 0);
            break;
        }
      }
    }),
  );
});

test('a rejection never moves next forward, and in probe only the answer to the probe that is out counts', () => {
  fc.assert(
    fc.property(
      fc.array(op, { maxLength: 40 }),
      fc.integer({ min: -6, max: 2 }),
      fc.nat(30),
      (ops, at, hint) => {
        const pr = new Progress(10, 3, 1 << 20);
        for (const o of ops) apply(pr, o);
        if (pr.state === 'snapshot') return;
        const { next, state } = pr;
        const rejected = Math.max(0, next - 1 + at);
        const took = pr.onRejected(rejected, hint);
        assert.ok(pr.next <= next, 'next never moves forward on a rejection');
        if (state === 'probe') assert.equal(took, rejected === next - 1);
        else assert.equal(took, rejected > pr.match);
        if (!took) assert.equal(pr.next, next, 'a stale rejection changes nothing');
      },
    ),
  );
});

// ---------------------------------------------------------------------------------------------
// The conflict hint of §3.5, end to end.

/** A log with the given terms at indexes 1, 2, ... */
function logOf(terms: readonly number[]): RaftLog {
  const storage = new MemoryLogStorage(initialMembership(['a']));
  storage.append(terms.map((term, i) => ({ term, index: i + 1, type: 'noop', data: new Uint8Array(0) })));
  return new RaftLog(storage, 0, 0);
}

/** Non-decreasing terms, each from `from` on. */
const terms = (from: number, maxLength: number): fc.Arbitrary<number[]> =>
  fc
    .array(fc.integer({ min: 0, max: 2 }), { maxLength })
    .map((steps) => steps.map((_, i) => from + steps.slice(0, i + 1).reduce((a, b) => a + b, 0)));

test('probing with hints stops exactly where the logs stop agreeing, one round trip per term at most', () => {
  fc.assert(
    fc.property(
      terms(1, 8),
      terms(0, 10),
      terms(0, 10),
      fc.boolean(),
      (prefix, leaderTail, followerTail, leaderFirst) => {
        // Two logs that agree on `prefix`, then diverge: their tails never hold the same term
        // (two leaders never write the same term), and both stay non-decreasing.
        const base = prefix.at(-1) ?? 0;
        const [lOdd, fOdd] = leaderFirst ? [1, 0] : [0, 1];
        const leaderTerms = [...prefix, ...leaderTail.map((t) => base + 1 + 2 * t + lOdd)];
        const followerTerms = [...prefix, ...followerTail.map((t) => base + 1 + 2 * t + fOdd)];
        const leader = logOf(leaderTerms);
        const follower = logOf(followerTerms);
        // A new leader probes from its last index (§3.5: nextIndex = last index + 1).
        const pr = new Progress(leader.lastIndex() + 1, 256, 1 << 20);
        let rounds = 0;
        for (;;) {
          rounds++;
          assert.ok(rounds <= 100, 'probing ends');
          const prev = pr.next - 1;
          const prevTerm = leader.term(prev)!;
          pr.sentEntries(prev, 0, 0);
          if (follower.matchTerm(prev, prevTerm)) {
            pr.maybeUpdate(prev);
            break;
          }
          // The follower's answer (follower.ts) and the leader's use of it (leader.ts).
          const hint = follower.findConflictByTerm(prev, prevTerm);
          const probeFrom = leader.probeIndexFromHint(hint.index, hint.term);
          assert.equal(pr.onRejected(prev, probeFrom), true);
        }
        assert.equal(pr.match, prefix.length, 'the match found is the whole common prefix, never less');
        const distinct = (ts: readonly number[]): number => new Set(ts).size;
        assert.ok(
          rounds <= distinct(leaderTail) + distinct(followerTail) + 1,
          `${rounds} round trips for tails of ${distinct(leaderTail)} and ${distinct(followerTail)} terms`,
        );
      },
    ),
  );
});
