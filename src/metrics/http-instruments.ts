// The HTTP server's counters and latency histogram, on the hot path: one call per request. The
// label children are bound once — per route on its first request, per (route, status) on its
// first answer with that status — and kept, so a request costs two map lookups and what
// prom-client itself does per increment and observation. Routes are the router's names and
// statuses the few the server sends, so the children stay few (never a raw path as a label).

import { Counter, Histogram, type Registry } from 'prom-client';
import { malformedRoute, type RejectionReason, rejectionReasons } from '../api/metrics.js';
import { latencyBuckets } from './buckets.js';

interface RouteInstruments {
  readonly route: string;
  readonly duration: Histogram.Internal<'route'>;
  readonly byStatus: Map<number, Counter.Internal>;
}

export class HttpInstruments {
  private readonly requests: Counter<'route' | 'code'>;
  private readonly duration: Histogram<'route'>;
  private readonly byRoute = new Map<string, RouteInstruments>();
  private readonly byReason = new Map<RejectionReason, Counter.Internal>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.requests = new Counter({
      name: 'raftkv_http_requests_total',
      help: 'HTTP requests answered, by route name and status code.',
      labelNames: ['route', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'raftkv_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer, by route name.',
      labelNames: ['route'],
      buckets: [...latencyBuckets],
      registers,
    });
    const rejected = new Counter({
      name: 'raftkv_requests_rejected_total',
      help: 'Requests refused before anything was written, to protect the node, by reason.',
      labelNames: ['reason'],
      registers,
    });
    // Every reason is there from the start, at 0, so rate() sees the first refusal.
    for (const reason of rejectionReasons) this.byReason.set(reason, rejected.labels(reason));
    for (const child of this.byReason.values()) child.inc(0);
  }

  answered(route: string, status: number, seconds: number): void {
    const r = this.instrumentsOf(route);
    this.countOf(r, status).inc();
    r.duration.observe(seconds);
  }

  malformed(status: number): void {
    this.countOf(this.instrumentsOf(malformedRoute), status).inc();
  }

  rejected(reason: RejectionReason): void {
    this.byReason.get(reason)?.inc();
  }

  private instrumentsOf(route: string): RouteInstruments {
    let r = this.byRoute.get(route);
    if (r === undefined) {
      r = { route, duration: this.duration.labels(route), byStatus: new Map() };
      this.byRoute.set(route, r);
    }
    return r;
  }

  private countOf(r: RouteInstruments, status: number): Counter.Internal {
    let count = r.byStatus.get(status);
    if (count === undefined) {
      count = this.requests.labels(r.route, String(status));
      r.byStatus.set(status, count);
    }
    return count;
  }
}
