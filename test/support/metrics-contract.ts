// The series the API contract names for GET /metrics ("Health and metrics"), with the type each
// must have, and the process and Node.js series an operator expects next to them.

import type { MetricType } from './prometheus-text.js';

export const contractSeries: Readonly<Record<string, MetricType>> = {
  raftkv_has_leader: 'gauge',
  raftkv_is_leader: 'gauge',
  raftkv_leader_changes_seen_total: 'counter',
  raftkv_term: 'gauge',
  raftkv_commit_index: 'gauge',
  raftkv_applied_index: 'gauge',
  raftkv_proposals_committed_total: 'counter',
  raftkv_proposals_failed_total: 'counter',
  raftkv_proposals_pending: 'gauge',
  raftkv_wal_fsync_duration_seconds: 'histogram',
  raftkv_snapshot_duration_seconds: 'histogram',
  raftkv_peer_round_trip_time_seconds: 'histogram',
  raftkv_http_requests_total: 'counter',
  raftkv_http_request_duration_seconds: 'histogram',
  raftkv_keys: 'gauge',
  raftkv_requests_rejected_total: 'counter',
  raftkv_members: 'gauge',
  // docs/space.md: the no-space alarm shows in /metrics under this name.
  raftkv_no_space: 'gauge',
};

/** A few of prom-client's defaults; event-loop lag above all (a stalled loop risks an election). */
export const processSeries: Readonly<Record<string, MetricType>> = {
  process_cpu_seconds_total: 'counter',
  process_resident_memory_bytes: 'gauge',
  process_start_time_seconds: 'gauge',
  nodejs_eventloop_lag_seconds: 'gauge',
  nodejs_eventloop_lag_p99_seconds: 'gauge',
  nodejs_heap_size_used_bytes: 'gauge',
  nodejs_gc_duration_seconds: 'histogram',
};
