// `raftkv start`: run one node until SIGTERM/SIGINT, then stop it gracefully and exit 0. SIGHUP
// re-reads the auth file (the daemon convention: a hangup means "reload your configuration").

import { mkdir } from 'node:fs/promises';
import type { RaftkvNode } from '../app/start-node.js';
import { NodeLogger } from '../node/logger.js';
import { type NodeOptions, NodeOptionsError } from '../node/options.js';
import { CorruptionError, IdentityMismatchError } from '../storage/errors.js';
import { formatHostPort } from './addresses.js';
import type { Env } from './args.js';
import { inspectDataDir } from './data-dir-state.js';
import { describeError, type Io } from './io.js';
import { type ClusterView, discoverCluster, requestAddition } from './join.js';
import { parseStartCommand } from './start-options.js';

/** How long a joining node tries to reach the cluster and to be added. */
const joinTimeoutMs = 60_000;

export interface StartDeps {
  readonly startNode: (options: NodeOptions) => Promise<RaftkvNode>;
  /** Calls `handler` on each SIGTERM/SIGINT/SIGHUP. */
  readonly onSignal: (handler: (signal: string) => void) => void;
  /** Calls `handler` once when stdin reaches its end (for --stop-with-stdin). */
  readonly onStdinClosed: (handler: () => void) => void;
  readonly io: Io;
}

export function processSignals(handler: (signal: string) => void): void {
  for (const sig of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(sig, () => handler(sig));
}

export function processStdinClosed(handler: () => void): void {
  process.stdin.once('end', handler);
  process.stdin.on('error', () => {});
  process.stdin.resume();
}

/** One line saying why the node could not start. */
export function explainStartFailure(e: unknown, options: NodeOptions): string {
  const self = options.cluster[options.id];
  const listen = options.listen ?? self;
  const where = listen ? formatHostPort(listen) : '?';
  const code = e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined;
  if (code === 'EADDRINUSE') return `address ${where} is already in use (is another node running there?)`;
  if (code === 'EADDRNOTAVAIL') return `cannot listen on ${where}: no such local address (use --listen)`;
  if (e instanceof CorruptionError) {
    return `data in ${options.dataDir} is corrupt; refusing to start: ${e.message}`;
  }
  if (e instanceof IdentityMismatchError) {
    return e.message;
  }
  if (e instanceof NodeOptionsError) return e.message;
  return describeError(e);
}

/** Resolves with the exit code; UsageError propagates to the caller. */
export async function runStart(argv: readonly string[], env: Env, deps: StartDeps): Promise<number> {
  const command = parseStartCommand(argv, env);
  const { stopWithStdin, join } = command;
  let options = command.options;
  const { io } = deps;
  const fail = (what: string): number => {
    io.err(`raftkv: cannot start node ${options.id}: ${what}\n`);
    return 1;
  };
  try {
    await mkdir(options.dataDir, { recursive: true });
  } catch (e) {
    return fail(`cannot create data dir ${options.dataDir}: ${describeError(e)}`);
  }
  let alreadyMember = false;
  if (join !== undefined) {
    const dataDir = inspectDataDir(options.dataDir);
    const restarting = dataDir.kind === 'node' && dataDir.identity.nodeId === options.id;
    // Who to dial and the cluster's id, from a member; then start knowing no membership.
    let view: ClusterView;
    try {
      view = await discoverCluster(join, joinTimeoutMs, { restarting });
    } catch (e) {
      return fail(describeError(e));
    }
    const listed = view.members[options.id];
    if (listed !== undefined && formatHostPort(listed) !== formatHostPort(join.advertise)) {
      return fail(
        `the cluster already has a member ${options.id} at ${formatHostPort(listed)}, not ${formatHostPort(join.advertise)}`,
      );
    }
    alreadyMember = listed !== undefined;
    // A member restarted with --join must bring the data it had: with an empty data dir it would
    // be counted, under its id, as holding entries and votes it has lost — committed entries could
    // then be lost, and it could vote twice in one term. It must be removed and join as a new member.
    if (alreadyMember && dataDir.kind === 'fresh') {
      const why = `the cluster lists ${options.id} as a member, but its data dir ${options.dataDir} is empty: a member that lost its data cannot come back under its id. Remove it (raftkv member remove ${options.id}) and join a new member under a new id (docs/membership.md)`;
      NodeLogger.of(options).emit('datadir.refused', { dataDir: options.dataDir, cause: 'lost', error: why });
      return fail(why);
    }
    options = {
      ...options,
      cluster: { ...view.members, [options.id]: join.advertise },
      clusterToken: view.clusterId,
      // A member the cluster started with, while the membership never changed, has no
      // configuration entry in its data: it is given the one it started with, which is the
      // cluster's (else it would know no voters, and never campaign though the others count it).
      joining: !(alreadyMember && view.index === 0),
    };
  }
  let node: RaftkvNode;
  try {
    node = await deps.startNode(options);
  } catch (e) {
    return fail(explainStartFailure(e, options));
  }
  if (join !== undefined && !alreadyMember) {
    try {
      await requestAddition(join, options.id, Date.now() + joinTimeoutMs);
      io.err(
        `raftkv: node ${options.id} added to the cluster as a learner${join.learner ? '' : '; promoted to voter once caught up'}\n`,
      );
    } catch (e) {
      await node.stop();
      return fail(describeError(e));
    }
  }
  const reload = (): void => {
    if (options.authFile === undefined && options.tls === undefined) {
      io.err('raftkv: SIGHUP: nothing to reload (no --auth-file, no TLS files)\n');
      return;
    }
    // The node logs the outcomes (auth.reloaded, tls.reloaded, or *.reload_failed with the old
    // ones kept).
    if (options.authFile !== undefined) void node.reloadAuth();
    if (options.tls !== undefined) void node.reloadTls();
  };
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onStop = (signal: string): void => {
      if (signal === 'SIGHUP') {
        reload();
        return;
      }
      if (stopping) {
        io.err(`raftkv: ${signal} again: node ${node.id} exits without finishing its stop\n`);
        resolve(130);
        return;
      }
      stopping = true;
      io.err(`raftkv: ${signal}: stopping node ${node.id}\n`);
      node.stop().then(
        () => resolve(0),
        (e: unknown) => {
          io.err(`raftkv: node ${node.id} did not stop cleanly: ${describeError(e)}\n`);
          resolve(1);
        },
      );
    };
    deps.onSignal(onStop);
    if (stopWithStdin) deps.onStdinClosed(() => onStop('stdin closed'));
    node.stopped.then(
      () => {
        if (stopping) return;
        if (node.removed) {
          io.err(`raftkv: node ${node.id} was removed from the cluster and stopped\n`);
          resolve(0);
          return;
        }
        const fatal = node.fatalError;
        io.err(`raftkv: node ${node.id} stopped: ${fatal ? describeError(fatal) : 'see the log above'}\n`);
        resolve(1);
      },
      (e: unknown) => {
        io.err(`raftkv: node ${node.id} failed: ${describeError(e)}\n`);
        resolve(1);
      },
    );
  });
}
