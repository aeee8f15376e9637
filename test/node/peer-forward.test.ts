// Goal: a follower hands the writes it takes to the leader over the peer connection (protocol
// version 4) and answers them itself once it has applied their entries — with exactly the answers
// the leader gives for the same requests: put, compare-and-set (success, and the 409 conflict),
// delete, transaction, lease grant, keepalive and revoke, an unknown lease's 404, an idempotent
// retry (the first answer, applied once) and an Idempotency-Key reused for another write (400).
// Each such answer names the leader (X-Raftkv-Leader), and /debug counts the writes as gone over
// the peer connection, none over HTTP. When the leader stops or is isolated while writes wait on
// it, every one is answered — 200, or 503/504 with definite: false — and none is left waiting,
// nothing acknowledged is lost, and writes through the follower work again once a leader is back.
// With a member that speaks only the peer protocol of the release before, the cluster works and
// writes between it and the others go over HTTP, both ways.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';

interface Forwarding {
  readonly overPeer: boolean;
  readonly viaPeer: number;
  readonly viaHttp: number;
  readonly refused: number;
  readonly failed: number;
  readonly pending: number;
  readonly taken: number;
  readonly refusedHere: number;
}

async function forwarding(c: TestCluster, id: string): Promise<Forwarding> {
  return (await c.debug(id)).forwarding as Forwarding;
}

/**
 * Moves leadership to `to` and waits until every node agrees (asked again while an election
 * keeps the transfer from starting).
 */
async function moveLeader(c: TestCluster, to: string): Promise<void> {
  await waitFor(`${to} leads`, async () => {
    const current = await c.currentLeader();
    if (current !== null && current !== to) await c.client(current).moveLeader(to);
    return (await c.waitForLeader()) === to;
  });
}

/** The answer with what differs between two keys' twin histories taken out: indexes, lease ids, the key prefix. */
function normalized(a: Answer): unknown {
  const text = a.text.replaceAll('"L/', '"X/').replaceAll('"F/', '"X/');
  return {
    status: a.status,
    body: JSON.parse(text, (name, value: unknown) =>
      ['index', 'createIndex', 'modIndex', 'id', 'lease'].includes(name) && typeof value === 'number'
        ? 'N'
        : value,
    ),
  };
}

test('through a follower, every kind of write goes over the peer connection and is answered as the leader answers it', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  // The follower's connection to the leader is up (and speaks version 4) once a write went over it.
  await waitFor('a first write over the peer connection', async () => {
    await c.putRetrying(follower, 'warm', 'up');
    return (await forwarding(c, follower)).viaPeer > 0;
  });
  const before = await forwarding(c, follower);
  const leaderBefore = await forwarding(c, leader);
  assert.equal(before.overPeer, true);

  let followerWrites = 0;
  /** The same request on the leader (keys under L/) and on the follower (keys under F/). */
  const twin = async (
    method: string,
    path: (p: string) => string,
    body?: (p: string) => unknown,
    headers?: (p: string) => Record<string, string>,
  ): Promise<{ leader: Answer; follower: Answer }> => {
    const send = (id: string, p: string) =>
      c.request(id, method, path(p), {
        ...(body !== undefined && { body: body(p) }),
        ...(headers !== undefined && { headers: headers(p) }),
      });
    const onLeader = await send(leader, 'L/');
    const onFollower = await send(follower, 'F/');
    followerWrites++;
    assert.deepStrictEqual(normalized(onFollower), normalized(onLeader), `${method} ${path('F/')}`);
    assert.equal(onLeader.headers['x-raftkv-leader'], undefined, 'the leader answers itself');
    assert.equal(onFollower.headers['x-raftkv-leader'], c.address(leader), `${method} ${path('F/')}`);
    return { leader: onLeader, follower: onFollower };
  };
  const kv = () => '/kv';

  const put = await twin('POST', kv, (p) => ({ key: `${p}a`, value: 'one' }));
  assert.equal(put.follower.status, 200, put.follower.text);
  assert.equal(put.follower.body.version, 1);
  const cas = await twin('POST', kv, (p) => ({ key: `${p}a`, value: 'two', prevValue: 'one' }));
  assert.equal(cas.follower.status, 200, cas.follower.text);
  const conflict = await twin('POST', kv, (p) => ({ key: `${p}a`, value: 'three', prevValue: 'one' }));
  assert.equal(conflict.follower.status, 409, conflict.follower.text);
  assert.equal(conflict.follower.body.code, 'precondition_failed');
  assert.equal(conflict.follower.body.value, 'two');
  const absent = await twin('POST', kv, (p) => ({ key: `${p}new`, value: 'v', prevValue: null }));
  assert.equal(absent.follower.status, 200, absent.follower.text);
  const txn = await twin(
    'POST',
    () => '/txn',
    (p) => ({
      compare: [{ key: `${p}a`, target: 'value', op: '==', value: 'two' }],
      success: [
        { put: { key: `${p}b`, value: 'bee' } },
        { get: { key: `${p}a` } },
        { delete: { key: `${p}new` } },
      ],
      failure: [{ get: { key: `${p}a` } }],
    }),
  );
  assert.equal(txn.follower.status, 200, txn.follower.text);
  assert.equal(txn.follower.body.succeeded, true);
  const failedTxn = await twin(
    'POST',
    () => '/txn',
    (p) => ({
      compare: [{ key: `${p}a`, target: 'version', op: '>', value: 5 }],
      success: [{ delete: { key: `${p}a` } }],
      failure: [{ get: { key: `${p}b` } }],
    }),
  );
  assert.equal(failedTxn.follower.body.succeeded, false, failedTxn.follower.text);
  const del = await twin('DELETE', (p) => `/kv/${encodeURIComponent(`${p}b`)}`);
  assert.equal(del.follower.body.deleted, true, del.follower.text);
  const delAbsent = await twin('DELETE', (p) => `/kv/${encodeURIComponent(`${p}never`)}`);
  assert.equal(delAbsent.follower.body.deleted, false, delAbsent.follower.text);

  // Leases: grant, a put under it, keepalive, an unknown lease, revoke.
  const grant = await twin(
    'POST',
    () => '/leases',
    () => ({ ttl: 60 }),
  );
  assert.equal(grant.follower.status, 200, grant.follower.text);
  const ids: Record<string, number> = { 'L/': grant.leader.body.id, 'F/': grant.follower.body.id };
  const leased = await twin('POST', kv, (p) => ({ key: `${p}leased`, value: 'v', lease: ids[p] }));
  assert.equal(leased.follower.body.lease, ids['F/'], leased.follower.text);
  const keepalive = await twin('POST', (p) => `/leases/${ids[p]}/keepalive`);
  assert.deepStrictEqual(keepalive.follower.body, { id: ids['F/'], ttl: 60 });
  const unknown = await twin('POST', () => '/leases/999999999/keepalive');
  assert.equal(unknown.follower.status, 404, unknown.follower.text);
  assert.equal(unknown.follower.body.code, 'lease_not_found');
  const noLease = await twin('POST', kv, (p) => ({ key: `${p}orphan`, value: 'v', lease: 999999999 }));
  assert.equal(noLease.follower.status, 404, noLease.follower.text);
  const revoke = await twin('DELETE', (p) => `/leases/${ids[p]}`);
  assert.deepStrictEqual(revoke.follower.body.keys, ['F/leased']);

  // An idempotent retry: the first answer, applied once; the key reused for a delete: 400.
  const idem = (p: string) => ({ 'Idempotency-Key': `${p}once` });
  const first = await twin('POST', kv, (p) => ({ key: `${p}idem`, value: 'v' }), idem);
  const retry = await twin('POST', kv, (p) => ({ key: `${p}idem`, value: 'v' }), idem);
  assert.deepStrictEqual(retry.follower.body, first.follower.body, 'the retry got the first answer');
  assert.equal(retry.follower.body.version, 1, 'applied once');
  const reused = await twin('DELETE', (p) => `/kv/${encodeURIComponent(`${p}idem`)}`, undefined, idem);
  assert.equal(reused.follower.status, 400, reused.follower.text);
  const read = await c.get(leader, 'F/idem');
  assert.equal(read.body.version, 1);

  // Every one of them went to the leader over the peer connection; none as an HTTP request.
  const after = await forwarding(c, follower);
  assert.equal(after.viaPeer - before.viaPeer, followerWrites);
  assert.equal(after.viaHttp, before.viaHttp);
  assert.equal(after.refused, before.refused);
  assert.equal(after.failed, before.failed);
  assert.equal(after.pending, 0);
  assert.equal((await forwarding(c, leader)).taken - leaderBefore.taken, followerWrites);
  // And each is in every node's state.
  for (const id of c.ids) {
    await waitFor(
      `${id} has the follower's writes`,
      async () => (await c.get(id, 'F/a', 'stale')).body?.value === 'two',
    );
  }
});

/** Settles a request: its answer, or the error (a transport failure) — never a hang past `ms`. */
async function answered(p: Promise<Answer>): Promise<Answer | Error> {
  try {
    return await p;
  } catch (e) {
    return e instanceof Error ? e : new Error(String(e));
  }
}

/** Each answer is a success or an outcome-unknown 503/504: never a 500, never a definite failure. */
function assertSucceededOrUnknown(answers: readonly (Answer | Error)[]): Answer[] {
  const ok: Answer[] = [];
  for (const a of answers) {
    assert.ok(!(a instanceof Error), `a write got no answer: ${a instanceof Error ? a.message : ''}`);
    if (a.status === 200) {
      ok.push(a);
      continue;
    }
    assert.ok(a.status === 503 || a.status === 504, `${a.status} ${a.text}`);
    assert.equal(a.body.definite, false, a.text);
  }
  return ok;
}

test('the leader stops while writes through a follower wait on it: each is answered, and writes go on', async (t) => {
  const requestTimeoutMs = 6000;
  const c = await startCluster(t, {
    size: 3,
    enableFaults: true,
    electionTimeoutMs: 1500,
    heartbeatIntervalMs: 50,
    requestTimeoutMs,
  });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  await waitFor('the peer path is up', async () => {
    await c.putRetrying(follower, 'warm', 'up');
    return (await forwarding(c, follower)).viaPeer > 0;
  });
  // Paused, the leader holds what arrives: the follower's writes wait for its answer.
  await c.client(leader).setFaults({ paused: true });
  const writes = Array.from({ length: 6 }, (_, i) => answered(c.put(follower, `stop/${i}`, `v${i}`)));
  await waitFor('six writes wait on the leader', async () => (await forwarding(c, follower)).pending === 6, {
    timeoutMs: 5000,
    intervalMs: 10,
  });
  // A graceful stop: the leader resumes, may append them, and hands leadership over.
  await c.stopNode(leader);
  const results = await Promise.all(writes);
  const ok = assertSucceededOrUnknown(results);
  const f = await forwarding(c, follower);
  assert.equal(f.pending, 0);
  assert.equal(f.viaHttp, 0, 'none went over HTTP');

  const next = await c.waitForLeader();
  const through = next === follower ? c.followerOf(next) : follower;
  assert.equal((await c.putRetrying(through, 'after', 'v')).status, 200);
  for (const a of ok) {
    const key = a.body.key as string;
    assert.equal((await c.get(next, key)).body.value, a.body.value, `acknowledged ${key} is there`);
  }
});

test('the leader killed (kill -9) while writes through a follower wait on it: each is answered, definite: false', {
  timeout: 120_000,
}, async (t) => {
  const requestTimeoutMs = 6000;
  const c = await ProcessCluster.create(t, {
    timing: { heartbeatIntervalMs: 50, electionTimeoutMs: 2000, requestTimeoutMs },
    extraArgs: ['--enable-faults'],
  });
  const leader = await c.waitForLeader();
  const follower = c.ids.find((id) => id !== leader)!;
  const fwd = async (): Promise<Forwarding> =>
    (await c.request(follower, 'GET', '/debug')).body.forwarding as Forwarding;
  await waitFor('the peer path is up', async () => {
    const a = await c.put(follower, 'warm', 'up');
    return a.status === 200 && (await fwd()).viaPeer > 0;
  });
  // Paused, the leader takes nothing in; killed, it never will: the answers can only be failures.
  const paused = await c.request(leader, 'POST', '/admin/faults', { body: { paused: true } });
  assert.equal(paused.status, 200, paused.text);
  const writes = Array.from({ length: 6 }, (_, i) => answered(c.put(follower, `kill/${i}`, `v${i}`)));
  await waitFor('six writes wait on the leader', async () => (await fwd()).pending === 6, {
    timeoutMs: 5000,
    intervalMs: 10,
  });
  await c.kill9(leader);
  const results = await Promise.all(writes);
  for (const a of results) {
    assert.ok(!(a instanceof Error), `a write got no answer: ${a instanceof Error ? a.message : ''}`);
    assert.ok(a.status === 503 || a.status === 504, `${a.status} ${a.text}`);
    assert.equal(a.body.definite, false, a.text);
    assert.ok(['forward_failed', 'leadership_lost', 'timeout'].includes(a.body.code), a.text);
  }
  const after = await fwd();
  assert.equal(after.pending, 0);
  assert.equal(after.failed, 6);
  // A new leader among the two left; writes through the follower work again.
  const next = await c.waitForLeader(c.ids.filter((id) => id !== leader));
  const through = next === follower ? c.ids.find((id) => id !== leader && id !== next)! : follower;
  await waitFor(
    'a write through a follower',
    async () => (await c.put(through, 'after', 'v')).status === 200,
  );
  for (let i = 0; i < 6; i++) {
    assert.equal((await c.get(next, `kill/${i}`)).status, 404, 'a paused leader appended nothing');
  }
});

test('the leader isolated: writes forwarded to it fail definite: false or time out, and nothing acknowledged is lost', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true, requestTimeoutMs: 3000 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  const acked = new Map<string, string>();
  for (let i = 0; i < 5; i++) {
    const a = await c.putRetrying(follower, `before/${i}`, `v${i}`);
    assert.equal(a.status, 200, a.text);
    acked.set(`before/${i}`, `v${i}`);
  }
  assert.ok((await forwarding(c, follower)).viaPeer >= 5);
  await c.client(leader).setFaults({ isolate: true });
  const during = await Promise.all(
    Array.from({ length: 5 }, (_, i) => answered(c.put(follower, `during/${i}`, `w${i}`))),
  );
  for (const a of assertSucceededOrUnknown(during)) acked.set(a.body.key, a.body.value);
  await c.client(leader).healFaults();
  const next = await c.waitForLeader();
  const through = next === follower ? c.followerOf(next) : follower;
  assert.equal((await c.putRetrying(through, 'after', 'v')).status, 200);
  acked.set('after', 'v');
  for (const id of c.ids) {
    for (const [key, value] of acked) {
      await waitFor(`${id} has ${key}`, async () => (await c.get(id, key)).body?.value === value);
    }
  }
});

test('a member of the release before (peer protocol 3): the cluster works, and writes to or from it go over HTTP', async (t) => {
  const c = await startCluster(t, { size: 3, seams: { n1: { peerProtocolVersion: 3 } } });
  await c.waitForLeader();

  // An old leader: a new follower forwards over HTTP (its connection to it speaks version 3).
  await moveLeader(c, 'n1');
  const peerStats = (await c.debug('n2')).transport as {
    peers: { peer: string; protocolVersion: number | null }[];
  };
  assert.equal(peerStats.peers.find((p) => p.peer === 'n1')?.protocolVersion, 3);
  const before2 = await forwarding(c, 'n2');
  const a = await c.put('n2', 'to-old', 'v');
  assert.equal(a.status, 200, a.text);
  assert.equal(a.headers['x-raftkv-leader'], c.address('n1'));
  const after2 = await forwarding(c, 'n2');
  assert.equal(after2.viaHttp, before2.viaHttp + 1);
  assert.equal(after2.viaPeer, before2.viaPeer);

  // A new leader: the old follower forwards over HTTP, a new one over the peer connection.
  await moveLeader(c, 'n2');
  const before1 = await forwarding(c, 'n1');
  const b = await c.put('n1', 'from-old', 'v');
  assert.equal(b.status, 200, b.text);
  assert.equal(b.headers['x-raftkv-leader'], c.address('n2'));
  const after1 = await forwarding(c, 'n1');
  assert.equal(after1.viaHttp, before1.viaHttp + 1);
  assert.equal(after1.viaPeer, before1.viaPeer);
  // Until n3's connection to the new leader speaks version 4, its writes go over HTTP.
  const fromNew = await waitFor('n3 forwards over the peer connection', async () => {
    const n3 = await forwarding(c, 'n3');
    const put = await c.put('n3', 'from-new', 'v');
    return (await forwarding(c, 'n3')).viaPeer === n3.viaPeer + 1 ? put : null;
  });
  assert.equal(fromNew.status, 200, fromNew.text);
  for (const id of c.ids) {
    for (const key of ['to-old', 'from-old', 'from-new']) {
      await waitFor(`${id} has ${key}`, async () => (await c.get(id, key)).body?.value === 'v');
    }
  }
});

test('a leader that takes forwarded writes only over HTTP refuses them; the follower then relays the request', async (t) => {
  // n1 is started as a node with access control would be: it refuses proposals handed over.
  const c = await startCluster(t, { size: 3, seams: { n1: { forwardOverPeer: false } } });
  await c.waitForLeader();
  await moveLeader(c, 'n1');
  const before = await forwarding(c, 'n2');
  const leaderBefore = await forwarding(c, 'n1');
  assert.equal(leaderBefore.overPeer, false);
  const a = await c.put('n2', 'relayed', 'v');
  assert.equal(a.status, 200, a.text);
  assert.equal(a.headers['x-raftkv-leader'], c.address('n1'));
  const after = await forwarding(c, 'n2');
  // Handed over, refused, then relayed over HTTP.
  assert.equal(after.viaPeer, before.viaPeer + 1);
  assert.equal(after.refused, before.refused + 1);
  assert.equal(after.viaHttp, before.viaHttp + 1);
  assert.equal((await forwarding(c, 'n1')).refusedHere, leaderBefore.refusedHere + 1);
  assert.equal((await forwarding(c, 'n1')).taken, 0);
  assert.equal((await c.get('n1', 'relayed')).body.value, 'v');
});
