// Node processes run by the CLI's supervisors (`raftkv cluster`, `raftkv cluster add`): this same
// CLI as `raftkv start` children, each in its own process group, its log lines forwarded to
// stderr prefixed with its id, and all stopped in order on a signal — SIGTERM, then SIGKILL after
// the grace period, or at once on a second signal; and the loop each supervisor runs around them
// (SupervisorLoop): polling the cluster until a signal stops it all.

import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { describeError, type Io, shellQuote } from './io.js';

export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface NodeChild {
  readonly id: string;
  /** Arguments after the CLI script: `start --id ...`. */
  readonly argv: readonly string[];
  readonly process: ChildProcess;
  readonly exited: boolean;
  /** Resolves once the process has exited and its last lines have been forwarded. */
  readonly exit: Promise<ChildExit>;
}

export interface NodeChildrenOptions {
  readonly io: Io;
  /** The executable and leading arguments that run this CLI. */
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  /** How long the children get to stop after SIGTERM before SIGKILL. */
  readonly gracePeriodMs: number;
  /** Starts every message of the supervisor: `raftkv cluster`. */
  readonly label: string;
  /** Width the ids are padded to in the log prefix, so the lines of several nodes align. */
  readonly idWidth: number;
}

export class NodeChildren {
  /** The children that have not exited (one leaves the list as it exits). */
  private readonly children: NodeChild[] = [];
  private stopping = false;
  private stopped: Promise<void> = Promise.resolve();

  constructor(private readonly o: NodeChildrenOptions) {
    // If the supervisor dies without stopping them, the nodes also see their stdin close and stop
    // by themselves (--stop-with-stdin); this covers an ordinary exit at once.
    process.once('exit', () => {
      for (const c of this.live()) c.process.kill('SIGKILL');
    });
  }

  /** A signal has asked every child to stop: exits from now on are expected. */
  get isStopping(): boolean {
    return this.stopping;
  }

  live(): NodeChild[] {
    return [...this.children];
  }

  allExited(): boolean {
    return this.children.length === 0;
  }

  /** Starts `raftkv <argv>`; `onExit` runs once it has exited on its own (not after stop()). */
  spawn(id: string, argv: readonly string[], onExit: (exit: ChildExit) => void): NodeChild {
    const [exe, ...pre] = this.o.command;
    const child = spawn(exe!, [...pre, ...argv], {
      env: this.o.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      // Own process group: a terminal's Ctrl-C reaches only the supervisor, which stops the
      // nodes in order.
      detached: true,
    });
    const prefix = `${id.padEnd(this.o.idWidth)} | `;
    this.forward(child.stdout, prefix);
    this.forward(child.stderr, prefix);
    let exited = false;
    const ended = (exit: ChildExit, resolve: (e: ChildExit) => void): void => {
      if (exited) return; // a failed spawn may report both 'error' and 'close'
      exited = true;
      const at = this.children.indexOf(c);
      if (at !== -1) this.children.splice(at, 1);
      if (!this.stopping) onExit(exit);
      resolve(exit);
    };
    const exit = new Promise<ChildExit>((resolve) => {
      // 'close', not 'exit': by then the node's last log lines have been forwarded.
      child.once('close', (code: number | null, signal: NodeJS.Signals | null) =>
        ended({ code, signal }, resolve),
      );
      child.once('error', (e) => {
        this.o.io.err(`${this.o.label}: cannot run ${id}: ${describeError(e)}\n`);
        if (child.pid === undefined) ended({ code: null, signal: null }, resolve);
      });
    });
    const c: NodeChild = {
      id,
      argv,
      process: child,
      get exited() {
        return exited;
      },
      exit,
    };
    this.children.push(c);
    return c;
  }

  /** The command that runs `argv` again by hand (without --stop-with-stdin), quoted for a shell. */
  rerunCommand(argv: readonly string[]): string {
    return [...this.o.command, ...argv.filter((a) => a !== '--stop-with-stdin')].map(shellQuote).join(' ');
  }

  /**
   * First call: SIGTERM to every running child, SIGKILL to those still running after the grace
   * period. A later call: SIGKILL at once. Resolves once every child has exited.
   */
  stop(signal: string): Promise<void> {
    const { io, label } = this.o;
    const live = this.live();
    if (this.stopping) {
      io.err(`${label}: ${signal} again: killing ${live.length} node(s) now\n`);
      for (const c of live) c.process.kill('SIGKILL');
      return this.stopped;
    }
    this.stopping = true;
    io.err(`${label}: ${signal}: stopping ${live.length} node(s)\n`);
    this.stopped = Promise.all(live.map((c) => this.stopOne(c))).then(() => undefined);
    return this.stopped;
  }

  /** SIGTERM to `child`, SIGKILL if it still runs after the grace period. Resolves once it has exited. */
  async stopOne(child: NodeChild): Promise<void> {
    const { io, label, gracePeriodMs } = this.o;
    if (child.exited) return;
    child.process.kill('SIGTERM');
    const grace = setTimeout(() => {
      if (child.exited) return;
      io.err(`${label}: ${child.id} still running after ${gracePeriodMs} ms; sending SIGKILL\n`);
      child.process.kill('SIGKILL');
    }, gracePeriodMs);
    try {
      await child.exit;
    } finally {
      clearTimeout(grace);
    }
  }

  private forward(stream: Readable | null, prefix: string): void {
    if (!stream) return;
    createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
      this.o.io.err(`${prefix}${line}\n`),
    );
  }
}

/** What the supervisor loop takes from a supervisor's dependencies. */
export interface SupervisorLoopDeps {
  /** Calls `handler` on each SIGTERM/SIGINT/SIGHUP. */
  readonly onSignal: (handler: (signal: string) => void) => void;
  readonly pollIntervalMs: number;
}

/**
 * The loop both supervisors run around their children: a poll of the cluster every interval —
 * never two at once, none once the children are stopping — and the children stopped on a
 * signal. The first signal also ends the polling and reports once every child has exited; a later
 * one only hurries the kill (NodeChildren.stop).
 */
export class SupervisorLoop {
  private poller: NodeJS.Timeout | undefined;
  private polling = false;

  constructor(private readonly children: NodeChildren) {}

  /** Polls with `poll` from now on; `stopped` runs once a signal has stopped every child. */
  start(deps: SupervisorLoopDeps, poll: () => Promise<void>, stopped: () => void): void {
    deps.onSignal((signal) => this.stop(signal, stopped));
    this.poller = setInterval(() => void this.tick(poll), deps.pollIntervalMs);
  }

  /** Whether the polling has ended: a poll that was under way should report nothing more. */
  get pollingStopped(): boolean {
    return this.poller === undefined;
  }

  /** No more polls (a signal, or the supervisor is finishing). */
  stopPolling(): void {
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private async tick(poll: () => Promise<void>): Promise<void> {
    if (this.polling || this.children.isStopping) return;
    this.polling = true;
    try {
      await poll();
    } finally {
      this.polling = false;
    }
  }

  private stop(signal: string, stopped: () => void): void {
    const first = !this.children.isStopping;
    const done = this.children.stop(signal);
    if (!first) return;
    this.stopPolling();
    void done.then(stopped);
  }
}
