// The node processes: `raftkv start` run inside each node's namespace. The runner tracks the PID
// of every process it starts and only ever signals those PIDs (`ip netns exec` execs the command
// in place, so the child's PID is the node's). Nodes run with --stop-with-stdin, so a runner that
// dies without cleaning up still stops every node that is not paused; the next run's sweep kills
// any that remain.

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RaftkvClient } from '../client/index.js';
import { nodeClient } from './client.js';
import type { Network } from './netns.js';

export const nodePort = 7000;

export interface NodeTiming {
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
}

export type NodeState = 'running' | 'paused' | 'dead';

/** The compiled CLI entry, next to this file's compiled form. */
export function cliEntry(): string {
  return fileURLToPath(new URL('../cli/main.js', import.meta.url));
}

export class NodeSet {
  private readonly procs = new Map<number, ChildProcess>();
  private readonly states = new Map<number, NodeState>();
  private readonly exits: string[] = [];
  private readonly clients = new Map<number, RaftkvClient>();

  constructor(
    private readonly net: Network,
    private readonly outDir: string,
    private readonly timing: NodeTiming,
    private readonly extraArgs: readonly string[] = [],
    /** The raftkv CLI the nodes run; another build's, to test it with this runner. */
    private readonly entry: string = cliEntry(),
    /** Node i's data dir, when not <outDir>/data/n<i> (--small-disk puts it on a tmpfs). */
    private readonly dataDirOf: ((i: number) => string) | null = null,
  ) {
    mkdirSync(path.join(outDir, 'data'), { recursive: true });
    mkdirSync(path.join(outDir, 'logs'), { recursive: true });
  }

  get count(): number {
    return this.net.nodes;
  }

  ids(): number[] {
    return Array.from({ length: this.net.nodes }, (_, i) => i + 1);
  }

  name(i: number): string {
    return `n${i}`;
  }

  url(i: number): string {
    return `http://${this.net.address(i)}:${nodePort}`;
  }

  /** The API client of node i (a fresh connection per request). */
  client(i: number): RaftkvClient {
    let c = this.clients.get(i);
    if (c === undefined) {
      c = nodeClient(this.url(i));
      this.clients.set(i, c);
    }
    return c;
  }

  state(i: number): NodeState {
    return this.states.get(i) ?? 'dead';
  }

  /** Unexpected exits (a node that died on its own), for the report. */
  unexpectedExits(): readonly string[] {
    return this.exits;
  }

  private clusterArg(): string {
    return this.ids()
      .map((i) => `${this.name(i)}=${this.net.address(i)}:${nodePort}`)
      .join(',');
  }

  /** Starts node i (fresh or with its existing data dir). */
  start(i: number): void {
    if (this.procs.has(i)) return;
    const log = openSync(path.join(this.outDir, 'logs', `${this.name(i)}.log`), 'a');
    const args = [
      'netns',
      'exec',
      this.net.namespace(i),
      process.execPath,
      this.entry,
      'start',
      '--id',
      this.name(i),
      '--cluster',
      this.clusterArg(),
      '--data-dir',
      this.dataDirOf?.(i) ?? path.join(this.outDir, 'data', this.name(i)),
      '--heartbeat-interval',
      String(this.timing.heartbeatMs),
      '--election-timeout',
      String(this.timing.electionMs),
      '--request-timeout',
      String(this.timing.requestTimeoutMs),
      '--stop-with-stdin',
      ...this.extraArgs,
    ];
    const child = spawn('ip', args, { stdio: ['pipe', log, log], detached: true });
    child.stdin?.on('error', () => {});
    this.procs.set(i, child);
    this.states.set(i, 'running');
    child.on('exit', (code, signal) => {
      if (this.procs.get(i) !== child) return;
      this.procs.delete(i);
      this.states.set(i, 'dead');
      if (signal !== 'SIGKILL' && signal !== 'SIGTERM' && code !== 0) {
        this.exits.push(`${this.name(i)} exited on its own (code ${code}, signal ${signal})`);
      }
    });
  }

  private signal(i: number, sig: NodeJS.Signals): boolean {
    const child = this.procs.get(i);
    if (!child?.pid) return false;
    try {
      process.kill(child.pid, sig);
      return true;
    } catch {
      return false;
    }
  }

  /** kill -9; resolves once the process is gone. */
  async kill(i: number): Promise<void> {
    const child = this.procs.get(i);
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.signal(i, 'SIGKILL');
    await gone;
  }

  /** SIGTERM (graceful stop); SIGKILL if it has not exited within `graceMs`. */
  async stop(i: number, graceMs = 5000): Promise<void> {
    const child = this.procs.get(i);
    if (!child) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    if (this.state(i) === 'paused') this.signal(i, 'SIGCONT');
    this.signal(i, 'SIGTERM');
    const timer = setTimeout(() => this.signal(i, 'SIGKILL'), graceMs);
    await gone;
    clearTimeout(timer);
  }

  pause(i: number): void {
    if (this.state(i) === 'running' && this.signal(i, 'SIGSTOP')) this.states.set(i, 'paused');
  }

  resume(i: number): void {
    if (this.state(i) === 'paused' && this.signal(i, 'SIGCONT')) this.states.set(i, 'running');
  }

  /** SIGKILLs every process this set started; synchronous, for exit paths. */
  killAllSync(): void {
    for (const i of [...this.procs.keys()]) this.signal(i, 'SIGKILL');
  }

  /** Kills every node and waits (bounded) for the exits. */
  async killAll(): Promise<void> {
    await Promise.race([
      Promise.all(this.ids().map((i) => this.kill(i))),
      new Promise((resolve) => setTimeout(resolve, 5000)),
    ]);
  }
}
