// One node's Prometheus metrics (docs/metrics.md), in a registry of its own — several nodes run in
// one process in the tests, so nothing goes in prom-client's global registry.
//
// Three kinds, each paid for where it is cheapest:
// - state that the core and the state machine already hold (term, commit index, leader, keys,
//   members, ...) is read once per scrape (state-gauges.ts), so the write path pays nothing for it;
//   so is the committed counter, which grows with the commit index;
// - the node's events (leader changes, failed proposals, fsync, snapshot and heartbeat times) are
//   counted or observed as the driver reports them, each far rarer than a request;
// - HTTP requests are counted per request (http-instruments.ts).

import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { activeFaults, type Faults, faultNames } from '../api/faults.js';
import type { DriverObserver, HttpMetrics, NodeReading, RejectionReason } from '../api/metrics.js';
import { latencyBuckets, snapshotBuckets } from './buckets.js';
import { HttpInstruments } from './http-instruments.js';
import { processMetrics } from './process-metrics.js';
import { StateGauges } from './state-gauges.js';

export class NodeMetrics implements HttpMetrics, DriverObserver {
  readonly registry = new Registry();
  private readonly http: HttpInstruments;
  private read: (() => NodeReading) | null = null;
  /** The commit index last read, from which the committed counter grows. */
  private committedSeen = 0;
  /** The watch counts last read, from which the watch counters grow. */
  private watchSeen = { eventsSent: 0, dropped: 0, compacted: 0 };
  private readonly state: StateGauges;

  private readonly leaderChanges: Counter;
  private readonly leaseExpiries: Counter;
  private readonly proposalsFailed: Counter;
  private readonly proposalsCommitted: Counter;
  private readonly watchEventsSent: Counter;
  private readonly watchersEnded: Counter<'reason'>;
  private readonly walFsync: Histogram;
  private readonly snapshot: Histogram;
  private readonly roundTrip: Histogram<'peer'>;
  /** Bound once per peer; children of peers that left are removed at scrape. */
  private readonly roundTripByPeer = new Map<string, Histogram.Internal<'peer'>>();

  constructor() {
    const registers = [this.registry];
    // First, so that its collect() runs before any other metric is read (state-gauges.ts).
    this.state = new StateGauges(this.registry, () => this.collect());
    this.proposalsCommitted = new Counter({
      name: 'raftkv_proposals_committed_total',
      help: 'Log entries this node has seen committed since it started (writes, no-ops, configuration).',
      registers,
    });
    this.proposalsFailed = new Counter({
      name: 'raftkv_proposals_failed_total',
      help: 'Proposals made on this node that failed: leadership lost, deadline passed, node stopping.',
      registers,
    });
    this.leaderChanges = new Counter({
      name: 'raftkv_leader_changes_seen_total',
      help: 'Times this node has seen a new leader.',
      registers,
    });
    this.watchEventsSent = new Counter({
      name: 'raftkv_watch_events_sent_total',
      help: 'Change events written to watchers (GET /watch) on this node.',
      registers,
    });
    this.watchersEnded = new Counter({
      name: 'raftkv_watchers_ended_total',
      help: 'Watches the node ended, by reason: dropped (the client did not keep up), compacted (the history no longer held what it needed).',
      labelNames: ['reason'],
      registers,
    });
    for (const reason of ['dropped', 'compacted']) this.watchersEnded.labels(reason).inc(0);
    this.leaseExpiries = new Counter({
      name: 'raftkv_lease_expiries_total',
      help: 'Leases this node has seen expire (applied an expiry for) since it started; revocations are not counted.',
      registers,
    });
    this.walFsync = new Histogram({
      name: 'raftkv_wal_fsync_duration_seconds',
      help: 'Writing and fdatasyncing one batch of WAL records.',
      buckets: [...latencyBuckets],
      registers,
    });
    this.snapshot = new Histogram({
      name: 'raftkv_snapshot_duration_seconds',
      help: 'Taking a snapshot: serialising, writing, recording it and compacting the log.',
      buckets: [...snapshotBuckets],
      registers,
    });
    this.roundTrip = new Histogram({
      name: 'raftkv_peer_round_trip_time_seconds',
      help: 'Leader only: from a heartbeat leaving to its answer arriving, by peer.',
      labelNames: ['peer'],
      buckets: [...latencyBuckets],
      registers,
    });
    this.http = new HttpInstruments(this.registry);
    for (const m of processMetrics()) this.registry.registerMetric(m);
  }

  /**
   * Reads the node from now on, with `read` (taken once per scrape). The first reading is the
   * starting point of the committed counter: it counts what commits while this process runs.
   */
  /**
   * With TLS on: when the first of the node's certificates expires (ms since the epoch), read at
   * each scrape so that a reload (SIGHUP) shows at once; the series exists only with TLS.
   */
  watchCertificates(expiresAt: () => number | null): void {
    new Gauge({
      name: 'raftkv_tls_cert_expiry_timestamp_seconds',
      help: "When the first of the node's TLS certificates (--cert-file, --peer-cert-file) expires, in Unix seconds.",
      registers: [this.registry],
      collect() {
        const at = expiresAt();
        if (at !== null) this.set(at / 1000);
      },
    });
  }

  /**
   * Fault injection (docs/faults.md), read at each scrape: whether the node accepts faults
   * (--enable-faults), and which are in force now, one series per kind of fault.
   */
  watchFaults(read: () => { readonly enabled: boolean; readonly faults: Faults }): void {
    const registers = [this.registry];
    new Gauge({
      name: 'raftkv_faults_enabled',
      help: '1 if the node runs with --enable-faults (POST /admin/faults is accepted), else 0.',
      registers,
      collect() {
        this.set(read().enabled ? 1 : 0);
      },
    });
    new Gauge({
      name: 'raftkv_fault_active',
      help: 'Fault injection: 1 while this kind of fault is in force on this node, else 0.',
      labelNames: ['fault'],
      registers,
      collect() {
        const active = activeFaults(read().faults);
        for (const fault of faultNames) this.labels(fault).set(active[fault] ? 1 : 0);
      },
    });
  }

  watch(read: () => NodeReading): void {
    this.read = read;
    const r = read();
    this.committedSeen = r.commitIndex;
    const { eventsSent, dropped, compacted } = r.watchers;
    this.watchSeen = { eventsSent, dropped, compacted };
  }

  private collect(): void {
    if (this.read === null) return;
    const r = this.read();
    this.state.set(r);
    if (r.commitIndex > this.committedSeen) {
      this.proposalsCommitted.inc(r.commitIndex - this.committedSeen);
      this.committedSeen = r.commitIndex;
    }
    this.countWatches(r);
    this.syncPeers(r.peers);
  }

  /** The watch counters grow by what the hub has done since the last scrape. */
  private countWatches(r: NodeReading): void {
    const w = r.watchers;
    const seen = this.watchSeen;
    if (w.eventsSent > seen.eventsSent) this.watchEventsSent.inc(w.eventsSent - seen.eventsSent);
    if (w.dropped > seen.dropped) this.watchersEnded.labels('dropped').inc(w.dropped - seen.dropped);
    if (w.compacted > seen.compacted)
      this.watchersEnded.labels('compacted').inc(w.compacted - seen.compacted);
    this.watchSeen = { eventsSent: w.eventsSent, dropped: w.dropped, compacted: w.compacted };
  }

  /** Every member has its round-trip series (empty until measured); one that left loses it. */
  private syncPeers(peers: readonly string[]): void {
    for (const peer of peers) this.roundTripOf(peer);
    for (const peer of this.roundTripByPeer.keys()) {
      if (peers.includes(peer)) continue;
      this.roundTripByPeer.delete(peer);
      this.roundTrip.remove(peer);
    }
  }

  private roundTripOf(peer: string): Histogram.Internal<'peer'> {
    let child = this.roundTripByPeer.get(peer);
    if (child === undefined) {
      this.roundTrip.zero({ peer });
      child = this.roundTrip.labels(peer);
      this.roundTripByPeer.set(peer, child);
    }
    return child;
  }

  // --- HttpMetrics -------------------------------------------------------------------------

  answered(route: string, status: number, seconds: number): void {
    this.http.answered(route, status, seconds);
  }

  malformed(status: number): void {
    this.http.malformed(status);
  }

  rejected(reason: RejectionReason): void {
    this.http.rejected(reason);
  }

  async exposition(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  // --- DriverObserver ----------------------------------------------------------------------

  leaderChanged(): void {
    this.leaderChanges.inc();
  }

  proposalFailed(): void {
    this.proposalsFailed.inc();
  }

  walSynced(seconds: number): void {
    this.walFsync.observe(seconds);
  }

  snapshotTaken(seconds: number): void {
    this.snapshot.observe(seconds);
  }

  peerRoundTrip(peer: string, seconds: number): void {
    this.roundTripOf(peer).observe(seconds);
  }

  leaseExpired(): void {
    this.leaseExpiries.inc();
  }
}
