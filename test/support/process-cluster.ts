// A cluster of raftkv node processes (node-process.ts) in one temp dir, on free loopback ports or
// in network namespaces (netns.ts): start, stop, kill -9 and restart nodes, talk to them through
// the API client, find and wait for the leader, and put every node's recent output into the
// message of a failing test. Cleanup (processes, temp dir) is registered with the test's `after`
// hook before anything is created.

import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { apiRequests, type Consistency, type NodeStatus, type RaftkvClient } from '../../src/client/index.js';
import { type Answer, answerOf, type RequestOptions, request } from './http.js';
import { agreedLeader, leaderIn } from './leader.js';
import type { NetnsNetwork } from './netns.js';
import {
  type AfterHook,
  type ExitInfo,
  NodeProcess,
  type NodeSpec,
  type Timing,
  testTiming,
  timingArgs,
} from './node-process.js';
import { freePorts, LOOPBACK } from './ports.js';
import { waitFor } from './wait.js';

export interface ProcessClusterOptions {
  /** Number of nodes (ids n1..nN); default 3. */
  readonly size?: number;
  /** Timing flags; default testTiming. */
  readonly timing?: Timing;
  /** More flags for every node. */
  readonly extraArgs?: readonly string[];
  /** Run in network namespaces instead of on loopback. */
  readonly network?: NetnsNetwork;
  /** Start every node (and wait until each answers); default true. */
  readonly start?: boolean;
  /** The nodes' loopback ports, in id order (e.g. one a stopped node of another cluster had); default free ones. */
  readonly ports?: readonly number[];
  /** The bearer token the nodes' clients send (nodes started with --auth-file in extraArgs). */
  readonly token?: string;
}

export class ProcessCluster {
  readonly nodes = new Map<string, NodeProcess>();
  private cleaned = false;

  /** The timing every node runs with (a joining node too). */
  private timing: Timing = testTiming;

  private constructor(
    readonly root: string,
    /** The bootstrap members, then the nodes that joined (join()). */
    readonly ids: string[],
  ) {}

  /** Creates the temp dir and the nodes (cleanup registered on `t` first), then starts them. */
  static async create(t: AfterHook, options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const size = options.network?.size ?? options.ports?.length ?? options.size ?? 3;
    const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-proc-'));
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const cluster = new ProcessCluster(root, ids);
    t.after(() => cluster.cleanup());
    const specs: NodeSpec[] =
      options.network !== undefined
        ? ids.map((id, i) => options.network!.nodeSpec(id, i))
        : (options.ports ?? (await freePorts(size))).map((port, i) => ({
            id: ids[i]!,
            peerHost: LOOPBACK,
            peerPort: port,
            clientHost: LOOPBACK,
            clientPort: port,
          }));
    const clusterArg = specs.map((s) => `${s.id}=${s.peerHost}:${s.peerPort}`).join(',');
    const timing = options.timing ?? testTiming;
    cluster.timing = timing;
    for (const spec of specs) {
      const dataDir = path.join(root, spec.id);
      const argv = [
        '--id',
        spec.id,
        '--cluster',
        clusterArg,
        '--data-dir',
        dataDir,
        '--stop-with-stdin',
        ...(spec.listen === undefined ? [] : ['--listen', spec.listen]),
        ...timingArgs(timing),
        ...(options.extraArgs ?? []),
      ];
      cluster.nodes.set(spec.id, new NodeProcess(spec, dataDir, argv, options.token));
    }
    if (options.start ?? true) await cluster.startAll();
    return cluster;
  }

  /**
   * Starts a brand-new node `id` on a fresh loopback port and data dir with `raftkv start --join`
   * (through the running members), and waits until it answers. It adds itself to the cluster.
   */
  async join(id: string, options: { readonly learner?: boolean } = {}): Promise<NodeProcess> {
    const [port] = await freePorts(1);
    const spec: NodeSpec = {
      id,
      peerHost: LOOPBACK,
      peerPort: port!,
      clientHost: LOOPBACK,
      clientPort: port!,
    };
    const dataDir = path.join(this.root, id);
    const argv = [
      '--id',
      id,
      '--listen',
      `${LOOPBACK}:${port!}`,
      '--join',
      this.endpoints(this.runningIds()),
      '--data-dir',
      dataDir,
      '--stop-with-stdin',
      ...(options.learner ? ['--learner'] : []),
      ...timingArgs(this.timing),
    ];
    const n = new NodeProcess(spec, dataDir, argv);
    this.nodes.set(id, n);
    this.ids.push(id);
    n.start();
    await n.waitListening();
    return n;
  }

  /**
   * Stops member `id` if it runs and starts it again on its data dir with `raftkv start --join`
   * (through the other members) instead of the command line it had; waits until it answers.
   */
  async restartJoining(id: string): Promise<NodeProcess> {
    const old = this.node(id);
    if (old.running) await old.terminate();
    const { spec, dataDir } = old;
    const others = this.runningIds().filter((o) => o !== id);
    const argv = [
      '--id',
      id,
      '--listen',
      `${spec.peerHost}:${spec.peerPort}`,
      '--join',
      this.endpoints(others),
      '--data-dir',
      dataDir,
      '--stop-with-stdin',
      ...timingArgs(this.timing),
    ];
    const n = new NodeProcess(spec, dataDir, argv);
    this.nodes.set(id, n);
    n.start();
    await n.waitListening();
    return n;
  }

  node(id: string): NodeProcess {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  /** The members as `--cluster` names them: `n1=host:port,...`. */
  clusterArg(): string {
    return this.ids
      .map((id) => `${id}=${this.node(id).spec.peerHost}:${this.node(id).spec.peerPort}`)
      .join(',');
  }

  /** `host:port,...` of the given nodes' client addresses (for the CLI's --endpoints). */
  endpoints(ids: readonly string[] = this.ids): string {
    return ids.map((id) => `${this.node(id).spec.clientHost}:${this.node(id).spec.clientPort}`).join(',');
  }

  runningIds(): string[] {
    return this.ids.filter((id) => this.node(id).running);
  }

  /** Starts (or restarts, on the same data dir) one node and waits until it answers. */
  async startNode(id: string, timeoutMs?: number): Promise<void> {
    const n = this.node(id);
    n.start();
    await n.waitListening(timeoutMs);
  }

  async startAll(ids: readonly string[] = this.ids): Promise<void> {
    const todo = ids.filter((id) => !this.node(id).running);
    for (const id of todo) this.node(id).start();
    await Promise.all(todo.map((id) => this.node(id).waitListening()));
  }

  async kill9(id: string): Promise<ExitInfo> {
    return this.node(id).kill9();
  }

  /** SIGKILL to every given running node at (nearly) the same moment. */
  async kill9All(ids: readonly string[] = this.runningIds()): Promise<void> {
    await Promise.all(ids.map((id) => this.node(id).kill9()));
  }

  /** SIGTERM; resolves with the exit. */
  async stopNode(id: string): Promise<ExitInfo> {
    return this.node(id).terminate();
  }

  async stopAll(): Promise<Map<string, ExitInfo>> {
    const ids = this.runningIds();
    const exits = await Promise.all(ids.map((id) => this.node(id).terminate()));
    return new Map(ids.map((id, i) => [id, exits[i]!]));
  }

  /** Node `id`'s API client (a fresh connection per request). */
  client(id: string): RaftkvClient {
    return this.node(id).client;
  }

  /** Any request to node `id`, any answer. */
  request(id: string, method: string, urlPath: string, options?: RequestOptions): Promise<Answer> {
    return request(this.client(id), method, urlPath, options);
  }

  /** A put as sent (no Idempotency-Key, no retry); any answer. */
  async put(
    id: string,
    key: string,
    value: string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Answer> {
    return answerOf(await this.client(id).send(apiRequests.put(key, value), options));
  }

  async get(id: string, key: string, consistency?: Consistency, timeoutMs?: number): Promise<Answer> {
    const req = apiRequests.get(key, consistency === undefined ? {} : { consistency });
    return answerOf(await this.client(id).send(req, timeoutMs === undefined ? {} : { timeoutMs }));
  }

  /** The first (up to) 10,000 keys under `prefix`, and whether there are more. */
  async listPage(
    id: string,
    prefix: string,
    consistency: Consistency = 'linearizable',
  ): Promise<{ items: Map<string, string>; more: boolean }> {
    const r = await this.client(id).list(prefix, { limit: 10_000, consistency, timeoutMs: 15_000 });
    return { items: new Map(r.items.map((i) => [i.key, i.value])), more: r.more };
  }

  /** Every key under `prefix` (fails if there are more than 10,000). */
  async list(
    id: string,
    prefix: string,
    consistency: Consistency = 'linearizable',
  ): Promise<Map<string, string>> {
    const page = await this.listPage(id, prefix, consistency);
    if (page.more) throw new Error(`list ${prefix} on ${id}: more than 10000 keys`);
    return page.items;
  }

  debug(id: string): Promise<NodeStatus> {
    return this.client(id).status({ timeoutMs: 3000 });
  }

  /** Debug info of every running node that answers (others omitted). */
  async debugAll(ids: readonly string[] = this.runningIds()): Promise<NodeStatus[]> {
    const infos = await Promise.all(ids.map((id) => this.debug(id).catch(() => null)));
    return infos.filter((d): d is NodeStatus => d !== null);
  }

  /** The running node that says it leads, in the highest term; null if none does. */
  async leader(): Promise<string | null> {
    return leaderIn(await this.debugAll());
  }

  /**
   * Waits until one of `among` (default: every running node) leads and all of `among` name it
   * leader in the same term; resolves with its id.
   */
  async waitForLeader(among?: readonly string[], timeoutMs = 30_000): Promise<string> {
    return waitFor(
      `one leader agreed by ${(among ?? this.runningIds()).join(',')}`,
      async (note) =>
        agreedLeader(await Promise.all((among ?? this.runningIds()).map((id) => this.debug(id))), note),
      { timeoutMs, intervalMs: 25 },
    );
  }

  /**
   * Waits until every node of `ids` has applied the same index as the highest commit index any
   * of them knows (with no writes arriving, the replicas then hold the same state).
   */
  async waitConverged(ids: readonly string[] = this.runningIds(), timeoutMs = 30_000): Promise<number> {
    return waitFor(
      `${ids.join(',')} applied the same commit index`,
      async (note) => {
        const infos = await Promise.all(ids.map((id) => this.debug(id)));
        note(infos.map((d) => `${d.nodeId}: commit ${d.commitIndex}, applied ${d.lastApplied}`));
        const commit = Math.max(...infos.map((d) => d.commitIndex));
        if (commit === 0) return null;
        return infos.every((d) => d.lastApplied === commit && d.commitIndex === commit) ? commit : null;
      },
      { timeoutMs, intervalMs: 25 },
    );
  }

  /** The last lines of every node and how each incarnation ended, for failure messages. */
  diagnostics(linesPerNode = 40): string {
    const parts: string[] = [];
    for (const n of this.nodes.values()) {
      const exits = n.exits.map((e) => (e.signal ?? `code ${e.code}`) as string).join(', ');
      parts.push(
        `== ${n.id} (${n.running ? `running, pid ${n.pid}` : 'not running'}; ${n.incarnation} starts; exits: ${exits || 'none'}; ${n.dataDir})`,
      );
      parts.push(n.tail(linesPerNode));
    }
    return parts.join('\n');
  }

  /**
   * Runs `body`; if it throws, rethrows with every node's recent output appended, so a failure in
   * a real-process test says what the nodes were doing.
   */
  async diagnose<T>(body: () => Promise<T>, context = ''): Promise<T> {
    try {
      return await body();
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      throw new Error(
        `${message}${context ? `\n${context}` : ''}\n--- node output ---\n${this.diagnostics()}`,
        {
          cause: e,
        },
      );
    }
  }

  /** Kills every node still running (SIGKILL, by PID) and removes the temp dir; safe to call twice. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    await Promise.all(
      [...this.nodes.values()].filter((n) => n.running).map((n) => n.kill9().catch(() => undefined)),
    );
    if (process.env.RAFTKV_KEEP_DATA) {
      process.stderr.write(`keeping data dirs in ${this.root} (RAFTKV_KEEP_DATA)\n`);
      return;
    }
    await rm(this.root, { recursive: true, force: true });
  }
}
