// `raftkv bench --scrape-metrics D`: GET /metrics from every endpoint every D while the load runs,
// as a Prometheus server would — so that what metrics cost the nodes when they are read can be
// measured against a run without. Like Prometheus: one keep-alive connection per node, apart from
// the bench's own; the whole body read; scrapes of one node sequential, a tick that comes while
// the node's previous scrape is still running skipped (never two at once on a node); the nodes'
// first scrapes spread over the first interval (Prometheus offsets its targets), so they are not
// all read at the same instant.

import http from 'node:http';
import https from 'node:https';
import type { ClientTls } from '../client/index.js';
import { type AgentEndpoint, agentEndpoint } from './endpoint.js';
import { Histogram } from './histogram.js';

export interface ScrapeOptions {
  /** `host:port` (http), or `http://host:port` / `https://host:port`, as the bench's endpoints. */
  readonly endpoints: readonly string[];
  readonly intervalMs: number;
  /** A scrape not answered within this is cut off and counted as failed (`timeout`). */
  readonly timeoutMs: number;
  /** Sent as `Authorization: Bearer TOKEN` (a node with `--metrics-auth` wants an admin's). */
  readonly token?: string;
  readonly tls?: ClientTls;
}

export interface ScrapeStats {
  readonly intervalMs: number;
  readonly nodes: number;
  /** Scrapes answered 200 with the whole body read. */
  readonly scrapes: number;
  readonly failed: number;
  /** The failed ones by kind (`http 401`, `ECONNREFUSED`, `timeout`), as the bench names errors. */
  readonly errors: Readonly<Record<string, number>>;
  /** Of the successful scrapes, request sent to the body's last byte, in microseconds. */
  readonly latency: Histogram;
  /** Body bytes of the successful scrapes, all together. */
  readonly bytes: number;
}

type Target = AgentEndpoint;

export class MetricsScraper {
  private readonly targets: Target[];
  private readonly latency = new Histogram();
  private readonly errors: Record<string, number> = {};
  private failed = 0;
  private bytes = 0;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly running = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly o: ScrapeOptions) {
    if (!(o.intervalMs > 0)) throw new Error('the scrape interval must be positive');
    // One connection per node, kept alive between scrapes, as Prometheus keeps one per target.
    this.targets = o.endpoints.map((e) => agentEndpoint(e, 1, o.tls));
  }

  /** Starts scraping: node i first at i/N of an interval, then every interval on its own clock. */
  start(): void {
    const n = this.targets.length;
    this.targets.forEach((t, i) => {
      const first = Date.now() + Math.floor((i * this.o.intervalMs) / n);
      this.schedule(t, first);
    });
  }

  /**
   * Stops scheduling, waits for the scrapes under way (each bounded by the timeout: a scrape
   * started during the run is counted, whatever it finds), closes the connections and returns
   * what was seen.
   */
  async stop(): Promise<ScrapeStats> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.all([...this.running]);
    for (const t of this.targets) t.agent.destroy();
    return this.stats();
  }

  stats(): ScrapeStats {
    return {
      intervalMs: this.o.intervalMs,
      nodes: this.targets.length,
      scrapes: this.latency.count,
      failed: this.failed,
      errors: { ...this.errors },
      latency: this.latency,
      bytes: this.bytes,
    };
  }

  /** Runs the node's scrape at `at`, then the next one at the first tick after it has ended. */
  private schedule(t: Target, at: number): void {
    if (this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        if (this.stopped) return;
        const run = this.scrape(t).then(() => {
          this.running.delete(run);
          // Ticks that passed during a slow scrape are skipped, not caught up on.
          const ticks = Math.max(1, Math.ceil((Date.now() - at) / this.o.intervalMs));
          this.schedule(t, at + ticks * this.o.intervalMs);
        });
        this.running.add(run);
      },
      Math.max(0, at - Date.now()),
    );
    this.timers.add(timer);
  }

  /** One GET /metrics, the whole body read; resolves when it is counted, never rejects. */
  private scrape(t: Target): Promise<void> {
    const t0 = process.hrtime.bigint();
    return new Promise((resolve) => {
      let settled = false;
      const fail = (kind: string): void => {
        if (settled) return;
        settled = true;
        this.failed++;
        this.errors[kind] = (this.errors[kind] ?? 0) + 1;
        resolve();
      };
      const headers: http.OutgoingHttpHeaders = { accept: 'text/plain' };
      if (this.o.token !== undefined) headers.authorization = `Bearer ${this.o.token}`;
      const req = (t.secure ? https : http).request(
        {
          host: t.host,
          port: t.port,
          method: 'GET',
          path: '/metrics',
          agent: t.agent,
          headers,
          timeout: this.o.timeoutMs,
        },
        (res) => {
          let bytes = 0;
          res.on('data', (c: Buffer) => {
            bytes += c.length;
          });
          res.on('end', () => {
            if (settled) return;
            if (res.statusCode !== 200) return fail(`http ${res.statusCode ?? 0}`);
            settled = true;
            this.latency.record(Number(process.hrtime.bigint() - t0) / 1000);
            this.bytes += bytes;
            resolve();
          });
          res.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? 'response error'));
          // Cut off mid-body without an error event: still counted, never left pending.
          res.on('close', () => fail('response error'));
        },
      );
      req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
      req.on('error', (e: NodeJS.ErrnoException) => fail(e.code ?? e.message));
      req.end();
    });
  }
}
