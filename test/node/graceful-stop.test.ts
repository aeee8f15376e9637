// Goal: a graceful stop answers every in-flight request (never a hang or a reset), hands leadership over, and frees the port.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { type Answer, holdPut } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/** A request's answer, or the transport error it failed with (never an unhandled rejection). */
function settle(p: Promise<Answer>): Promise<Answer | Error> {
  return p.catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))));
}

/** Every in-flight request got an HTTP answer: a 503 saying the outcome is unknown. */
function assertAnsweredUnknown(answers: (Answer | Error)[], codes: string[]): void {
  for (const r of answers) {
    assert.ok(
      !(r instanceof Error),
      `an in-flight request got no answer: ${r instanceof Error ? r.message : ''}`,
    );
    assert.equal(r.status, 503, r.text);
    assert.equal(r.body.definite, false, `the outcome of a proposed write is unknown: ${r.text}`);
    assert.ok(codes.includes(r.body.code), r.text);
  }
}

test('stop() fails in-flight writes with a definite:false 503 and then refuses connections', async (t) => {
  // The lone leader steps down one election timeout after it last heard from a majority (check
  // quorum), failing the writes it holds — and then five of them are never pending at once. The
  // timeout is long enough that the two stops and the five writes fit well inside it even on a
  // loaded machine (at 600 ms they did not always).
  const c = await startCluster(t, {
    size: 3,
    heartbeatIntervalMs: 40,
    electionTimeoutMs: 4000,
    requestTimeoutMs: 15_000,
  });
  const leader = await c.waitForLeader();
  assert.equal((await c.putRetrying(leader, 'k', 'v')).status, 200);
  await Promise.all(c.ids.filter((id) => id !== leader).map((id) => c.stopNode(id)));

  // Writes that cannot commit: they wait at the leader until it stops.
  const inFlight = Array.from({ length: 5 }, (_, i) => settle(c.put(leader, `stuck/${i}`, 'x')));
  await waitFor('five writes pending', async () => (await c.debug(leader)).pendingWrites === 5, {
    timeoutMs: 10_000,
  });

  const node = c.node(leader)!;
  await c.stopNode(leader);
  await node.stopped;
  assert.equal(node.fatalError, null);

  assertAnsweredUnknown(await Promise.all(inFlight), ['shutting_down', 'leadership_lost']);
  await assert.rejects(c.debug(leader), /connection refused/);
});

test('stopping a follower answers the writes it is forwarding and its pending reads', async (t) => {
  // Five nodes, three stopped: the leader and one follower are up, but cannot commit. The leader
  // steps down one election timeout after it last heard from a majority (check quorum), failing
  // the writes it holds; the timeout is long enough that the three stops and the five forwarded
  // writes fit well inside it even on a loaded machine (at 600 ms they did not always).
  const c = await startCluster(t, {
    size: 5,
    heartbeatIntervalMs: 40,
    electionTimeoutMs: 4000,
    requestTimeoutMs: 15_000,
  });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  assert.equal((await c.putRetrying(follower, 'k', 'v')).status, 200);
  await Promise.all(c.ids.filter((id) => id !== leader && id !== follower).map((id) => c.stopNode(id)));

  const writes = Array.from({ length: 5 }, (_, i) => settle(c.put(follower, `stuck/${i}`, 'x')));
  const reads = Array.from({ length: 3 }, () => settle(c.get(follower, 'k')));
  // The follower holds all eight: the writes forwarded and waiting on the leader, the reads
  // waiting for a read point. (Should the leader step down meanwhile, a write is answered
  // leadership_lost: an answer too; the reads wait for a leader again.)
  await waitFor(
    'eight requests in flight at the follower',
    async () => {
      const d = await c.request(follower, 'GET', '/debug');
      return (d.body.admission as { inflight: number }).inflight === 8;
    },
    { timeoutMs: 10_000 },
  );

  await c.stopNode(follower);
  assertAnsweredUnknown(await Promise.all(writes), ['shutting_down', 'forward_failed', 'leadership_lost']);
  for (const r of await Promise.all(reads)) {
    assert.ok(!(r instanceof Error), `a pending read got no answer: ${r instanceof Error ? r.message : ''}`);
    assert.equal(r.status, 503, r.text);
  }
});

test('stopping the leader hands leadership to a follower', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  assert.equal((await c.putRetrying(leader, 'k', 'v')).status, 200);
  await c.stopNode(leader);
  assert.ok(c.logged(leader, 'handing leadership over'), c.logs.get(leader)!.join('\n'));
  assert.ok(c.logged(leader, 'stopped'));
  const next = await c.waitForLeader();
  assert.notEqual(next, leader);
  assert.equal((await c.get(next, 'k')).body.value, 'v');
});

test('stop() is idempotent and a node restarts on its port and data dir', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = c.ids[0]!;
  await c.waitForLeader();
  assert.equal((await c.putRetrying(id, 'solo', '1')).status, 200);
  const node = c.node(id)!;
  await Promise.all([node.stop(), node.stop()]);
  await c.stopNode(id);
  await c.startNode(id);
  await c.waitForLeader();
  assert.equal((await c.get(id, 'solo')).body.value, '1');
});

test('a request still arriving when the node stops gets its 503, not a reset connection', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  const held = holdPut(c.port(id), 'late', 'body');
  await waitFor(
    'the request counted',
    async () => ((await c.debug(id)).admission as { inflight: number }).inflight === 1,
    { timeoutMs: 10_000 },
  );
  const node = c.node(id)!;
  const stopping = c.stopNode(id);
  // The driver has stopped and the node waits for requests still being handled.
  await waitFor('the stop drains', () => c.logged(id, 'draining client requests'), { timeoutMs: 10_000 });
  const answer = await held.finish();
  assert.equal(answer.status, 503, answer.text);
  assert.equal(answer.body.code, 'shutting_down', answer.text);
  await stopping;
  await node.stopped;
  assert.equal(node.fatalError, null);
});
