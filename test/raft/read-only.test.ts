// Goal: the leader's queue of ReadIndex reads (read-only.ts, §6.4), rule by rule: a read waits for
// a heartbeat round sent after it arrived; reads between two broadcasts share one round; reads
// leave in arrival order once a majority confirmed their round; reads that arrive before the
// leader has committed an entry of its term wait apart; everything still waiting is handed back
// when leadership is lost. Then, on a cluster: what a lost leadership does to the reads waiting
// at the leader and to those a follower relayed to it, and how a new leader holds reads until its
// first commit.

import assert from 'node:assert/strict';
import { describe, it, test } from 'node:test';
import fc from 'fast-check';
import { ReadOnlyQueue } from '../../src/raft/read-only.js';
import { Cluster } from './harness.js';

/** The tracker's confirmation: a majority has answered every round up to `upTo`. */
const upTo =
  (confirmed: number) =>
  (round: number): boolean =>
    round <= confirmed;

test('a read waits for a heartbeat round sent after it arrived', () => {
  const q = new ReadOnlyQueue();
  q.startRound(); // round 1 left before the read arrived
  q.add('r', 'n1', 7);
  assert.equal(q.hasRoundPending(), true, 'the read asks for a new round');
  assert.deepEqual(q.releaseConfirmed(upTo(1)), [], 'round 1 was sent before the read: it proves nothing');
  assert.equal(q.startRoundIfNeeded(), 2);
  assert.equal(q.hasRoundPending(), false);
  assert.deepEqual(q.releaseConfirmed(upTo(2)), [{ context: 'r', from: 'n1', index: 7, round: 2 }]);
  assert.equal(q.size(), 0);
});

test('reads arriving between two broadcasts share one round', () => {
  const q = new ReadOnlyQueue();
  q.add('a', 'n1', 3);
  q.add('b', 'n2', 3);
  assert.equal(q.startRoundIfNeeded(), 1);
  assert.equal(q.startRoundIfNeeded(), null, 'no read waits for a round not yet sent');
  q.add('c', 'n1', 4);
  assert.equal(q.startRoundIfNeeded(), 2);
  assert.deepEqual(
    q.releaseConfirmed(upTo(1)).map((r) => r.context),
    ['a', 'b'],
    'one answer from a majority releases every read of the round',
  );
  assert.deepEqual(
    q.releaseConfirmed(upTo(2)).map((r) => r.context),
    ['c'],
  );
});

test('a read never overtakes an earlier one', () => {
  const q = new ReadOnlyQueue();
  q.add('first', 'n1', 1);
  q.startRound();
  q.add('second', 'n1', 1);
  q.startRound();
  // Even if round 2 alone were confirmed (the predicate is the tracker's), the queue stops at the
  // first read it cannot release.
  assert.deepEqual(
    q.releaseConfirmed((round) => round === 2),
    [],
  );
  assert.deepEqual(
    q.releaseConfirmed(upTo(2)).map((r) => r.context),
    ['first', 'second'],
  );
});

test('reads before the leader’s first commit of its term wait apart, then join in order', () => {
  const q = new ReadOnlyQueue();
  q.deferUntilTermCommit('early1', 'n1');
  q.deferUntilTermCommit('early2', 'n3');
  assert.equal(q.size(), 2);
  assert.equal(q.hasRoundPending(), false, 'no round for them yet: the commit index may still lag');
  assert.deepEqual(q.takeDeferred(), [
    { context: 'early1', from: 'n1' },
    { context: 'early2', from: 'n3' },
  ]);
  assert.deepEqual(q.takeDeferred(), [], 'taken once');
  assert.equal(q.size(), 0);
});

test('losing leadership hands back every read still waiting, deferred ones first, and empties the queue', () => {
  const q = new ReadOnlyQueue();
  q.add('a', 'n1', 2);
  q.startRound();
  q.add('b', 'n2', 2);
  q.deferUntilTermCommit('d', 'n3');
  assert.deepEqual(
    q.drain().map((r) => r.context),
    ['d', 'a', 'b'],
  );
  assert.equal(q.size(), 0);
  assert.equal(q.hasRoundPending(), false, 'no round is owed to reads that are gone');
  assert.deepEqual(q.releaseConfirmed(upTo(99)), []);
});

test('against a model: each read leaves, in arrival order, once a round sent after its arrival is confirmed', () => {
  type Op = { kind: 'read' } | { kind: 'broadcast' } | { kind: 'confirm'; back: number } | { kind: 'drain' };
  const op = fc.oneof(
    fc.constant<Op>({ kind: 'read' }),
    fc.constant<Op>({ kind: 'broadcast' }),
    fc.record({ kind: fc.constant('confirm' as const), back: fc.nat(3) }),
    fc.constant<Op>({ kind: 'drain' }),
  );
  fc.assert(
    fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
      const q = new ReadOnlyQueue();
      // The model: each waiting read with the number of rounds broadcast when it arrived.
      let waiting: { context: string; sentBefore: number }[] = [];
      let broadcasts = 0;
      let confirmed = 0;
      let n = 0;
      for (const o of ops) {
        switch (o.kind) {
          case 'read': {
            const context = `r${n++}`;
            q.add(context, 'n1', n);
            waiting.push({ context, sentBefore: broadcasts });
            break;
          }
          case 'broadcast': {
            // As bcastHeartbeat in safe mode: a new round only if a read waits for one.
            const round = q.startRoundIfNeeded();
            if (round !== null) {
              broadcasts++;
              assert.equal(round, broadcasts);
            }
            break;
          }
          case 'confirm': {
            // Majorities confirm rounds in order; an answer may cover a round already confirmed.
            confirmed = Math.max(confirmed, broadcasts - o.back);
            const released = q.releaseConfirmed(upTo(confirmed)).map((r) => r.context);
            // A read is released once a round sent after its arrival is confirmed.
            const expected = waiting.filter((r) => r.sentBefore < confirmed).map((r) => r.context);
            assert.deepEqual(released, expected);
            waiting = waiting.slice(expected.length);
            break;
          }
          case 'drain':
            assert.deepEqual(
              q.drain().map((r) => r.context),
              waiting.map((r) => r.context),
            );
            waiting = [];
            break;
        }
        assert.equal(q.size(), waiting.length);
        assert.equal(
          q.hasRoundPending(),
          waiting.some((r) => r.sentBefore === broadcasts),
          'a round is owed exactly when a read arrived after the last broadcast',
        );
      }
    }),
  );
});

describe('§6.4 reads on a cluster, as leadership changes', () => {
  /** n1 leads; a majority's heartbeat answers are lost, so reads wait at n1. */
  function readsWaiting(overrides: ConstructorParameters<typeof Cluster>[1] = {}): Cluster {
    const c = new Cluster(['n1', 'n2', 'n3'], overrides);
    c.elect('n1');
    c.drop = (m) => m.type === 'HeartbeatResponse';
    c.node('n1').raw.readIndex('own');
    c.node('n2').raw.readIndex('relayed');
    c.stabilize();
    assert.deepEqual(c.node('n1').readStates, []);
    assert.deepEqual(c.node('n2').readStates, []);
    return c;
  }

  it('a leader that steps down fails its own reads (LeadershipLost) and refuses relayed ones', () => {
    const c = readsWaiting();
    assert.equal(c.node('n1').raw.stepDown('test'), true);
    c.stabilize();
    assert.deepEqual(c.node('n1').readFailures, [{ context: 'own', reason: 'LeadershipLost' }]);
    // n1 answers the relayed read with readIndex 0; n2 fails it: it cannot know who leads now.
    assert.deepEqual(c.node('n2').readFailures, [{ context: 'relayed', reason: 'NotLeader' }]);
  });

  it('a leader deposed by a newer term fails them the same way', () => {
    const c = readsWaiting({ preVote: false, checkQuorum: false });
    c.elect('n3');
    assert.equal(c.node('n3').raw.status().role, 'leader');
    assert.deepEqual(c.node('n1').readFailures, [{ context: 'own', reason: 'LeadershipLost' }]);
    assert.deepEqual(c.node('n2').readFailures, [{ context: 'relayed', reason: 'NotLeader' }]);
    assert.deepEqual(c.node('n1').readStates, [], 'nothing is released by the old leader');
  });

  it('a new leader holds reads until its no-op commits, then serves them at that index', () => {
    const c = new Cluster(['n1', 'n2', 'n3']);
    c.drop = (m) => m.type === 'AppendEntriesResponse';
    c.elect('n1');
    c.node('n1').raw.readIndex('r');
    c.sentByType.clear();
    c.stabilize();
    assert.equal(c.sentByType.get('Heartbeat'), undefined, 'no round before the term’s first commit');
    assert.deepEqual(c.node('n1').readStates, []);
    c.drop = null;
    c.tickAll(1);
    assert.deepEqual(c.node('n1').readStates, [{ context: 'r', readIndex: 1 }]);
  });
});
