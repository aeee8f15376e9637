// Goal: one node's metrics on their own (src/metrics/): every series of the contract is exported
// with its type, as valid Prometheus text; each node has its own registry (two in one process
// share nothing but the process's own series); the state gauges follow the node's reading taken
// at scrape; the committed counter grows with the commit index; the round-trip series follow the
// membership (a peer that left loses its series); HTTP requests are labelled by route name and
// status; the histograms have the documented buckets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeReading } from '../../src/api/metrics.js';
import { latencyBuckets, NodeMetrics, snapshotBuckets } from '../../src/metrics/index.js';
import { contractSeries, processSeries } from '../support/metrics-contract.js';
import { type Family, parseExposition, seriesValue } from '../support/prometheus-text.js';

function reading(over: Partial<NodeReading> = {}): NodeReading {
  return {
    term: 3,
    leaderKnown: true,
    isLeader: true,
    isLearner: false,
    commitIndex: 10,
    appliedIndex: 10,
    keys: 4,
    leases: 2,
    pendingProposals: 2,
    voters: 3,
    learners: 1,
    peers: ['n2', 'n3', 'n4'],
    followerLag: new Map([
      ['n2', 0],
      ['n3', 5],
      ['n4', 9],
    ]),
    noSpace: false,
    stateBytes: 1000,
    quotaBytes: 5000,
    watchers: { open: 0, eventsSent: 0, dropped: 0, compacted: 0 },
    ...over,
  };
}

async function scrape(m: NodeMetrics): Promise<Map<string, Family>> {
  const { contentType, body } = await m.exposition();
  assert.match(contentType, /^text\/plain; version=0\.0\.4/);
  return parseExposition(body);
}

function bounds(f: Map<string, Family>, name: string): number[] {
  const family = f.get(name)!;
  const first = family.samples.find((s) => s.name === `${name}_count`)!;
  const { le: _le, ...series } = first.labels;
  return family.samples
    .filter((s) => s.name === `${name}_bucket` && Object.entries(series).every(([k, v]) => s.labels[k] === v))
    .map((s) => Number(s.labels.le))
    .filter((b) => Number.isFinite(b));
}

test('every series of the contract and the process series, with their types', async () => {
  const m = new NodeMetrics();
  m.watch(() => reading());
  const f = await scrape(m);
  for (const [name, type] of Object.entries({ ...contractSeries, ...processSeries })) {
    assert.equal(f.get(name)?.type, type, `${name} is a ${type}`);
    assert.ok(f.get(name)?.help, `${name} has a HELP line`);
  }
});

test('the state gauges are the reading taken at scrape', async () => {
  let r = reading();
  const m = new NodeMetrics();
  m.watch(() => r);
  let f = await scrape(m);
  assert.equal(seriesValue(f, 'raftkv_has_leader'), 1);
  assert.equal(seriesValue(f, 'raftkv_is_leader'), 1);
  assert.equal(seriesValue(f, 'raftkv_term'), 3);
  assert.equal(seriesValue(f, 'raftkv_commit_index'), 10);
  assert.equal(seriesValue(f, 'raftkv_applied_index'), 10);
  assert.equal(seriesValue(f, 'raftkv_keys'), 4);
  assert.equal(seriesValue(f, 'raftkv_leases'), 2);
  assert.equal(seriesValue(f, 'raftkv_lease_expiries_total'), 0);
  m.leaseExpired();
  assert.equal(
    seriesValue(await scrape(m), 'raftkv_lease_expiries_total'),
    1,
    'an expiry applied is counted',
  );
  assert.equal(seriesValue(f, 'raftkv_proposals_pending'), 2);
  assert.equal(seriesValue(f, 'raftkv_members', { role: 'voter' }), 3);
  assert.equal(seriesValue(f, 'raftkv_members', { role: 'learner' }), 1);
  assert.equal(seriesValue(f, 'raftkv_follower_lag_entries', { peer: 'n4' }), 9);
  assert.equal(seriesValue(f, 'raftkv_no_space'), 0);
  assert.equal(seriesValue(f, 'raftkv_quota_bytes'), 5000);
  assert.equal(seriesValue(f, 'raftkv_proposals_committed_total'), 0, 'counts from the first reading on');

  r = reading({
    term: 4,
    leaderKnown: false,
    isLeader: false,
    commitIndex: 17,
    appliedIndex: 15,
    followerLag: new Map(),
    noSpace: true,
    quotaBytes: null,
  });
  f = await scrape(m);
  assert.equal(seriesValue(f, 'raftkv_has_leader'), 0);
  assert.equal(seriesValue(f, 'raftkv_is_leader'), 0);
  assert.equal(seriesValue(f, 'raftkv_term'), 4);
  assert.equal(seriesValue(f, 'raftkv_applied_index'), 15);
  assert.equal(seriesValue(f, 'raftkv_proposals_committed_total'), 7);
  assert.equal(f.get('raftkv_follower_lag_entries')!.samples.length, 0, 'a follower has no lag series');
  assert.equal(seriesValue(f, 'raftkv_no_space'), 1);
  assert.equal(seriesValue(f, 'raftkv_quota_bytes'), 0, 'no quota');
});

test('round-trip series for every peer, empty until measured; a peer that left loses its series', async () => {
  let r = reading();
  const m = new NodeMetrics();
  m.watch(() => r);
  m.peerRoundTrip('n2', 0.0004);
  m.peerRoundTrip('n2', 0.003);
  let f = await scrape(m);
  const rtt = 'raftkv_peer_round_trip_time_seconds';
  assert.equal(seriesValue(f, rtt, { peer: 'n2' }, `${rtt}_count`), 2);
  assert.equal(seriesValue(f, rtt, { peer: 'n2', le: '0.0005' }, `${rtt}_bucket`), 1);
  assert.equal(seriesValue(f, rtt, { peer: 'n3' }, `${rtt}_count`), 0);
  r = reading({ peers: ['n2', 'n3'] });
  f = await scrape(m);
  assert.deepEqual(
    [...new Set(f.get(rtt)!.samples.map((s) => s.labels.peer))].sort(),
    ['n2', 'n3'],
    'n4 left the membership',
  );
  assert.equal(seriesValue(f, rtt, { peer: 'n2' }, `${rtt}_count`), 2, 'kept across scrapes');
});

test('the node events: leader changes, failed proposals, fsync and snapshot times', async () => {
  const m = new NodeMetrics();
  m.watch(() => reading());
  m.leaderChanged();
  m.leaderChanged();
  m.proposalFailed();
  m.walSynced(0.00015);
  m.walSynced(5.5);
  m.snapshotTaken(0.2);
  const f = await scrape(m);
  assert.equal(seriesValue(f, 'raftkv_leader_changes_seen_total'), 2);
  assert.equal(seriesValue(f, 'raftkv_proposals_failed_total'), 1);
  const fsync = 'raftkv_wal_fsync_duration_seconds';
  assert.equal(
    seriesValue(f, fsync, { le: '0.00025' }, `${fsync}_bucket`),
    1,
    'a 0.15 ms fsync has a bucket',
  );
  assert.equal(seriesValue(f, fsync, { le: '5' }, `${fsync}_bucket`), 1);
  assert.equal(seriesValue(f, fsync, { le: '10' }, `${fsync}_bucket`), 2, 'a 5.5 s stall has one too');
  assert.equal(
    seriesValue(f, 'raftkv_snapshot_duration_seconds', {}, 'raftkv_snapshot_duration_seconds_count'),
    1,
  );
  assert.deepEqual(bounds(f, fsync), latencyBuckets);
  assert.deepEqual(bounds(f, 'raftkv_snapshot_duration_seconds'), snapshotBuckets);
  assert.deepEqual(bounds(f, 'raftkv_peer_round_trip_time_seconds'), latencyBuckets);
});

test('HTTP requests by route name and status; every rejection reason from the start', async () => {
  const m = new NodeMetrics();
  let f = await scrape(m);
  for (const reason of ['max_inflight', 'busy', 'no_space_quota', 'no_space_alarm']) {
    assert.equal(seriesValue(f, 'raftkv_requests_rejected_total', { reason }), 0, reason);
  }
  m.answered('put', 200, 0.002);
  m.answered('put', 200, 0.004);
  m.answered('put', 503, 0.001);
  m.answered('get', 404, 0.0003);
  m.malformed(400);
  m.rejected('busy');
  f = await scrape(m);
  assert.equal(seriesValue(f, 'raftkv_http_requests_total', { route: 'put', code: '200' }), 2);
  assert.equal(seriesValue(f, 'raftkv_http_requests_total', { route: 'put', code: '503' }), 1);
  assert.equal(seriesValue(f, 'raftkv_http_requests_total', { route: 'get', code: '404' }), 1);
  assert.equal(seriesValue(f, 'raftkv_http_requests_total', { route: 'malformed', code: '400' }), 1);
  const duration = 'raftkv_http_request_duration_seconds';
  assert.equal(seriesValue(f, duration, { route: 'put' }, `${duration}_count`), 3);
  assert.ok(
    !f.get(duration)!.samples.some((s) => s.labels.route === 'malformed'),
    'a malformed request has no duration',
  );
  assert.equal(seriesValue(f, 'raftkv_requests_rejected_total', { reason: 'busy' }), 1);
});

test('two nodes in one process: their own series apart, the process series shared', async () => {
  const a = new NodeMetrics();
  const b = new NodeMetrics();
  a.watch(() => reading({ term: 7 }));
  b.watch(() => reading({ term: 8 }));
  a.answered('put', 200, 0.001);
  a.leaderChanged();
  const [fa, fb] = [await scrape(a), await scrape(b)];
  assert.equal(seriesValue(fa, 'raftkv_term'), 7);
  assert.equal(seriesValue(fb, 'raftkv_term'), 8);
  assert.equal(seriesValue(fa, 'raftkv_leader_changes_seen_total'), 1);
  assert.equal(seriesValue(fb, 'raftkv_leader_changes_seen_total'), 0);
  assert.equal(fb.get('raftkv_http_requests_total')!.samples.length, 0);
  assert.ok(fb.has('process_cpu_seconds_total') && fa.has('process_cpu_seconds_total'));
});
