// The node processes: `raftkv start` run inside each node's namespace. The runner tracks the PID
// of every process it starts and only ever signals those PIDs (`ip netns exec` execs the command
// in place, so the child's PID is the node's). Nodes run with --stop-with-stdin, so a runner that
// dies without cleaning up still stops every node that is not paused; the next run's sweep kills
// any that remain.
//
// A node slot i (its namespace and address) may host several members in turn: the membership
// nemesis replaces n3 by a brand-new member n3.2 (a new id and an empty data dir, started with
// --join), as an operator replaces a node whose disk is gone. A new id, not the old one on an
// empty disk: a node that forgot its votes must not answer to the name those votes were cast
// under (Raft thesis §4.1 — a server that loses its storage rejoins as a new server).

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, openSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RaftkvClient } from '../client/index.js';
import { type ClientCredentials, nodeClient } from './client.js';
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
  /** Which member a slot hosts: 1 for the bootstrap member n<i>, then 2, 3, ... (n<i>.2, ...). */
  private readonly generations = new Map<number, number>();
  /** Slots a fault holds: no other fault kills, pauses or replaces their process meanwhile. */
  private readonly claimed = new Set<number>();

  constructor(
    private readonly net: Network,
    private readonly outDir: string,
    private readonly timing: NodeTiming,
    private readonly extraArgs: readonly string[] = [],
    /** The raftkv CLI the nodes run; another build's, to test it with this runner. */
    private readonly entry: string = cliEntry(),
    /** Node i's data dir, when not <outDir>/data/n<i> (--small-disk puts it on a tmpfs). */
    private readonly dataDirOf: ((i: number) => string) | null = null,
    /** With TLS and auth on the nodes: https, and what the clients present. */
    private readonly secure: ClientCredentials | null = null,
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

  /** The id of the member slot i hosts now. */
  name(i: number): string {
    const g = this.generations.get(i) ?? 1;
    return g === 1 ? `n${i}` : `n${i}.${g}`;
  }

  /** Slots no fault holds, in order. */
  free(): number[] {
    return this.ids().filter((i) => !this.claimed.has(i));
  }

  /** Holds slot i for a fault; false if another fault holds it. */
  claim(i: number): boolean {
    if (this.claimed.has(i)) return false;
    this.claimed.add(i);
    return true;
  }

  release(i: number): void {
    this.claimed.delete(i);
  }

  /**
   * Slot i hosts a brand-new member from now on: a new id and an empty data dir; start() runs it
   * with --join. The slot's process must not be running. Returns the new id.
   */
  renew(i: number): string {
    if (this.procs.has(i)) throw new Error(`renew(${i}): ${this.name(i)} is still running`);
    this.generations.set(i, (this.generations.get(i) ?? 1) + 1);
    // A slot's data dir on a small disk is one path for every member it hosts: emptied here.
    // Elsewhere each member has its own, and the old one stays for the post-mortem.
    if (this.dataDirOf !== null) rmSync(this.dataDirOf(i), { recursive: true, force: true });
    return this.name(i);
  }

  /** Where the member slot i hosts keeps its data. */
  dataDir(i: number): string {
    return this.dataDirOf?.(i) ?? path.join(this.outDir, 'data', this.name(i));
  }

  url(i: number): string {
    return `${this.secure === null ? 'http' : 'https'}://${this.net.address(i)}:${nodePort}`;
  }

  /** The API client of node i (a fresh connection per request). */
  client(i: number): RaftkvClient {
    let c = this.clients.get(i);
    if (c === undefined) {
      c = nodeClient(this.url(i), this.secure ?? {});
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

  /** The bootstrap members: n<i> on every slot. */
  private clusterArg(): string {
    return this.ids()
      .map((i) => `n${i}=${this.net.address(i)}:${nodePort}`)
      .join(',');
  }

  /**
   * How the member of slot i finds its cluster: a bootstrap member by the bootstrap list (its
   * data dir holds the membership since); a member that replaced one by asking the other slots
   * (--join; restarted, it finds itself listed and is not added again).
   */
  private membershipArgs(i: number): string[] {
    if ((this.generations.get(i) ?? 1) === 1) return ['--cluster', this.clusterArg()];
    const others = this.ids()
      .filter((j) => j !== i)
      .map((j) => `${this.net.address(j)}:${nodePort}`);
    return ['--join', others.join(','), '--listen', `${this.net.address(i)}:${nodePort}`];
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
      ...this.membershipArgs(i),
      '--data-dir',
      this.dataDir(i),
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
