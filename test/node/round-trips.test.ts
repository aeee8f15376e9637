// Goal: the leader's peer round trips (raftkv_peer_round_trip_time_seconds) are each answer's time
// since its own heartbeat — also when answers take longer than a heartbeat interval (several
// heartbeats in flight), and after a heartbeat or an answer was lost, once the loss shows (a newer
// read round or term in an answer, or a transport event that drops the peer's list). An answer
// that cannot be matched is ignored rather than timed against the wrong heartbeat.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HeartbeatRoundTrips, maxUnansweredHeartbeats } from '../../src/node/round-trips.js';
import type { Heartbeat, HeartbeatResponse } from '../../src/raft/index.js';

function heartbeat(to: string, term = 1, readRound = 0): Heartbeat {
  return { type: 'Heartbeat', from: 'n1', to, term, leaderCommit: 0, readRound };
}

function answer(from: string, term = 1, readRound = 0): HeartbeatResponse {
  return { type: 'HeartbeatResponse', from, to: 'n1', term, readRound };
}

function recorder(): { trips: HeartbeatRoundTrips; seen: [string, number][] } {
  const seen: [string, number][] = [];
  const trips = new HeartbeatRoundTrips((peer, seconds) => seen.push([peer, Math.round(seconds * 1000)]));
  return { trips, seen };
}

test('each answer is timed from its own heartbeat, per peer', () => {
  const { trips, seen } = recorder();
  trips.sent(heartbeat('n2'), 1000);
  trips.sent(heartbeat('n3'), 1000);
  trips.answered(answer('n3'), 1002);
  trips.answered(answer('n2'), 1007);
  trips.sent(heartbeat('n2'), 1100);
  trips.answered(answer('n2'), 1101);
  assert.deepEqual(seen, [
    ['n3', 2],
    ['n2', 7],
    ['n2', 1],
  ]);
});

test('answers slower than the heartbeat interval are matched in order, not to the newest heartbeat', () => {
  const { trips, seen } = recorder();
  trips.sent(heartbeat('n2'), 0);
  trips.sent(heartbeat('n2'), 100);
  trips.sent(heartbeat('n2'), 200);
  trips.answered(answer('n2'), 250);
  trips.answered(answer('n2'), 350);
  trips.sent(heartbeat('n2'), 300);
  trips.answered(answer('n2'), 450);
  trips.answered(answer('n2'), 550);
  assert.deepEqual(
    seen.map(([, ms]) => ms),
    [250, 250, 250, 250],
  );
});

test('a lost heartbeat is skipped once an answer of a later read round shows it', () => {
  const { trips, seen } = recorder();
  trips.sent(heartbeat('n2', 1, 4), 0); // lost
  trips.sent(heartbeat('n2', 1, 5), 100);
  trips.answered(answer('n2', 1, 5), 103);
  assert.deepEqual(seen, [['n2', 3]]);
});

test('a new term: older heartbeats are dropped, an answer from an older term is ignored', () => {
  const { trips, seen } = recorder();
  trips.sent(heartbeat('n2', 1), 0); // its answer is lost with the old term
  trips.sent(heartbeat('n2', 2), 500);
  trips.answered(answer('n2', 2), 504);
  trips.answered(answer('n2', 1), 505); // late, from a connection of the old term
  trips.sent(heartbeat('n2', 2), 600);
  trips.answered(answer('n2', 2), 601);
  assert.deepEqual(seen, [
    ['n2', 4],
    ['n2', 1],
  ]);
});

test('after forget (a connection lost or replaced) earlier heartbeats are not waited for', () => {
  const { trips, seen } = recorder();
  trips.sent(heartbeat('n2'), 0);
  trips.sent(heartbeat('n3'), 0);
  trips.forget('n2');
  trips.answered(answer('n2'), 5);
  trips.sent(heartbeat('n2'), 100);
  trips.answered(answer('n2'), 102);
  trips.answered(answer('n3'), 103);
  trips.forget(null);
  trips.answered(answer('n3'), 200);
  assert.deepEqual(seen, [
    ['n2', 2],
    ['n3', 103],
  ]);
});

test('a peer that answers nothing for many heartbeats keeps only the latest listed', () => {
  const { trips, seen } = recorder();
  // Every maxUnansweredHeartbeats-th heartbeat finds the list full and starts it over.
  const sends = 3 * maxUnansweredHeartbeats + 1;
  for (let i = 0; i < sends; i++) trips.sent(heartbeat('n2'), i * 100);
  const lastSent = (sends - 1) * 100;
  trips.answered(answer('n2'), lastSent + 30);
  assert.deepEqual(seen, [['n2', 30]], 'timed against the heartbeat the list started over with');
});
