// Shared helper for the in-process cluster tests: N real nodes (startNode) on free loopback ports
// in temp data dirs, fast timing, log lines collected in memory, an HTTP client, leader discovery
// via GET /debug, stop/restart with the same data dir, and polling with deadlines (no sleeps).

import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { type RaftkvNode, startNode } from '../../src/app/start-node.js';
import type { NodeOptions } from '../../src/node/index.js';
import { type DebugInfo, freePorts as freePortsOn } from './processes.js';

/** GET /debug as both cluster helpers read it. */
export type { DebugInfo };

export const HOST = '127.0.0.1';

/**
 * Resolves once `condition()` holds, polling every few milliseconds; rejects naming `what` if it
 * does not hold within `timeoutMs` (a bound against hangs, not a speed assertion). A condition
 * that throws counts as "not yet" (e.g. a node that is restarting refuses connections).
 */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      if (await condition()) return;
      lastError = null;
    } catch (e) {
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** `count` distinct free loopback ports (shared with the real-process harness). */
export function freePorts(count: number): Promise<number[]> {
  return freePortsOn(count, HOST);
}

export interface HttpAnswer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON fields
  readonly body: any;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface RequestOptions {
  /** A JSON-serialisable object, or a raw string/Buffer sent as is. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Send the body with chunked encoding (no Content-Length). */
  readonly chunked?: boolean;
  /** Client-side bound on the whole exchange; default 20 s. */
  readonly timeoutMs?: number;
}

/** One HTTP request on a fresh connection (no pooling, so restarted nodes never see stale sockets). */
export function request(
  port: number,
  method: string,
  urlPath: string,
  options: RequestOptions = {},
): Promise<HttpAnswer> {
  let payload: Buffer | null = null;
  if (options.body !== undefined) {
    if (Buffer.isBuffer(options.body)) payload = options.body;
    else if (typeof options.body === 'string') payload = Buffer.from(options.body);
    else payload = Buffer.from(JSON.stringify(options.body));
  }
  const headers: Record<string, string | number> = { ...options.headers };
  if (payload !== null) {
    headers['content-type'] = 'application/json';
    if (!options.chunked) headers['content-length'] = payload.length;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: HOST,
        port,
        method,
        path: urlPath,
        headers,
        agent: false,
        timeout: options.timeoutMs ?? 20_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown = null;
          try {
            body = text.length > 0 ? JSON.parse(text) : null;
          } catch {
            body = null;
          }
          resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`${method} ${urlPath} on port ${port}: client timeout`)));
    req.on('error', reject);
    if (payload === null) req.end();
    else if (options.chunked) {
      // Several writes, so the body really goes out in chunks.
      const step = 64 * 1024;
      for (let i = 0; i < payload.length; i += step) req.write(payload.subarray(i, i + step));
      req.end();
    } else req.end(payload);
  });
}

export type ClusterTiming = Pick<
  NodeOptions,
  | 'heartbeatIntervalMs'
  | 'electionTimeoutMs'
  | 'requestTimeoutMs'
  | 'snapshotEvery'
  | 'snapshotCatchUpEntries'
  | 'readMode'
  | 'maxInflightRequests'
  | 'quotaBytes'
  | 'minFreeBytes'
>;

export interface ClusterOptions extends ClusterTiming {
  /** Number of nodes; default 3. */
  readonly size?: number;
  /** Per-node overrides (e.g. a shorter request timeout on one node). */
  readonly perNode?: Readonly<Record<string, ClusterTiming>>;
  /** Per-node data dirs instead of one under the cluster's temp dir (e.g. on a small file system). */
  readonly dataDirs?: Readonly<Record<string, string>>;
}

/** Fast but not flaky on a loaded 2-core machine. */
export const fastTiming: ClusterTiming = {
  heartbeatIntervalMs: 50,
  electionTimeoutMs: 500,
  requestTimeoutMs: 5000,
};

export class TestCluster {
  readonly ids: readonly string[];
  /** Every log line of every incarnation of each node, in order. */
  readonly logs = new Map<string, string[]>();
  private readonly running = new Map<string, RaftkvNode>();
  private readonly ports = new Map<string, number>();
  private readonly dirs = new Map<string, string>();
  private cleaned = false;
  private retryKeys = 0;

  private constructor(
    private readonly root: string,
    private readonly options: ClusterOptions,
    ports: number[],
  ) {
    this.ids = ports.map((_, i) => `n${i + 1}`);
    this.ids.forEach((id, i) => {
      this.ports.set(id, ports[i]!);
      this.dirs.set(id, options.dataDirs?.[id] ?? path.join(root, id));
      this.logs.set(id, []);
    });
  }

  /** Creates the temp dirs and ports and starts every node. */
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-test-'));
    const ports = await freePorts(options.size ?? 3);
    const cluster = new TestCluster(root, options, ports);
    try {
      await cluster.startAll();
    } catch (e) {
      await cluster.cleanup();
      throw e;
    }
    return cluster;
  }

  port(id: string): number {
    const p = this.ports.get(id);
    if (p === undefined) throw new Error(`no node ${id}`);
    return p;
  }

  dataDir(id: string): string {
    return this.dirs.get(id)!;
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  runningIds(): string[] {
    return this.ids.filter((id) => this.running.has(id));
  }

  node(id: string): RaftkvNode | undefined {
    return this.running.get(id);
  }

  /** Starts one node (again) with the same port and data dir. */
  async startNode(id: string): Promise<RaftkvNode> {
    if (this.running.has(id)) throw new Error(`${id} is already running`);
    const cluster: Record<string, { host: string; port: number }> = {};
    for (const other of this.ids) cluster[other] = { host: HOST, port: this.port(other) };
    const lines = this.logs.get(id)!;
    const { size: _size, perNode, dataDirs: _dataDirs, ...timing } = this.options;
    const node = await startNode({
      ...fastTiming,
      ...timing,
      ...perNode?.[id],
      id,
      cluster,
      dataDir: this.dataDir(id),
      logSink: (line) => lines.push(line),
    });
    this.running.set(id, node);
    return node;
  }

  async startAll(): Promise<void> {
    await Promise.all(this.ids.filter((id) => !this.running.has(id)).map((id) => this.startNode(id)));
  }

  /** Graceful stop of one node; its data dir stays for a restart. */
  async stopNode(id: string): Promise<void> {
    const node = this.running.get(id);
    if (node === undefined) return;
    this.running.delete(id);
    await node.stop();
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.runningIds().map((id) => this.stopNode(id)));
  }

  async restartNode(id: string): Promise<RaftkvNode> {
    await this.stopNode(id);
    return this.startNode(id);
  }

  /** Stops every node and removes the temp dirs; safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await this.stopAll();
    await rm(this.root, { recursive: true, force: true });
  }

  request(id: string, method: string, urlPath: string, options?: RequestOptions): Promise<HttpAnswer> {
    return request(this.port(id), method, urlPath, options);
  }

  put(id: string, key: string, value: string, headers?: Record<string, string>): Promise<HttpAnswer> {
    return this.request(id, 'POST', '/kv', { body: { key, value }, ...(headers ? { headers } : {}) });
  }

  /**
   * A put as a careful client makes it: with an Idempotency-Key, retried on 503/504 (outcome
   * unknown, or no leader for now) until it succeeds. For tests whose subject is not the write.
   */
  async putRetrying(id: string, key: string, value: string, timeoutMs = 15_000): Promise<HttpAnswer> {
    const headers = { 'Idempotency-Key': `retry-${key}-${++this.retryKeys}` };
    let last: HttpAnswer | null = null;
    await waitFor(
      async () => {
        last = await this.put(id, key, value, headers);
        if (last.status === 503 || last.status === 504) return false;
        return true;
      },
      timeoutMs,
      `put ${key} on ${id}`,
    );
    return last!;
  }

  get(id: string, key: string, consistency?: 'stale' | 'linearizable'): Promise<HttpAnswer> {
    const q = consistency === undefined ? '' : `?consistency=${consistency}`;
    return this.request(id, 'GET', `/kv/${encodeURIComponent(key)}${q}`);
  }

  async debug(id: string): Promise<DebugInfo> {
    const r = await this.request(id, 'GET', '/debug', { timeoutMs: 5000 });
    if (r.status !== 200) throw new Error(`GET /debug on ${id}: ${r.status} ${r.text}`);
    return r.body as DebugInfo;
  }

  /** The running node that reports itself leader in the highest term, or null. */
  async currentLeader(): Promise<string | null> {
    const infos = await Promise.all(this.runningIds().map((id) => this.debug(id).catch(() => null)));
    let best: DebugInfo | null = null;
    for (const d of infos) {
      if (d !== null && d.state === 'leader' && (best === null || d.term > best.term)) best = d;
    }
    return best?.nodeId ?? null;
  }

  /**
   * Waits until some running node leads and every running node names it as leader in the same
   * term, so requests sent right after go to a settled cluster.
   */
  async waitForLeader(timeoutMs = 15_000): Promise<string> {
    let leader: string | null = null;
    await waitFor(
      async () => {
        const infos = await Promise.all(this.runningIds().map((id) => this.debug(id)));
        const leaders = infos.filter((d) => d.state === 'leader');
        if (leaders.length !== 1) return false;
        const l = leaders[0]!;
        if (!infos.every((d) => d.leaderId === l.nodeId && d.term === l.term)) return false;
        leader = l.nodeId;
        return true;
      },
      timeoutMs,
      `one leader agreed by ${this.runningIds().join(',')}`,
    );
    return leader!;
  }

  /** A running node other than `id`. */
  followerOf(leader: string): string {
    const f = this.runningIds().find((id) => id !== leader);
    if (f === undefined) throw new Error('no other running node');
    return f;
  }

  /** Whether the log of `id` (all incarnations so far) has a line containing `text`. */
  logged(id: string, text: string): boolean {
    return this.logs.get(id)!.some((line) => line.includes(text));
  }
}

/** Starts a cluster and registers its cleanup with the test (or suite) context. */
export async function startCluster(
  t: { after: (fn: () => Promise<void>) => void },
  options: ClusterOptions = {},
): Promise<TestCluster> {
  const cluster = await TestCluster.start(options);
  t.after(() => cluster.cleanup());
  return cluster;
}

export interface HeldPut {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<HttpAnswer>;
  /** The answer, whenever it comes (also without finish(): a refusal or a timeout). */
  readonly answered: Promise<HttpAnswer>;
}

/**
 * Starts a PUT whose body stops halfway: the node counts the request from its headers, but proposes
 * nothing until finish() sends the rest (a deterministic way to hold a request in flight).
 */
export function holdPut(port: number, key: string, value: string): HeldPut {
  const body = JSON.stringify({ key, value });
  const half = Math.floor(body.length / 2);
  const agent = new http.Agent({ keepAlive: false });
  let answer!: (a: HttpAnswer) => void;
  let failed!: (e: unknown) => void;
  const answered = new Promise<HttpAnswer>((resolve, reject) => {
    answer = resolve;
    failed = reject;
  });
  const req = http.request(
    {
      host: HOST,
      port,
      method: 'POST',
      path: '/kv',
      agent,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = JSON.parse(text);
        } catch {
          // Not JSON: the test that reads it says so.
        }
        answer({ status: res.statusCode ?? 0, headers: res.headers, text, body });
        agent.destroy();
      });
    },
  );
  req.on('error', failed);
  req.write(body.slice(0, half));
  return {
    answered,
    finish: () => {
      req.end(body.slice(half));
      return answered;
    },
  };
}
