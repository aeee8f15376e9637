// One raftkv node as a child process of the built CLI (`node dist/src/cli/main.js start ...`):
// started, stopped with SIGTERM, killed with SIGKILL by its own PID (only processes started here),
// restarted on the same data dir; optionally inside a network namespace (`ip netns exec`). Every
// line it writes is kept in memory for diagnosis.

import { type ChildProcess, spawn } from 'node:child_process';
import type { RaftkvClient } from '../../src/client/index.js';
import { CLI_PATH } from './cli.js';
import { testClient } from './http.js';
import { StopWaiting, waitFor, within } from './wait.js';

/** The part of a test context (node:test's TestContext, or a suite) the harness needs. */
export interface AfterHook {
  after(fn: () => Promise<void> | void): void;
}

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
  /** The node's HTTP API (a fresh connection per request, 10 s per call unless told otherwise). */
  readonly client: RaftkvClient;
  private child: ChildProcess | null = null;
  private exited: Promise<ExitInfo> | null = null;

  constructor(
    readonly spec: NodeSpec,
    readonly dataDir: string,
    private readonly argv: readonly string[],
    /** The bearer token its client sends (a node started with --auth-file). */
    token?: string,
  ) {
    this.client = testClient(this.url, 10_000, token);
  }

  /** Sends `sig` to the running process (e.g. SIGHUP: reload the auth file). */
  sendSignal(sig: NodeJS.Signals): void {
    if (this.child !== null) signal(this.child, sig);
  }

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
    return within(`${this.id} to exit`, exited, { timeoutMs });
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
      `${this.id} answering on ${this.url}`,
      async () => {
        if (this.incarnation !== inc || this.child === null) {
          throw new StartFailedError(this, `${this.id} exited while starting:\n${this.tail(30, inc)}`);
        }
        await this.client.status({ timeoutMs: 2000 });
        return true;
      },
      { timeoutMs },
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

/** The command-line flags of `timing`. */
export function timingArgs(timing: Timing): string[] {
  const args: string[] = [];
  if (timing.heartbeatIntervalMs !== undefined)
    args.push('--heartbeat-interval', `${timing.heartbeatIntervalMs}`);
  if (timing.electionTimeoutMs !== undefined) args.push('--election-timeout', `${timing.electionTimeoutMs}`);
  if (timing.requestTimeoutMs !== undefined) args.push('--request-timeout', `${timing.requestTimeoutMs}`);
  if (timing.snapshotEvery !== undefined) args.push('--snapshot-every', `${timing.snapshotEvery}`);
  return args;
}
