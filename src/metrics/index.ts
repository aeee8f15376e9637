// A node's Prometheus metrics (docs/metrics.md).

export { latencyBuckets, snapshotBuckets } from './buckets.js';
export { NodeMetrics } from './node-metrics.js';
