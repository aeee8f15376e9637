// Real-process harness: raftkv nodes as child processes of the built CLI
// (`node dist/src/cli/main.js start ...`), each in a temp data dir on a free loopback port — or,
// for real partitions, in its own network namespace (NetnsNetwork). Every line a node writes is
// kept in memory for diagnosis; nodes are killed with SIGKILL by PID (only the processes started
// here), stopped with SIGTERM, restarted on the same data dir. Synchronisation is by polling
// conditions with deadlines (waitFor), never by sleeping. Cleanup (processes, temp dirs,
// namespaces) is registered with the test's `after` hook before anything is created.

import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Rng } from '../../src/jepsen/rng.js';

/** The built CLI entry (this file is compiled to dist/test/support/, the CLI to dist/src/cli/). */
export const CLI_PATH = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export const LOOPBACK = '127.0.0.1';

/** The part of a test context (node:test's TestContext, or a suite) the harness needs. */
export interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

// ---------------------------------------------------------------------------------------------
// Polling, randomness, ports

/**
 * Resolves with the first truthy value `condition()` returns, polling every `intervalMs`; rejects
 * naming `what` once `timeoutMs` has passed (a bound against hangs, not a speed assertion). A
 * condition that throws counts as "not yet"; the last error is quoted in the timeout message.
 */
export async function waitFor<T>(
  condition: () => T | Promise<T>,
  what: string,
  timeoutMs = 20_000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  for (;;) {
    try {
      const v = await condition();
      if (v) return v as NonNullable<T>;
      lastError = null;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${why}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Thrown by a waitFor condition to give up at once (e.g. the awaited process has exited). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/**
 * The seeded PRNG of the fault schedules (the Jepsen runner's mulberry32): the same seed gives the
 * same schedule. Integer ranges here are inclusive.
 */
export class Prng {
  private readonly rng: Rng;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.rng.next();
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return this.rng.pick(items);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The seed from `envName` if set (to replay a run), else a fresh random one. */
export function seedFromEnv(envName: string): number {
  const raw = process.env[envName];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${envName} must be a non-negative integer`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** A positive integer from `envName`, or `fallback`. */
export function intFromEnv(envName: string, fallback: number): number {
  const raw = process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${envName} must be a positive integer`);
  return n;
}

/** `count` distinct free ports on `host`: all bound to port 0 at once, read, then closed. */
export async function freePorts(count: number, host = LOOPBACK): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    const ports: number[] = [];
    for (let i = 0; i < count; i++) {
      const server = net.createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, host, () => resolve());
      });
      const a = server.address();
      if (a === null || typeof a === 'string') throw new Error('no port');
      ports.push(a.port);
    }
    return ports;
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  readonly status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON fields
  readonly body: any;
  readonly text: string;
}

export interface RequestOptions {
  /** Serialised as JSON. */
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  /** Client-side bound on the whole exchange (AbortSignal.timeout); default 10 s. */
  readonly timeoutMs?: number;
}

/**
 * One HTTP request with a per-request timeout. Resolves with any HTTP answer; rejects on a
 * network error or timeout (for a write: outcome unknown, unless the connection was refused).
 */
export async function httpRequest(
  baseUrl: string,
  method: string,
  urlPath: string,
  options: RequestOptions = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  let body: string | undefined;
  if (options.body !== undefined) {
    body = JSON.stringify(options.body);
    headers['content-type'] = 'application/json';
  }
  const res = await fetch(`${baseUrl}${urlPath}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 10_000),
  });
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : null;
  } catch {
    parsed = null;
  }
  return { status: res.status, body: parsed, text };
}

/** True if `e` (from httpRequest) means the connection was refused: the request never arrived. */
export function isConnectionRefused(e: unknown): boolean {
  let cur: unknown = e;
  for (let i = 0; i < 5 && cur instanceof Error; i++) {
    const code = (cur as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED') return true;
    cur = (cur as { cause?: unknown }).cause;
  }
  return false;
}

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error ? `${e.message}: ${cause.message}` : e.message;
}

// ---------------------------------------------------------------------------------------------
// One node process

export interface Timing {
  readonly heartbeatIntervalMs?: number;
  readonly electionTimeoutMs?: number;
  readonly requestTimeoutMs?: number;
  readonly snapshotEvery?: number;
}

/** Fast enough for tests, slow enough not to flap on a loaded 2-core machine. */
export const testTiming: Timing = { heartbeatIntervalMs: 50, electionTimeoutMs: 500, requestTimeoutMs: 3000 };

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface OutputLine {
  /** Which start of the node wrote it (1 = first). */
  readonly incarnation: number;
  readonly text: string;
}

export interface NodeSpec {
  readonly id: string;
  /** The node's address in --cluster: where peers reach it. */
  readonly peerHost: string;
  readonly peerPort: number;
  /** Where the test reaches its HTTP API. */
  readonly clientHost: string;
  readonly clientPort: number;
  /** --listen, when it differs from the --cluster address. */
  readonly listen?: string;
  /** Run inside this network namespace (`ip netns exec`). */
  readonly netns?: string;
}

const maxKeptLines = 20_000;

export class NodeProcess {
  /** Every line the node wrote (stderr and stdout), over all incarnations, oldest dropped first. */
  readonly output: OutputLine[] = [];
  droppedLines = 0;
  incarnation = 0;
  /** How each incarnation ended, in order. */
  readonly exits: ExitInfo[] = [];
  private child: ChildProcess | null = null;
  private exited: Promise<ExitInfo> | null = null;

  constructor(
    readonly spec: NodeSpec,
    readonly dataDir: string,
    private readonly argv: readonly string[],
  ) {}

  get id(): string {
    return this.spec.id;
  }

  get url(): string {
    return `http://${this.spec.clientHost}:${this.spec.clientPort}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Spawns the node (not waiting for it to listen; see waitListening). */
  start(): void {
    if (this.child !== null) throw new Error(`${this.id} is already running`);
    this.incarnation++;
    const inc = this.incarnation;
    const nodeArgs = [CLI_PATH, 'start', ...this.argv];
    const [cmd, args] =
      this.spec.netns === undefined
        ? [process.execPath, nodeArgs]
        : ['ip', ['netns', 'exec', this.spec.netns, process.execPath, ...nodeArgs]];
    // stdin stays open: with --stop-with-stdin the node stops by itself if this process dies.
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.push(inc, `--- ${this.id} start #${inc} (pid ${child.pid ?? '?'}) ---`);
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream?.setEncoding('utf8');
      stream?.on('data', (chunk: string) => {
        const parts = (partial + chunk).split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) this.push(inc, line);
      });
      stream?.on('end', () => {
        if (partial !== '') this.push(inc, partial);
        partial = '';
      });
    }
    child.stdin?.on('error', () => {});
    this.exited = new Promise<ExitInfo>((resolve) => {
      child.once('error', (e) => {
        this.push(inc, `--- spawn failed: ${e.message} ---`);
      });
      child.once('close', (code, signal) => {
        const info = { code, signal };
        this.exits.push(info);
        this.push(inc, `--- ${this.id} #${inc} exited: code=${code} signal=${signal} ---`);
        if (this.child === child) {
          this.child = null;
        }
        resolve(info);
      });
    });
  }

  private push(incarnation: number, text: string): void {
    this.output.push({ incarnation, text });
    if (this.output.length > maxKeptLines) {
      this.output.splice(0, this.output.length - maxKeptLines);
      this.droppedLines++;
    }
  }

  /** Resolves once the process has exited (immediately with the last exit if not running). */
  async waitExit(timeoutMs = 20_000): Promise<ExitInfo> {
    const exited = this.exited;
    if (exited === null) throw new Error(`${this.id} was never started`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${this.id} did not exit within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** SIGKILL to this node's own PID, then waits for the exit. */
  async kill9(): Promise<ExitInfo> {
    const child = this.child;
    if (child === null) throw new Error(`${this.id} is not running`);
    signal(child, 'SIGKILL');
    return this.waitExit();
  }

  /** SIGTERM (graceful stop), then waits for the exit; SIGKILL and throw if it takes too long. */
  async terminate(timeoutMs = 20_000): Promise<ExitInfo> {
    const child = this.child;
    if (child === null) throw new Error(`${this.id} is not running`);
    signal(child, 'SIGTERM');
    try {
      return await this.waitExit(timeoutMs);
    } catch (e) {
      if (this.child === child) signal(child, 'SIGKILL');
      await this.waitExit();
      throw e;
    }
  }

  /** Waits until the node answers GET /debug; rejects at once (with its output) if it exits. */
  async waitListening(timeoutMs = 20_000): Promise<void> {
    const inc = this.incarnation;
    await waitFor(
      async () => {
        if (this.incarnation !== inc || this.child === null) {
          throw new StartFailedError(this, `${this.id} exited while starting:\n${this.tail(30, inc)}`);
        }
        const r = await httpRequest(this.url, 'GET', '/debug', { timeoutMs: 2000 });
        return r.status === 200;
      },
      `${this.id} answering on ${this.url}`,
      timeoutMs,
    );
  }

  /** Lines of one incarnation (default: all) containing `text`. */
  lines(text: string, incarnation?: number): string[] {
    return this.output
      .filter((l) => (incarnation === undefined || l.incarnation === incarnation) && l.text.includes(text))
      .map((l) => l.text);
  }

  /** The last `n` lines (of one incarnation if given), for failure messages. */
  tail(n: number, incarnation?: number): string {
    const lines = this.output.filter((l) => incarnation === undefined || l.incarnation === incarnation);
    return lines
      .slice(-n)
      .map((l) => `  [${this.id}#${l.incarnation}] ${l.text}`)
      .join('\n');
  }
}

/** Sends `sig` to our child's own PID; a child that has just exited (ESRCH) is not an error. */
function signal(child: ChildProcess, sig: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}

/** A node that exited while it should have been starting (the waitFor loop stops at once). */
export class StartFailedError extends StopWaiting {
  override name = 'StartFailedError';
  constructor(
    readonly node: NodeProcess,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// A cluster of node processes

export interface DebugInfo {
  readonly nodeId: string;
  readonly state: 'follower' | 'candidate' | 'leader';
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly logLength: number;
  readonly snapshotIndex?: number;
  readonly [field: string]: unknown;
}

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
}

export class ProcessCluster {
  readonly nodes = new Map<string, NodeProcess>();
  private cleaned = false;

  private constructor(
    readonly root: string,
    readonly ids: readonly string[],
  ) {}

  /** Creates the temp dir and the nodes (cleanup registered on `t` first), then starts them. */
  static async create(t: AfterHook, options: ProcessClusterOptions = {}): Promise<ProcessCluster> {
    const size = options.network?.size ?? options.size ?? 3;
    const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-proc-'));
    const ids = Array.from({ length: size }, (_, i) => `n${i + 1}`);
    const cluster = new ProcessCluster(root, ids);
    t.after(() => cluster.cleanup());
    const specs: NodeSpec[] =
      options.network !== undefined
        ? ids.map((id, i) => options.network!.nodeSpec(id, i))
        : (await freePorts(size)).map((port, i) => ({
            id: ids[i]!,
            peerHost: LOOPBACK,
            peerPort: port,
            clientHost: LOOPBACK,
            clientPort: port,
          }));
    const clusterArg = specs.map((s) => `${s.id}=${s.peerHost}:${s.peerPort}`).join(',');
    const timing = options.timing ?? testTiming;
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
      cluster.nodes.set(spec.id, new NodeProcess(spec, dataDir, argv));
    }
    if (options.start ?? true) await cluster.startAll();
    return cluster;
  }

  node(id: string): NodeProcess {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
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

  request(id: string, method: string, urlPath: string, options?: RequestOptions): Promise<Answer> {
    return httpRequest(this.node(id).url, method, urlPath, options);
  }

  put(id: string, key: string, value: string, options: Omit<RequestOptions, 'body'> = {}): Promise<Answer> {
    return this.request(id, 'POST', '/kv', { ...options, body: { key, value } });
  }

  get(id: string, key: string, consistency?: 'stale' | 'linearizable', timeoutMs?: number): Promise<Answer> {
    const q = consistency === undefined ? '' : `?consistency=${consistency}`;
    return this.request(id, 'GET', `/kv/${encodeURIComponent(key)}${q}`, timeoutMs ? { timeoutMs } : {});
  }

  /** The first (up to) 10,000 keys under `prefix`, and whether there are more. */
  async listPage(
    id: string,
    prefix: string,
    consistency: 'stale' | 'linearizable' = 'linearizable',
  ): Promise<{ items: Map<string, string>; more: boolean }> {
    const r = await this.request(
      id,
      'GET',
      `/kv?prefix=${encodeURIComponent(prefix)}&limit=10000&consistency=${consistency}`,
      { timeoutMs: 15_000 },
    );
    if (r.status !== 200) throw new Error(`list ${prefix} on ${id}: ${r.status} ${r.text}`);
    const items = new Map((r.body.items as { key: string; value: string }[]).map((i) => [i.key, i.value]));
    return { items, more: r.body.more === true };
  }

  /** Every key under `prefix` (fails if there are more than 10,000). */
  async list(
    id: string,
    prefix: string,
    consistency: 'stale' | 'linearizable' = 'linearizable',
  ): Promise<Map<string, string>> {
    const page = await this.listPage(id, prefix, consistency);
    if (page.more) throw new Error(`list ${prefix} on ${id}: more than 10000 keys`);
    return page.items;
  }

  async debug(id: string): Promise<DebugInfo> {
    const r = await this.request(id, 'GET', '/debug', { timeoutMs: 3000 });
    if (r.status !== 200) throw new Error(`GET /debug on ${id}: ${r.status} ${r.text}`);
    return r.body as DebugInfo;
  }

  /** Debug info of every running node that answers (others omitted). */
  async debugAll(ids: readonly string[] = this.runningIds()): Promise<DebugInfo[]> {
    const infos = await Promise.all(ids.map((id) => this.debug(id).catch(() => null)));
    return infos.filter((d): d is DebugInfo => d !== null);
  }

  /** The running node that says it leads, in the highest term; null if none does. */
  async leader(): Promise<string | null> {
    let best: DebugInfo | null = null;
    for (const d of await this.debugAll()) {
      if (d.state === 'leader' && (best === null || d.term > best.term)) best = d;
    }
    return best?.nodeId ?? null;
  }

  /**
   * Waits until one of `among` (default: every running node) leads and all of `among` name it
   * leader in the same term; resolves with its id.
   */
  async waitForLeader(among?: readonly string[], timeoutMs = 30_000): Promise<string> {
    return waitFor(
      async () => {
        const ids = among ?? this.runningIds();
        const infos = await Promise.all(ids.map((id) => this.debug(id)));
        const leaders = infos.filter((d) => d.state === 'leader');
        if (leaders.length !== 1) return null;
        const l = leaders[0]!;
        return infos.every((d) => d.leaderId === l.nodeId && d.term === l.term) ? l.nodeId : null;
      },
      `one leader agreed by ${(among ?? this.runningIds()).join(',')}`,
      timeoutMs,
      25,
    );
  }

  /**
   * Waits until every node of `ids` has applied the same index as the highest commit index any
   * of them knows (with no writes arriving, the replicas then hold the same state).
   */
  async waitConverged(ids: readonly string[] = this.runningIds(), timeoutMs = 30_000): Promise<number> {
    return waitFor(
      async () => {
        const infos = await Promise.all(ids.map((id) => this.debug(id)));
        const commit = Math.max(...infos.map((d) => d.commitIndex));
        if (commit === 0) return null;
        return infos.every((d) => d.lastApplied === commit && d.commitIndex === commit) ? commit : null;
      },
      `${ids.join(',')} applied the same commit index`,
      timeoutMs,
      25,
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

export function timingArgs(timing: Timing): string[] {
  const args: string[] = [];
  if (timing.heartbeatIntervalMs !== undefined)
    args.push('--heartbeat-interval', `${timing.heartbeatIntervalMs}`);
  if (timing.electionTimeoutMs !== undefined) args.push('--election-timeout', `${timing.electionTimeoutMs}`);
  if (timing.requestTimeoutMs !== undefined) args.push('--request-timeout', `${timing.requestTimeoutMs}`);
  if (timing.snapshotEvery !== undefined) args.push('--snapshot-every', `${timing.snapshotEvery}`);
  return args;
}

// ---------------------------------------------------------------------------------------------
// Real network partitions: one network namespace per node

/** Runs `ip ...`; rejects with its stderr. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', args, { timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`));
      else resolve(stdout);
    });
  });
}

/** Why real partitions cannot be made here, or null if they can (root, and `ip netns` works). */
export async function netnsUnavailable(): Promise<string | null> {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return 'network namespaces need root (run as root to include the partition test)';
  }
  const probe = `rkvprobe${process.pid % 100000}`;
  try {
    await ip(['netns', 'add', probe]);
  } catch (e) {
    return `cannot create a network namespace: ${describeError(e)} (is iproute2 installed, is this a privileged container?)`;
  }
  await ip(['netns', 'del', probe]).catch(() => undefined);
  return null;
}

/**
 * N network namespaces, each with one node. Every namespace has two links to the root namespace:
 *
 * - a peer link (veth) whose host end is a port of bridge A or bridge B; the nodes' --cluster
 *   addresses are on these links (10.a.b.1..N). All ports start on bridge A; `partition(ids)`
 *   moves those nodes' ports to bridge B, so the two groups reach each other no more (packets are
 *   dropped, as in a real partition — no resets) while each group stays connected inside;
 *   `heal()` moves them back.
 * - a client link (veth, a /30 per node) through which the test process reaches the node's HTTP
 *   API; it never carries peer traffic, so it does not bridge the partition.
 *
 * Every name carries a per-run tag; cleanup() removes exactly what this instance created.
 */
export class NetnsNetwork {
  static readonly port = 7001;
  private readonly created: { kind: 'netns' | 'link'; name: string }[] = [];
  private readonly ids: string[] = [];
  private cleaned = false;

  private constructor(
    readonly size: number,
    private readonly tag: string,
    private readonly a: number,
    private readonly b: number,
  ) {}

  /** Builds the namespaces and links; cleanup is registered on `t` first. */
  static async create(t: AfterHook, size: number, prng: Prng): Promise<NetnsNetwork> {
    const tag = prng.int(0, 0xffff).toString(16).padStart(4, '0');
    const net = new NetnsNetwork(size, tag, prng.int(100, 199), prng.int(0, 126) * 2);
    t.after(() => net.cleanup());
    await net.build();
    return net;
  }

  private ns(i: number): string {
    return `rkv${this.tag}n${i + 1}`;
  }
  private bridge(which: 'A' | 'B'): string {
    return `rkv${this.tag}b${which}`;
  }
  private peerVeth(i: number): string {
    return `rkv${this.tag}p${i + 1}`;
  }
  private clientVeth(i: number): string {
    return `rkv${this.tag}c${i + 1}`;
  }
  private peerAddr(i: number): string {
    return `10.${this.a}.${this.b}.${i + 1}`;
  }
  private clientHostAddr(i: number): string {
    return `10.${this.a}.${this.b + 1}.${4 * i + 1}`;
  }
  private clientNodeAddr(i: number): string {
    return `10.${this.a}.${this.b + 1}.${4 * i + 2}`;
  }

  private async build(): Promise<void> {
    for (const which of ['A', 'B'] as const) {
      const br = this.bridge(which);
      await ip(['link', 'add', br, 'type', 'bridge']);
      this.created.push({ kind: 'link', name: br });
      await ip(['link', 'set', br, 'up']);
    }
    for (let i = 0; i < this.size; i++) {
      const ns = this.ns(i);
      await ip(['netns', 'add', ns]);
      this.created.push({ kind: 'netns', name: ns });
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // Peer link: host end on bridge A, node end "peer0" in the namespace.
      const pv = this.peerVeth(i);
      await ip(['link', 'add', pv, 'type', 'veth', 'peer', 'name', `${pv}x`]);
      this.created.push({ kind: 'link', name: pv });
      await ip(['link', 'set', `${pv}x`, 'netns', ns]);
      await ip(['-n', ns, 'link', 'set', `${pv}x`, 'name', 'peer0']);
      await ip(['-n', ns, 'addr', 'add', `${this.peerAddr(i)}/24`, 'dev', 'peer0']);
      await ip(['-n', ns, 'link', 'set', 'peer0', 'up']);
      await ip(['link', 'set', pv, 'master', this.bridge('A')]);
      await ip(['link', 'set', pv, 'up']);
      // Client link: a /30 between the root namespace and this node only.
      const cv = this.clientVeth(i);
      await ip(['link', 'add', cv, 'type', 'veth', 'peer', 'name', `${cv}x`]);
      this.created.push({ kind: 'link', name: cv });
      await ip(['link', 'set', `${cv}x`, 'netns', ns]);
      await ip(['-n', ns, 'link', 'set', `${cv}x`, 'name', 'client0']);
      await ip(['-n', ns, 'addr', 'add', `${this.clientNodeAddr(i)}/30`, 'dev', 'client0']);
      await ip(['-n', ns, 'link', 'set', 'client0', 'up']);
      await ip(['addr', 'add', `${this.clientHostAddr(i)}/30`, 'dev', cv]);
      await ip(['link', 'set', cv, 'up']);
    }
  }

  nodeSpec(id: string, i: number): NodeSpec {
    this.ids[i] = id;
    return {
      id,
      peerHost: this.peerAddr(i),
      peerPort: NetnsNetwork.port,
      clientHost: this.clientNodeAddr(i),
      clientPort: NetnsNetwork.port,
      listen: `0.0.0.0:${NetnsNetwork.port}`,
      netns: this.ns(i),
    };
  }

  private indexOf(id: string): number {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`no node ${id} in this network`);
    return i;
  }

  /** Cuts the nodes `ids` off from the others (they still reach each other). */
  async partition(ids: readonly string[]): Promise<void> {
    for (const id of ids)
      await ip(['link', 'set', this.peerVeth(this.indexOf(id)), 'master', this.bridge('B')]);
  }

  /** Puts every node back on one network. */
  async heal(): Promise<void> {
    for (let i = 0; i < this.size; i++)
      await ip(['link', 'set', this.peerVeth(i), 'master', this.bridge('A')]);
  }

  /** Removes the namespaces and links this instance created (by name), newest first. */
  async cleanup(): Promise<void> {
    if (this.cleaned) return;
    this.cleaned = true;
    for (const { kind, name } of [...this.created].reverse()) {
      // Deleting a namespace also deletes the veth ends inside it, and so their pairs: ignore
      // "cannot find device" for those.
      await ip(kind === 'netns' ? ['netns', 'del', name] : ['link', 'del', name]).catch(() => undefined);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// One-shot CLI commands (raftkv put/get/status ...)

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/src/cli/main.js ...args` to completion (killed after `timeoutMs`). */
export function runCli(args: readonly string[], timeoutMs = 20_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [CLI_PATH, ...args],
      { timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new Error(`raftkv ${args.join(' ')}: ${err.message}\n${stderr}`));
          return;
        }
        resolve({ code: err ? ((err as { code?: number }).code ?? null) : 0, stdout, stderr });
      },
    );
  });
}
