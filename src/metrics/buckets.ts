// Histogram buckets, in seconds. One latency scale for fsync, peer round trips and HTTP requests:
// 1, 2.5 and 5 per decade from 100 µs to 10 s. 100 µs resolves an NVMe fdatasync or a loopback
// round trip (etcd's buckets start at 1 ms and would put every one of those in the first); 10 s is
// past the default request timeout (5 s) and any election timeout, so a stall of 5 s lands in a
// bucket of its own and anything longer still counts in +Inf. Each bound is at most 2.5 times the
// one before, which bounds how far histogram_quantile() can be off within a bucket, and the
// bounds are the round numbers alerts and objectives use (0.1 s, 0.5 s, 1 s), so an alert on one
// of them is exact. 16 buckets: cheap to observe (a linear scan) and to store.

export const latencyBuckets: readonly number[] = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * Taking a snapshot: tens of milliseconds for a small state, minutes for hundreds of megabytes
 * (serialising runs in chunks between client requests). Same 1-2.5-5 steps, 10 ms to 10 min.
 */
export const snapshotBuckets: readonly number[] = [
  0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 600,
];
