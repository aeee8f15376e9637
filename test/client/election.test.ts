// Goal: leader election among clients (etcd's Election recipe on leases) on a real in-process
// cluster — one leader at a time, the next in line leading once the leader resigns or loses its
// lease, with a larger fencing token each time; proclaim changing the value that leader() and
// observe() report, and failing (with `lost`) once the key is gone; an observer that may coalesce
// changes but never misses a leader that stayed until it was seen, nor reorders them.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  campaign,
  electionOn,
  type Leader,
  LeadershipLostError,
  leader,
  observe,
} from '../../src/client/election.js';
import { RaftkvApiError } from '../../src/client/errors.js';
import { startCluster } from '../support/cluster.js';
import { waitFor, within } from '../support/wait.js';

test('two contenders: the first leads, the second waits; resign → the second leads with a larger token', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'].map((id) => c.client(id));
  const before = performance.now();
  const a = await campaign(nodes, 'svc', 'a:7001', { ttl: 30 });
  assert.equal(a.key, `svc/${a.leaseId.toString(16)}`);
  assert.equal(a.value, 'a:7001');
  // The lease lasts a TTL from the grant's send, which came after `before`.
  assert.ok(a.validUntil() >= before + 30_000, `valid until ${a.validUntil()}, asked at ${before}`);
  let bLeads = false;
  const second = campaign([nodes[1]!, nodes[2]!, nodes[0]!], 'svc', 'b:7002', { ttl: 30 }).then((b) => {
    bLeads = true;
    return b;
  });
  await waitFor('the second contender queued', async () => (await nodes[0]!.list('svc/')).items.length === 2);
  // Its key is there, behind the leader's: it cannot lead while the leader's key stays.
  assert.equal(bLeads, false, 'the second contender leads while the first has not resigned');
  assert.deepEqual(await leader(nodes, 'svc'), { key: a.key, value: 'a:7001', token: a.token });
  // A round trip later it still waits (a wrong turn would have had the time to resolve).
  assert.equal(bLeads, false, 'the second contender leads while the first has not resigned');
  await a.resign();
  assert.equal(a.lost.reason, 'resigned');
  assert.ok(a.validUntil() <= performance.now(), 'no longer valid once resigned');
  const b = await within('the second contender leads', second);
  assert.ok(b.token > a.token, `token ${b.token} not above ${a.token}`);
  assert.deepEqual(await leader(nodes, 'svc'), { key: b.key, value: 'b:7002', token: b.token });
  await b.resign();
  assert.equal(await leader(nodes, 'svc'), null);
});

test('proclaim changes the value leader() and observe() report; after a revoke behind its back it rejects and lost fires', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'].map((id) => c.client(id));
  const stop = new AbortController();
  const seen: (Leader | null)[] = [];
  const watching = (async () => {
    for await (const l of observe([nodes[2]!, nodes[0]!], 'cfg', { signal: stop.signal })) seen.push(l);
  })();
  const a = await campaign(nodes, 'cfg', 'v1', { ttl: 30 });
  await waitFor('the observer saw v1', () => seen.some((l) => l?.value === 'v1'));
  await a.proclaim('v2');
  assert.equal(a.value, 'v2');
  assert.equal(a.lost.aborted, false, 'a proclaim keeps the leadership');
  assert.deepEqual(await leader(nodes, 'cfg'), { key: a.key, value: 'v2', token: a.token });
  await waitFor('the observer saw v2', () => seen.some((l) => l?.value === 'v2'));
  assert.ok(
    seen.filter((l) => l !== null).every((l) => l.token === a.token && l.key === a.key),
    'a proclaim is not a new leader',
  );
  // The key stays on the lease: revoking it deletes the key.
  assert.deepEqual((await nodes[0]!.lease(a.leaseId)).keys, [a.key]);

  // A value the API refuses is an error of that proclaim, not a loss of the leadership.
  await assert.rejects(
    a.proclaim('x'.repeat(1024 * 1024 + 1)),
    (e) => e instanceof RaftkvApiError && e.status === 413,
  );
  assert.equal(a.lost.aborted, false);

  await nodes[1]!.revokeLease(a.leaseId);
  await assert.rejects(a.proclaim('v3'), LeadershipLostError);
  assert.equal(a.lost.aborted, true);
  assert.ok(a.validUntil() <= performance.now());
  assert.equal(await leader(nodes, 'cfg'), null, 'the failed proclaim wrote nothing');
  await waitFor('the observer saw no leader', () => seen.at(-1) === null);
  stop.abort();
  await within('the observer ends', watching);
  await a.resign();
});

test('observe reports every leader that held on until it was seen, in order, with increasing tokens', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'].map((id) => c.client(id));
  // Each call starts on the next node.
  let turn = 0;
  const election = electionOn(() => {
    const i = turn++ % 3;
    return [...nodes.slice(i), ...nodes.slice(0, i)];
  }, 'obs');
  const stop = new AbortController();
  const seen: (Leader | null)[] = [];
  const watching = (async () => {
    for await (const l of election.observe({ signal: stop.signal })) seen.push(l);
  })();
  await waitFor('the observer started (no leader yet)', () => seen.length === 1);
  assert.equal(seen[0], null);
  // All queue at once; each leader stays until the observer reported it. What the observer saw in
  // between (null, a value skipped) is its business: only order and presence are checked.
  const values = ['c0', 'c1', 'c2', 'c3'];
  const led: Leader[] = [];
  const contenders = values.map(async (value) => {
    const me = await election.campaign(value, { ttl: 30 });
    assert.equal(me.key.startsWith('obs/'), true);
    led.push({ key: me.key, value: me.value, token: me.token });
    await waitFor(`the observer saw ${value}`, () => seen.some((l) => l?.value === value));
    await me.resign();
  });
  await within('every contender led and resigned', Promise.all(contenders), { timeoutMs: 60_000 });
  await waitFor('the observer saw no leader at the end', () => seen.at(-1) === null);
  stop.abort();
  await within('the observer ends', watching);

  // They led in the order they queued (their tokens' order), one at a time.
  assert.deepEqual(
    led.map((l) => l.token),
    led.map((l) => l.token).sort((x, y) => x - y),
  );
  // The observer saw each of them, in that order, and no leader it did not hold.
  const leaders = seen.filter((l): l is Leader => l !== null);
  const firstSeen = led.map((l) => leaders.findIndex((o) => o.key === l.key));
  assert.ok(
    firstSeen.every((at) => at >= 0),
    `a leader never observed: ${JSON.stringify({ led, seen })}`,
  );
  assert.deepEqual(
    firstSeen,
    [...firstSeen].sort((x, y) => x - y),
    `observed out of order: ${JSON.stringify({ led, seen })}`,
  );
  for (const o of leaders)
    assert.ok(led.some((l) => l.key === o.key && l.token === o.token && l.value === o.value));
  for (let i = 1; i < leaders.length; i++) {
    const [before, after] = [leaders[i - 1]!, leaders[i]!];
    if (after.key !== before.key)
      assert.ok(after.token > before.token, `token went back: ${JSON.stringify(seen)}`);
  }
  for (let i = 1; i < seen.length; i++)
    assert.notDeepEqual(seen[i], seen[i - 1], 'the same leader twice in a row');
});

test('a leader whose lease ends loses: lost fires and the next contender leads', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  // The leader renews only through n3; the waiting contender talks to n1 and n2.
  const a = await campaign([c.client('n3')], 'job', 'a', { ttl: 1 });
  let bLeads = false;
  const second = campaign([c.client('n1'), c.client('n2')], 'job', 'b', { ttl: 30 }).then((b) => {
    bLeads = true;
    return b;
  });
  await waitFor(
    'the second contender queued',
    async () => (await c.client('n1').list('job/')).items.length === 2,
  );
  assert.equal(bLeads, false);
  const still = await leader([c.client('n1')], 'job');
  // A round trip later the second contender still waits — unless the leader's 1 s lease ran out
  // meanwhile (a slow machine), which lets it lead rightly.
  if (!a.lost.aborted) {
    assert.deepEqual(still, { key: a.key, value: 'a', token: a.token });
    assert.equal(bLeads, false, 'the second contender leads while the first holds its lease');
  }
  await c.stopNode('n3');
  await waitFor('the leader saw the loss', () => a.lost.aborted);
  assert.ok(a.validUntil() <= performance.now(), 'not valid past the loss');
  const b = await within('the next contender leads', second);
  assert.ok(b.token > a.token);
  assert.deepEqual(await leader([c.client('n1')], 'job'), { key: b.key, value: 'b', token: b.token });
  await assert.rejects(a.proclaim('again'), LeadershipLostError);
  await b.resign();
});

test('a leader whose key is deleted behind its back learns it at once, and its lease goes', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = ['n1', 'n2', 'n3'].map((id) => c.client(id));
  // A TTL far beyond the test: only the watch of its own key can tell it.
  const a = await campaign(nodes, 'del', 'a', { ttl: 300 });
  const waiting = campaign([nodes[1]!], 'del', 'b', { ttl: 30 });
  await waitFor('the second contender queued', async () => (await nodes[0]!.list('del/')).items.length === 2);
  await nodes[2]!.delete(a.key);
  await waitFor('the leader saw the loss', () => a.lost.aborted);
  assert.match(String(a.lost.reason), /deleted/);
  const b = await within('the next contender leads', waiting);
  assert.ok(b.token > a.token);
  await waitFor('the old leader revoked its lease', async () => {
    try {
      await nodes[0]!.lease(a.leaseId);
      return false;
    } catch (e) {
      return e instanceof RaftkvApiError && e.code === 'lease_not_found';
    }
  });
  await b.resign();
});

test('bad input: a refused value, an empty name or a bad TTL rejects and leaves nothing behind', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const nodes = [c.client('n1'), c.client('n2')];
  await assert.rejects(
    campaign(nodes, 'big', 'x'.repeat(1024 * 1024 + 1), { ttl: 30 }),
    (e) => e instanceof RaftkvApiError && e.status === 413,
  );
  assert.deepEqual((await nodes[0]!.list('big/')).items, []);
  await assert.rejects(campaign(nodes, '', 'v'), TypeError);
  await assert.rejects(campaign(nodes, 'e', 'v', { ttl: 0 }), RangeError);
  await assert.rejects(leader(nodes, ''), TypeError);
  assert.throws(() => electionOn(() => nodes, ''), TypeError);
  // Withdrawing while waiting: the contender's key goes with its lease.
  const a = await campaign(nodes, 'w', 'a', { ttl: 30 });
  const give = new AbortController();
  const waiting = campaign(nodes, 'w', 'b', { ttl: 30, signal: give.signal });
  await waitFor('the contender queued', async () => (await nodes[0]!.list('w/')).items.length === 2);
  give.abort(new Error('gave up'));
  await assert.rejects(waiting, /gave up/);
  await waitFor('its key is gone', async () => (await nodes[0]!.list('w/')).items.length === 1);
  await a.resign();
});
