// `raftkv cluster`: run N `raftkv start` child processes, forward their logs prefixed with the node
// id, show who leads, and stop them all (SIGTERM, then SIGKILL after a grace period) on Ctrl-C.
// A node that dies is reported; the others keep running (no automatic restart).

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Endpoint } from './addresses.js';
import type { Env } from './args.js';
import { requestOnce } from './client.js';
import { type ClusterPlan, type PlannedNode, parseClusterCommand } from './cluster-options.js';
import { type DebugInfo, type Leadership, leaderOf, parseDebug, sameLeadership } from './debug-info.js';
import { describeError, type Io } from './io.js';

export interface ClusterDeps {
  readonly io: Io;
  /** Calls `handler` on each SIGTERM/SIGINT/SIGHUP. */
  readonly onSignal: (handler: (signal: string) => void) => void;
  /** The executable and leading arguments that run this CLI. */
  readonly command: readonly string[];
  readonly pollIntervalMs: number;
  readonly gracePeriodMs: number;
}

/** How often the leader is polled, and how long nodes get to stop before SIGKILL. */
export const clusterTiming = { pollIntervalMs: 500, gracePeriodMs: 10_000 } as const;

/** This CLI, run by the same Node with the same flags. */
export function selfCommand(): string[] {
  return [process.execPath, ...process.execArgv, fileURLToPath(new URL('./main.js', import.meta.url))];
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:=,@-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;
}

interface Running {
  readonly node: PlannedNode;
  child: ChildProcess;
  exited: boolean;
  readonly exit: Promise<void>;
}

export async function runCluster(argv: readonly string[], env: Env, deps: ClusterDeps): Promise<number> {
  const plan = parseClusterCommand(argv, env);
  return new Supervisor(plan, deps).run();
}

class Supervisor {
  private readonly running: Running[] = [];
  private stopping = false;
  private leader: Leadership | undefined;
  private poller: NodeJS.Timeout | undefined;
  private polling = false;
  private finish: (code: number) => void = () => {};
  private readonly width: number;

  constructor(
    private readonly plan: ClusterPlan,
    private readonly deps: ClusterDeps,
  ) {
    this.width = Math.max(...plan.nodes.map((n) => n.id.length));
  }

  run(): Promise<number> {
    const { io } = this.deps;
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    io.out(`raftkv cluster: ${this.plan.nodes.length} node(s), data in ${this.plan.dataDir}\n`);
    for (const node of this.plan.nodes) {
      io.out(`  ${node.id.padEnd(this.width)}  ${node.url}  (data dir ${node.dataDir})\n`);
      this.running.push(this.spawnNode(node));
    }
    io.out(`clients: raftkv status --endpoints ${this.plan.endpoints}\n`);
    io.out('Ctrl-C stops every node.\n');
    // If the supervisor itself dies, the nodes see their stdin close and stop (--stop-with-stdin).
    process.once('exit', () => {
      for (const r of this.running) if (!r.exited) r.child.kill('SIGKILL');
    });
    this.deps.onSignal((signal) => this.stop(signal));
    this.poller = setInterval(() => void this.poll(), this.deps.pollIntervalMs);
    return done;
  }

  private spawnNode(node: PlannedNode): Running {
    const [exe, ...pre] = this.deps.command;
    const child = spawn(exe!, [...pre, ...node.argv], {
      env: this.plan.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: Ctrl-C reaches only the supervisor, which stops the nodes in order.
      detached: true,
    });
    const prefix = `${node.id.padEnd(this.width)} | `;
    this.forward(child.stdout, prefix);
    this.forward(child.stderr, prefix);
    const r: Running = {
      node,
      child,
      exited: false,
      exit: new Promise<void>((resolve) => {
        // 'close', not 'exit': by then the node's last log lines have been forwarded.
        child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
          r.exited = true;
          this.onExit(node, code, signal);
          resolve();
        });
        child.once('error', (e) => {
          this.deps.io.err(`raftkv cluster: cannot run ${node.id}: ${describeError(e)}\n`);
          if (child.pid === undefined) {
            r.exited = true;
            this.onExit(node, null, null);
            resolve();
          }
        });
      }),
    };
    return r;
  }

  private forward(stream: Readable | null, prefix: string): void {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
      this.deps.io.err(`${prefix}${line}\n`),
    );
  }

  private onExit(node: PlannedNode, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping) return;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
    const cmd = [...this.deps.command, ...node.argv.filter((a) => a !== '--stop-with-stdin')]
      .map(shellQuote)
      .join(' ');
    this.deps.io.err(
      `raftkv cluster: ${node.id} ${how}; the other nodes keep running. ` +
        `To run it again by hand: ${cmd}\n`,
    );
    if (this.running.every((r) => r.exited)) {
      this.deps.io.err('raftkv cluster: every node has exited\n');
      this.shutdownTimers();
      this.finish(1);
    }
  }

  private async poll(): Promise<void> {
    if (this.polling || this.stopping) return;
    this.polling = true;
    try {
      const live = this.running.filter((r) => !r.exited);
      const infos = await Promise.all(live.map((r) => this.debugOf(r.node)));
      if (this.stopping) return;
      const known = infos.filter((i): i is DebugInfo => i !== undefined);
      const now = leaderOf(known);
      if (sameLeadership(now, this.leader)) return;
      const before = this.leader;
      this.leader = now;
      if (now) {
        const url = this.plan.nodes.find((n) => n.id === now.leaderId)?.url;
        this.deps.io.out(`leader: ${now.leaderId} (term ${now.term})${url ? ` ${url}` : ''}\n`);
      } else if (before) {
        this.deps.io.out(
          `leader: none known (was ${before.leaderId}, term ${before.term}); an election is due\n`,
        );
      }
    } finally {
      this.polling = false;
    }
  }

  private async debugOf(node: PlannedNode): Promise<DebugInfo | undefined> {
    const endpoint: Endpoint = { label: node.url, url: node.url };
    const timeoutMs = Math.max(100, Math.min(1000, this.deps.pollIntervalMs));
    try {
      const answer = await requestOnce(endpoint, { method: 'GET', path: '/debug', timeoutMs });
      return answer.status === 200 ? parseDebug(answer.body) : undefined;
    } catch {
      return undefined;
    }
  }

  private shutdownTimers(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private stop(signal: string): void {
    const { io } = this.deps;
    const live = this.running.filter((r) => !r.exited);
    if (this.stopping) {
      io.err(`raftkv cluster: ${signal} again: killing ${live.length} node(s) now\n`);
      for (const r of live) r.child.kill('SIGKILL');
      return;
    }
    this.stopping = true;
    this.shutdownTimers();
    io.err(`raftkv cluster: ${signal}: stopping ${live.length} node(s)\n`);
    for (const r of live) r.child.kill('SIGTERM');
    const grace = setTimeout(() => {
      const stuck = this.running.filter((r) => !r.exited);
      if (stuck.length === 0) return;
      io.err(
        `raftkv cluster: ${stuck.map((r) => r.node.id).join(', ')} still running after ` +
          `${this.deps.gracePeriodMs} ms; sending SIGKILL\n`,
      );
      for (const r of stuck) r.child.kill('SIGKILL');
    }, this.deps.gracePeriodMs);
    void Promise.all(this.running.map((r) => r.exit)).then(() => {
      clearTimeout(grace);
      io.err('raftkv cluster: all nodes stopped\n');
      this.finish(0);
    });
  }
}
