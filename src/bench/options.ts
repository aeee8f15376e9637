// What a run of the load generator is asked to do, and the seam between it and its request paths
// (raw HTTP in load.ts, the package's client in client-path.ts).

import type { ClientTls } from '../client/index.js';

export type BenchTarget = 'raftkv' | 'etcd';
/** How requests are sent: raw HTTP requests of the generator's own, or the package's ClusterClient. */
export type BenchVia = 'http' | 'client';
export type BenchOp =
  | { readonly kind: 'put' }
  | { readonly kind: 'get' }
  | { readonly kind: 'mixed'; readonly readRatio: number };

export interface BenchOptions {
  /** `host:port` (http), or `http://host:port` / `https://host:port`. */
  readonly endpoints: readonly string[];
  readonly target: BenchTarget;
  /** `client` goes with target raftkv only (etcd is spoken by raw HTTP). */
  readonly via: BenchVia;
  /** Raw raftkv writes carry an Idempotency-Key each, as the client's do (what they cost the nodes). */
  readonly idempotencyKeys?: boolean;
  readonly clients: number;
  readonly conns: number;
  /** Stop after this many requests (if set), else after durationS seconds. */
  readonly total: number | null;
  readonly durationS: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly keyspace: number;
  readonly op: BenchOp;
  readonly consistency: 'linearizable' | 'stale';
  /** Called about 5 times a second with the requests done so far. */
  readonly onProgress?: (done: number, elapsedS: number) => void;
  /**
   * While the load runs, GET /metrics from every endpoint every this many ms, as Prometheus would
   * (scrape.ts); target raftkv only. Left out: no scrapes.
   */
  readonly scrapeMetricsMs?: number;
  /** Per-request timeout in ms. */
  readonly timeoutMs?: number;
  /** raftkv: sent as `Authorization: Bearer TOKEN` (nodes with an auth file). */
  readonly token?: string;
  /** For https:// endpoints: the CA to trust and the client certificate to present. */
  readonly tls?: ClientTls;
}

/**
 * Sends one request of the bench (a get when `isRead`, else a put) and resolves with `ok` or the
 * kind of error to count it under; never rejects.
 */
export type Send = (isRead: boolean, key: string, value: string) => Promise<string>;

/** A way of sending the bench's requests over the endpoints, and of releasing its connections. */
export interface RequestPath {
  /** The sender of client `c`, whose endpoint is the (c mod N)th on every path. */
  sender(c: number): Send;
  close(): void;
}
