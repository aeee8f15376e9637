// Goal: GET /metrics, /livez and /readyz on a live 3-node cluster (in-process nodes, each with its
// own registry). Every node exports every series of the contract with its type, as valid
// Prometheus text; the values move with what happens: a write raises the committed counter on
// every node, the HTTP counters and latencies of the nodes it passed through, and the leader's
// fsync count; bad requests are counted under their route and status; the leader times its
// heartbeats to each peer; stopping the leader raises the leader changes seen by the survivors;
// and a node left without a leader is live (/livez 200) but not ready (/readyz 503 with a reason).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { contractSeries, processSeries } from '../support/metrics-contract.js';
import { type Family, parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

async function scrape(c: TestCluster, id: string): Promise<Map<string, Family>> {
  return parseExposition(await c.client(id).metrics());
}

/** A counter's series (0 when it has none yet: a route's first request creates its series). */
function count(
  f: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
  sample = name,
): number {
  try {
    return seriesValue(f, name, labels, sample);
  } catch {
    return 0;
  }
}

const requests = (f: Map<string, Family>, route: string, code: string): number =>
  count(f, 'raftkv_http_requests_total', { route, code });

async function allReady(c: TestCluster): Promise<void> {
  await waitFor(
    'every node ready',
    async (note) => {
      const probes = await Promise.all(c.runningIds().map((id) => c.client(id).readyz()));
      note(probes);
      return probes.every((p) => p.ok);
    },
    { timeoutMs: 15_000 },
  );
}

test('every node exports the contract; a write, bad requests and heartbeats move the values', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  await allReady(c);

  const answer = await c.request(leader, 'GET', '/metrics');
  assert.equal(answer.status, 200);
  assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4; charset=utf-8$/);
  let leaders = 0;
  for (const id of c.ids) {
    const f = await scrape(c, id);
    for (const [name, type] of Object.entries({ ...contractSeries, ...processSeries })) {
      assert.equal(f.get(name)?.type, type, `${id}: ${name} is a ${type}`);
    }
    assert.equal(seriesValue(f, 'raftkv_has_leader'), 1, id);
    assert.equal(seriesValue(f, 'raftkv_members', { role: 'voter' }), 3, id);
    assert.equal(seriesValue(f, 'raftkv_members', { role: 'learner' }), 0, id);
    assert.ok(seriesValue(f, 'raftkv_leader_changes_seen_total') >= 1, `${id} has seen a leader`);
    assert.ok(seriesValue(f, 'raftkv_term') >= 1);
    const peers = new Set(f.get('raftkv_peer_round_trip_time_seconds')!.samples.map((s) => s.labels.peer));
    assert.deepEqual([...peers].sort(), c.ids.filter((p) => p !== id).sort(), `${id}: a series per peer`);
    leaders += seriesValue(f, 'raftkv_is_leader');
  }
  assert.equal(leaders, 1, 'exactly one node says it leads');

  // The leader times each heartbeat to its answer, per peer.
  const rtt = 'raftkv_peer_round_trip_time_seconds';
  await waitFor('round trips measured to both peers', async () => {
    const f = await scrape(c, leader);
    return c.ids.filter((p) => p !== leader).every((p) => count(f, rtt, { peer: p }, `${rtt}_count`) > 0);
  });

  const before = new Map(await Promise.all(c.ids.map(async (id) => [id, await scrape(c, id)] as const)));
  // A write through a follower: it hands the proposal to the leader over the peer connection and
  // answers the client itself; the leader commits it, and sees no HTTP request for it.
  const put = await c.put(follower, 'metrics/1', 'one');
  assert.equal(put.status, 200, put.text);
  const leaderAfter = await scrape(c, leader);
  const followerAfter = await scrape(c, follower);
  const leaderBefore = before.get(leader)!;
  const followerBefore = before.get(follower)!;
  assert.ok(
    seriesValue(leaderAfter, 'raftkv_proposals_committed_total') >
      seriesValue(leaderBefore, 'raftkv_proposals_committed_total'),
    'the leader committed the write',
  );
  assert.equal(requests(followerAfter, 'put', '200'), requests(followerBefore, 'put', '200') + 1);
  assert.equal(requests(leaderAfter, 'put', '200'), requests(leaderBefore, 'put', '200'));
  const duration = 'raftkv_http_request_duration_seconds';
  assert.equal(
    count(followerAfter, duration, { route: 'put' }, `${duration}_count`),
    count(followerBefore, duration, { route: 'put' }, `${duration}_count`) + 1,
  );
  const fsync = 'raftkv_wal_fsync_duration_seconds';
  assert.ok(
    seriesValue(leaderAfter, fsync, {}, `${fsync}_count`) >
      seriesValue(leaderBefore, fsync, {}, `${fsync}_count`),
    "the write's batch was fsynced",
  );
  // Every node sees it committed and applied.
  for (const id of c.ids) {
    await waitFor(`${id} counts the write committed and applies it`, async () => {
      const f = await scrape(c, id);
      return (
        seriesValue(f, 'raftkv_proposals_committed_total') >
          seriesValue(before.get(id)!, 'raftkv_proposals_committed_total') &&
        seriesValue(f, 'raftkv_applied_index') === seriesValue(f, 'raftkv_commit_index') &&
        seriesValue(f, 'raftkv_keys') === 1
      );
    });
  }

  // Bad requests are counted under their route name and status; an unknown path under "unmatched".
  assert.equal((await c.request(follower, 'POST', '/kv', { body: '{"key":' })).status, 400);
  assert.equal((await c.request(follower, 'GET', '/no/such/path?x=1')).status, 404);
  const afterBad = await scrape(c, follower);
  assert.equal(requests(afterBad, 'put', '400'), requests(followerBefore, 'put', '400') + 1);
  assert.equal(requests(afterBad, 'unmatched', '404'), requests(followerBefore, 'unmatched', '404') + 1);
  const routes = new Set(afterBad.get('raftkv_http_requests_total')!.samples.map((s) => s.labels.route));
  assert.ok(![...routes].some((r) => r?.startsWith('/')), `route names, never paths: ${[...routes]}`);
  // Scrapes count too, under their own route.
  assert.ok(requests(afterBad, 'metrics', '200') >= 2);
});

test('stopping the leader raises the leader changes the survivors see; a node without a leader is live but not ready', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  await allReady(c);
  for (const id of c.ids) assert.equal((await c.client(id).livez()).ok, true);
  const survivors = c.ids.filter((id) => id !== leader);
  const seen = async (id: string): Promise<number> =>
    seriesValue(await scrape(c, id), 'raftkv_leader_changes_seen_total');
  const before = new Map(await Promise.all(survivors.map(async (id) => [id, await seen(id)] as const)));

  await c.stopNode(leader);
  for (const id of survivors) {
    await waitFor(`${id} sees a new leader`, async () => (await seen(id)) > before.get(id)!);
  }

  // Stop the new leader too: the last node cannot reach a majority and knows no leader.
  const next = await c.waitForLeader();
  const last = survivors.find((id) => id !== next)!;
  await c.stopNode(next);
  const probe = await waitFor(
    `${last} not ready`,
    async () => {
      const p = await c.request(last, 'GET', '/readyz');
      return p.status === 503 ? p : null;
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(probe.body.ok, false);
  assert.match(probe.body.reason, /no leader/);
  assert.equal(probe.headers['retry-after'], '1');
  const live = await c.request(last, 'GET', '/livez');
  assert.equal(live.status, 200, 'live without a leader: a restart would not help');
  assert.equal(live.body.ok, true);
  assert.equal((await c.request(last, 'GET', '/health')).status, 503);
  await waitFor(`${last}'s metrics say it knows no leader`, async () => {
    const f = await scrape(c, last);
    return seriesValue(f, 'raftkv_has_leader') === 0 && seriesValue(f, 'raftkv_is_leader') === 0;
  });
});
