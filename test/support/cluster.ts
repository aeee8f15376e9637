// The in-process cluster of the node tests: N real nodes (startNode) on free loopback ports in
// temp data dirs, fast timing, log lines collected in memory, the API client per node, leader
// discovery via GET /debug, stop/restart with the same data dir. The real-process twin is
// process-cluster.ts.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type NodeSeams, type RaftkvNode, startNode } from '../../src/app/start-node.js';
import { apiRequests, type Consistency, type NodeStatus, type RaftkvClient } from '../../src/client/index.js';
import type { NodeOptions } from '../../src/node/index.js';
import { clusterIdOf } from '../../src/node/recover.js';
import type { Disk } from '../../src/storage/index.js';
import { type Answer, answerOf, type RequestOptions, request, sendChunked, testClient } from './http.js';
import { agreedLeader, leaderIn } from './leader.js';
import { freePorts, LOOPBACK } from './ports.js';
import { waitFor } from './wait.js';

export type ClusterTiming = Pick<
  NodeOptions,
  | 'heartbeatIntervalMs'
  | 'electionTimeoutMs'
  | 'requestTimeoutMs'
  | 'snapshotEvery'
  | 'snapshotCatchUpEntries'
  | 'readMode'
  | 'maxInflightRequests'
  | 'maxConnectionsPerClient'
  | 'slowReaderMs'
  | 'quotaBytes'
  | 'minFreeBytes'
  | 'logFormat'
  | 'logLevel'
  | 'authFile'
  | 'metricsAuth'
  | 'enableFaults'
  | 'supervisor'
>;

/** What TestCluster.waitForLeader waits for. */
export interface LeaderWait {
  /** The nodes that must agree, one of them leading (default: every running node). */
  readonly among?: readonly string[];
  /** Only a leader elected in a later term will do (a new leader, the old one replaced). */
  readonly afterTerm?: number;
  readonly timeoutMs?: number;
}

export interface ClusterOptions extends ClusterTiming {
  /** Number of nodes; default 3. */
  readonly size?: number;
  /** Per-node overrides (e.g. a shorter request timeout on one node). */
  readonly perNode?: Readonly<Record<string, ClusterTiming>>;
  /** Per-node data dirs instead of one under the cluster's temp dir (e.g. on a small file system). */
  readonly dataDirs?: Readonly<Record<string, string>>;
  /** Per-node disks instead of the real file system as is (e.g. one that can stall). */
  readonly disks?: Readonly<Record<string, Disk>>;
  /** Per-node seams besides the disk (e.g. a node speaking the peer protocol of the release before). */
  readonly seams?: Readonly<Record<string, Omit<NodeSeams, 'disk'>>>;
  /** The token the cluster's own clients send (for nodes started with an authFile). */
  readonly token?: string;
}

/** Fast but not flaky on a loaded 2-core machine. */
export const fastTiming: ClusterTiming = {
  heartbeatIntervalMs: 50,
  electionTimeoutMs: 500,
  requestTimeoutMs: 5000,
};

export class TestCluster {
  /** The bootstrap members, then any that joined later (joinNode). */
  readonly ids: string[];
  /** The nodes that started by joining the running cluster. */
  private readonly joined = new Set<string>();
  /** The bootstrap membership, which names the cluster (its id). */
  private readonly bootstrap: Record<string, { host: string; port: number }> = {};
  /** Every log line of every incarnation of each node, in order. */
  readonly logs = new Map<string, string[]>();
  private readonly running = new Map<string, RaftkvNode>();
  private readonly ports = new Map<string, number>();
  private readonly clients = new Map<string, RaftkvClient>();
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
      this.bootstrap[id] = { host: LOOPBACK, port: ports[i]! };
      this.ports.set(id, ports[i]!);
      this.clients.set(id, testClient(`http://${LOOPBACK}:${ports[i]!}`, undefined, options.token));
      this.dirs.set(id, options.dataDirs?.[id] ?? path.join(root, id));
      this.logs.set(id, []);
    });
  }

  /** Creates the temp dirs and ports and starts every node. */
  static async start(options: ClusterOptions = {}): Promise<TestCluster> {
    const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-test-'));
    const ports = await freePorts(options.size ?? 3, LOOPBACK);
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

  /**
   * A brand-new node `id` on a fresh port and data dir that joins the running cluster: it starts
   * knowing no membership (it dials the bootstrap members); adding it is the test's business.
   */
  async joinNode(id: string): Promise<RaftkvNode> {
    if (this.ports.has(id)) throw new Error(`${id} exists already`);
    const [port] = await freePorts(1, LOOPBACK);
    this.ids.push(id);
    this.joined.add(id);
    this.ports.set(id, port!);
    this.clients.set(id, testClient(`http://${LOOPBACK}:${port!}`, undefined, this.options.token));
    this.dirs.set(id, path.join(this.root, id));
    this.logs.set(id, []);
    return this.startNode(id);
  }

  /** Where node `id` listens, as a member address. */
  address(id: string): string {
    return `${LOOPBACK}:${this.port(id)}`;
  }

  /** Starts one node (again) with the same port and data dir. */
  async startNode(id: string): Promise<RaftkvNode> {
    if (this.running.has(id)) throw new Error(`${id} is already running`);
    const cluster: Record<string, { host: string; port: number }> = { ...this.bootstrap };
    const joining = this.joined.has(id);
    cluster[id] = { host: LOOPBACK, port: this.port(id) };
    const lines = this.logs.get(id)!;
    const {
      size: _size,
      perNode,
      dataDirs: _dataDirs,
      disks,
      token: _token,
      seams,
      ...timing
    } = this.options;
    const disk = disks?.[id];
    const node = await startNode(
      {
        ...fastTiming,
        ...timing,
        ...perNode?.[id],
        id,
        cluster,
        ...(joining
          ? { joining: true, clusterToken: clusterIdOf({ id, cluster: this.bootstrap, dataDir: '' }) }
          : {}),
        dataDir: this.dataDir(id),
        logSink: (line) => lines.push(line),
      },
      { ...seams?.[id], ...(disk !== undefined && { disk }) },
    );
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

  /** Node `id`'s API client (a fresh connection per request, 20 s per call). */
  client(id: string): RaftkvClient {
    const c = this.clients.get(id);
    if (c === undefined) throw new Error(`no node ${id}`);
    return c;
  }

  /** Any request to node `id`, any answer; `chunked` sends the body in chunks, without a length. */
  request(
    id: string,
    method: string,
    urlPath: string,
    options: RequestOptions & { readonly chunked?: boolean } = {},
  ): Promise<Answer> {
    if (options.chunked) {
      const body = Buffer.isBuffer(options.body) ? options.body : Buffer.from(JSON.stringify(options.body));
      return sendChunked(this.port(id), method, urlPath, body, options.timeoutMs);
    }
    return request(this.client(id), method, urlPath, options);
  }

  /** A put as sent (no retry), with these headers (e.g. an Idempotency-Key); any answer. */
  async put(
    id: string,
    key: string,
    value: string,
    headers?: Readonly<Record<string, string>>,
  ): Promise<Answer> {
    const req = apiRequests.put(key, value);
    return answerOf(await this.client(id).send(headers === undefined ? req : { ...req, headers }));
  }

  /**
   * A put as a careful client makes it: with an Idempotency-Key, retried on 503/504 (outcome
   * unknown, or no leader for now) until it succeeds. For tests whose subject is not the write.
   */
  async putRetrying(id: string, key: string, value: string, timeoutMs = 15_000): Promise<Answer> {
    const headers = { 'Idempotency-Key': `retry-${key}-${++this.retryKeys}` };
    return waitFor(
      `put ${key} on ${id}`,
      async (note) => {
        const a = await this.put(id, key, value, headers);
        note(`${a.status} ${a.text}`);
        return a.status === 503 || a.status === 504 ? null : a;
      },
      { timeoutMs, intervalMs: 10 },
    );
  }

  async get(id: string, key: string, consistency?: Consistency): Promise<Answer> {
    const req = apiRequests.get(key, consistency === undefined ? {} : { consistency });
    return answerOf(await this.client(id).send(req));
  }

  debug(id: string): Promise<NodeStatus> {
    return this.client(id).status({ timeoutMs: 5000 });
  }

  /** The running node that reports itself leader in the highest term, or null. */
  async currentLeader(): Promise<string | null> {
    return leaderIn(
      (await Promise.all(this.runningIds().map((id) => this.debug(id).catch(() => null)))).filter(
        (d): d is NodeStatus => d !== null,
      ),
    );
  }

  /**
   * Waits until some running node leads and every running node names it as leader in the same
   * term, so requests sent right after go to a settled cluster (`among`, `afterTerm`: see LeaderWait).
   */
  async waitForLeader(options: LeaderWait = {}): Promise<string> {
    const { among, afterTerm = 0, timeoutMs = 15_000 } = options;
    const ids = (): readonly string[] => among ?? this.runningIds();
    return waitFor(
      `one leader${afterTerm > 0 ? ` past term ${afterTerm}` : ''} agreed by ${ids().join(',')}`,
      async (note) => agreedLeader(await Promise.all(ids().map((id) => this.debug(id))), note, afterTerm),
      { timeoutMs, intervalMs: 10 },
    );
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
