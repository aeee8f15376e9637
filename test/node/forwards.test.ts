// Goal: the follower's table of writes handed to the leader (src/node/forwards.ts). An answer
// counts only from the leader the write was handed to, and only once; the writes of a lost
// connection, of a leader change and past their deadlines fail as "outcome unknown"; the counts
// /debug shows add up (a write counts as handed over once its proposal was queued). An answer that
// comes after this node applied the entry fails the write, outcome unknown. A refusal from the
// leader becomes the error the leader would have thrown, and not_leader or a code this release
// does not know sends the write over HTTP (NotLeaderError), unless the refusal is indefinite.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BadRequestError,
  BusyError,
  ForwardFailedError,
  LeadershipLostError,
  NotLeaderError,
  type RaftkvError,
  TimeoutError,
  TooLargeError,
} from '../../src/api/errors.js';
import { forwardRefusalError, PendingForwards } from '../../src/node/forwards.js';

interface Outcome {
  appended: [number, number] | null;
  error: RaftkvError | null;
}

/** Read through a call: an assertion on the field must not narrow later reads of it. */
const errorOf = (o: Outcome): RaftkvError | null => o.error;

/** A write waiting for the leader `to`; add() registers it and, unless told not to, hands it over. */
function waiter(
  to: string,
  deadline: number,
): { outcome: Outcome; add: (p: PendingForwards, handOver?: boolean) => number } {
  const outcome: Outcome = { appended: null, error: null };
  return {
    outcome,
    add: (p, handOver = true) => {
      const id = p.add({
        to,
        deadline,
        appended: (index, term) => {
          outcome.appended = [index, term];
        },
        reject: (e) => {
          outcome.error = e;
        },
      });
      if (handOver) p.handedOver();
      return id;
    },
  };
}

test('answers count from the leader the write went to, once', () => {
  const p = new PendingForwards(10);
  const a = waiter('n1', 100);
  const id = a.add(p);
  assert.equal(p.size, 1);
  p.appended('n2', id, 7, 2, 0);
  p.refused('n2', id, () => new BusyError('busy'));
  assert.deepEqual(a.outcome, { appended: null, error: null }, 'another node cannot answer it');
  p.appended('n1', id + 1, 7, 2, 0);
  assert.equal(p.size, 1, 'an unknown request');
  p.appended('n1', id, 7, 2, 6);
  assert.deepEqual(a.outcome.appended, [7, 2]);
  p.refused('n1', id, () => new BusyError('busy'));
  p.appended('n1', id, 8, 2, 6);
  assert.deepEqual(a.outcome, { appended: [7, 2], error: null }, 'answered once');
  assert.deepEqual(p.counts(), { viaPeer: 1, refused: 0, failed: 0, pending: 0 });
});

test('a refusal is counted; an answer that comes after its entry was applied fails the write, outcome unknown', () => {
  const p = new PendingForwards(10);
  const refused = waiter('n1', 100);
  const refusedId = refused.add(p);
  p.refused('n1', refusedId, () => new BusyError('too many uncommitted writes'));
  assert.ok(refused.outcome.error instanceof BusyError);
  const late = waiter('n1', 100);
  const lateId = late.add(p);
  // The entry at index 5 reached this node before the leader's answer did (a next leader).
  p.appended('n1', lateId, 5, 2, 5);
  assert.equal(late.outcome.appended, null);
  assert.ok(late.outcome.error instanceof ForwardFailedError);
  assert.equal(late.outcome.error.definite, false);
  assert.deepEqual(p.counts(), { viaPeer: 2, refused: 1, failed: 1, pending: 0 });
});

test('lost connections, leader changes and deadlines fail the writes waiting, outcome unknown', () => {
  const p = new PendingForwards(10);
  const toN1 = waiter('n1', 100);
  const toN2 = waiter('n2', 100);
  const late = waiter('n1', 50);
  toN1.add(p);
  toN2.add(p);
  late.add(p);
  p.sweep(49);
  assert.equal(p.size, 3);
  p.sweep(50);
  assert.ok(late.outcome.error instanceof TimeoutError);
  assert.equal(late.outcome.error.definite, false);
  p.failTo('n2', () => new ForwardFailedError('lost'));
  assert.ok(toN2.outcome.error instanceof ForwardFailedError);
  assert.ok(toN1.outcome.error === null, 'a write to another node is not failed');
  p.failTo(null, () => new LeadershipLostError('changed'));
  assert.ok(errorOf(toN1.outcome) instanceof LeadershipLostError);
  assert.deepEqual(p.counts(), { viaPeer: 3, refused: 0, failed: 3, pending: 0 });
});

test('a bounded table; a write that could not be sent is forgotten, not counted', () => {
  const p = new PendingForwards(2);
  const first = waiter('n1', 100).add(p, false);
  waiter('n1', 100).add(p);
  assert.equal(p.full, true);
  p.cancel(first);
  assert.equal(p.full, false);
  assert.deepEqual(p.counts(), { viaPeer: 1, refused: 0, failed: 0, pending: 1 });
});

test("a refusal becomes the leader's own error; not_leader and unknown codes go over HTTP", () => {
  const busy = forwardRefusalError('busy', 'too many uncommitted writes', true, 'h:1');
  assert.ok(busy instanceof BusyError);
  assert.equal(busy.message, 'too many uncommitted writes');
  assert.ok(forwardRefusalError('too_large', 'big', true, 'h:1') instanceof TooLargeError);
  assert.ok(forwardRefusalError('bad_request', 'unreadable', true, 'h:1') instanceof BadRequestError);
  const notLeader = forwardRefusalError('not_leader', 'not me', true, 'h:1');
  assert.ok(notLeader instanceof NotLeaderError);
  assert.equal(notLeader.leader, 'h:1');
  const none = forwardRefusalError('not_leader', 'not me', true, null);
  assert.ok(none instanceof NotLeaderError && none.leader === null);
  const future = forwardRefusalError('some_new_code', 'x', true, 'h:2');
  assert.ok(future instanceof NotLeaderError && future.leader === 'h:2');
  const unknown = forwardRefusalError('some_new_code', 'x', false, 'h:2');
  assert.ok(unknown instanceof ForwardFailedError);
  assert.equal(unknown.definite, false);
});
