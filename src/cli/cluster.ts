// `raftkv cluster`: run N `raftkv start` child processes, forward their logs prefixed with the node
// id, show who leads, and stop them all (SIGTERM, then SIGKILL after a grace period) on Ctrl-C.
// A node that dies is reported; the others keep running (no automatic restart). A control API on
// loopback (supervisor-control.ts) kills, stops and restarts single nodes on request.

import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NotSupervisedError, ShuttingDownError } from '../api/errors.js';
import { ExerciseRuns } from '../app/exercise-runs.js';
import { connect, type ExerciseTarget, type SupervisorHandle } from '../exercise/index.js';
import type { Endpoint } from './addresses.js';
import type { Env } from './args.js';
import { requestOnce } from './client.js';
import {
  type ClusterPlan,
  defaultSupervisorFile,
  type PlannedNode,
  parseClusterCommand,
} from './cluster-options.js';
import { clientOptionsOf } from './connection-options.js';
import { type DebugInfo, type Leadership, leaderOf, parseDebug, sameLeadership } from './debug-info.js';
import { describeError, type Io } from './io.js';
import { type ChildExit, type NodeChild, NodeChildren, SupervisorLoop } from './node-children.js';
import {
  ControlServer,
  type NodeAction,
  newControlToken,
  removeSupervisorFile,
  type SupervisedNode,
  supervisorEnv,
  writeSupervisorFile,
} from './supervisor-control.js';

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

export async function runCluster(argv: readonly string[], env: Env, deps: ClusterDeps): Promise<number> {
  let plan = parseClusterCommand(argv, env);
  if (plan.tls !== null) {
    // Loaded only here: the X.509 library costs every other command its start-up time.
    const certs = await import('../certs/index.js');
    try {
      plan = await withCertificates(plan, deps.io, certs);
    } catch (e) {
      if (!(e instanceof certs.CertsError)) throw e;
      deps.io.err(`raftkv cluster: --tls: ${e.message}\n`);
      return 1;
    }
  }
  return new Supervisor(plan, deps).run();
}

/**
 * --tls: the CA and a certificate per node in the TLS dir — made on the first run, reused after
 * (a node added since gets its own from the same CA) — and the CA for the supervisor's polls.
 */
async function withCertificates(
  plan: ClusterPlan,
  io: Io,
  { addNodeCert, createClusterCerts, nodeCertPaths }: typeof import('../certs/index.js'),
): Promise<ClusterPlan> {
  const tls = plan.tls!;
  const nodes = plan.nodes.map((n) => ({ id: n.id, hosts: tls.hosts }));
  if (!existsSync(tls.ca)) {
    await createClusterCerts({ nodes, outDir: tls.dir });
    io.out(`raftkv cluster: made a private CA and certificates in ${tls.dir}\n`);
  } else {
    for (const node of nodes) {
      if (existsSync(nodeCertPaths(tls.dir, node.id).cert)) continue;
      await addNodeCert({ ...node, caDir: tls.dir });
      io.out(`raftkv cluster: made a certificate for ${node.id} in ${tls.dir}\n`);
    }
  }
  const ca = readFileSync(tls.ca);
  return { ...plan, credentials: { ...plan.credentials, tls: plan.credentials.tls ?? { ca } } };
}

/** What the supervisor knows of one node across its processes. */
interface NodeSlot {
  readonly node: PlannedNode;
  /** Its current process (running or exited), or null before the first. */
  child: NodeChild | null;
  exits: number;
  /** The control API's kill or stop that ended (or is ending) its process: an exit it asked for. */
  asked: 'kill' | 'stop' | null;
  /** The control actions on this node run one after another: the last one's end. */
  queue: Promise<unknown>;
}

class Supervisor {
  private readonly children: NodeChildren;
  private readonly loop: SupervisorLoop;
  private leader: Leadership | undefined;
  private finish: (code: number) => void = () => {};
  private readonly width: number;
  /** The nodes' environment: the control API's URL and token are added once it listens. */
  private readonly env: Record<string, string>;
  private readonly slots: Map<string, NodeSlot>;
  private control: ControlServer | null = null;
  private controlFile: string | null = null;
  /**
   * The exercises the dashboard runs here (through a node's /ui/exercises): this process outlives
   * every node an exercise kills or stops.
   */
  private readonly runs: ExerciseRuns;

  constructor(
    private readonly plan: ClusterPlan,
    private readonly deps: ClusterDeps,
  ) {
    this.width = Math.max(...plan.nodes.map((n) => n.id.length));
    this.env = { ...plan.env };
    this.slots = new Map(
      plan.nodes.map((node) => [
        node.id,
        { node, child: null, exits: 0, asked: null, queue: Promise.resolve() },
      ]),
    );
    this.children = new NodeChildren({
      io: deps.io,
      command: deps.command,
      // Read at each spawn: the control API's variables are set before the first.
      env: this.env,
      gracePeriodMs: deps.gracePeriodMs,
      label: 'raftkv cluster',
      idWidth: this.width,
    });
    this.loop = new SupervisorLoop(this.children);
    this.runs = new ExerciseRuns({
      runsIn: 'supervisor',
      log: (line) => deps.io.err(`raftkv cluster: ${line}\n`),
    });
  }

  async run(): Promise<number> {
    const { io } = this.deps;
    const done = new Promise<number>((resolve) => {
      this.finish = (code) => {
        this.finish = () => {};
        void this.closeControl().then(() => resolve(code));
      };
    });
    if (this.plan.controlPort !== null && !(await this.openControl(this.plan.controlPort))) return 1;
    io.out(`raftkv cluster: ${this.plan.nodes.length} node(s), data in ${this.plan.dataDir}\n`);
    for (const slot of this.slots.values()) {
      const { node } = slot;
      io.out(`  ${node.id.padEnd(this.width)}  ${node.url}  (data dir ${node.dataDir})\n`);
      this.spawn(slot);
    }
    for (const note of this.plan.notes) io.out(`raftkv cluster: ${note}\n`);
    const tls = this.plan.tls;
    io.out(
      `clients: raftkv status --endpoints ${this.plan.endpoints}${tls === null ? '' : ` --cacert ${tls.ca}`}\n`,
    );
    if (tls !== null) io.out(`         curl --cacert ${tls.ca} ${this.plan.nodes[0]!.url}/debug\n`);
    if (this.control !== null) {
      const file = this.controlFile!;
      const named = resolve(file) === resolve(defaultSupervisorFile) ? '' : ` --supervisor ${file}`;
      io.out(`control: ${this.control.url} kills, stops and restarts nodes (its token is in ${file})\n`);
      io.out(`exercises: raftkv exercise 1${named} (1 to 4: docs/exercises.md)\n`);
    }
    io.out('Ctrl-C stops every node.\n');
    this.loop.start(
      this.deps,
      () => this.poll(),
      () => {
        io.err('raftkv cluster: all nodes stopped\n');
        this.finish(0);
      },
    );
    return done;
  }

  /** Starts the control API and writes DATA_DIR/supervisor.json; false (said why) if it cannot. */
  private async openControl(port: number): Promise<boolean> {
    const token = newControlToken();
    try {
      this.control = await ControlServer.start(port, token, {
        nodes: () => [...this.slots.values()].map((s) => this.view(s)),
        act: (id, action) => this.act(id, action),
        exercises: {
          start: (n) => this.runs.start(n, () => this.exerciseTarget()),
          get: (run) => this.runs.get(run),
        },
      });
      mkdirSync(this.plan.dataDir, { recursive: true });
      this.controlFile = writeSupervisorFile(this.plan.dataDir, {
        url: this.control.url,
        token,
        pid: process.pid,
        endpoints: this.plan.endpoints,
      });
    } catch (e) {
      await this.closeControl();
      this.deps.io.err(
        `raftkv cluster: cannot start the control API on 127.0.0.1:${port || '(a free port)'}: ${describeError(e)} ` +
          '(--control-port PORT, or --no-control)\n',
      );
      return false;
    }
    const file = this.controlFile;
    // A supervisor that exits any other way still takes its file with it.
    process.once('exit', () => removeSupervisorFile(file));
    this.env[supervisorEnv.url] = this.control.url;
    this.env[supervisorEnv.token] = token;
    return true;
  }

  /** Every node this supervisor runs, with the nodes' own credentials, and this supervisor. */
  private exerciseTarget(): Promise<ExerciseTarget> {
    const url = this.control?.url ?? '(no control API)';
    const handle: SupervisorHandle = {
      url,
      nodes: async () => [...this.slots.values()].map((s) => this.view(s)),
      act: (id, action) => this.act(id, action),
    };
    return connect({
      endpoints: this.plan.nodes.map((n) => n.url),
      client: clientOptionsOf(this.plan.credentials),
      supervisor: { handle, note: `the supervisor of raftkv cluster (${url}), which runs the exercise` },
    });
  }

  private async closeControl(): Promise<void> {
    if (this.controlFile !== null) removeSupervisorFile(this.controlFile);
    this.controlFile = null;
    const c = this.control;
    this.control = null;
    if (c !== null) await c.close();
  }

  private spawn(slot: NodeSlot): void {
    slot.asked = null;
    slot.child = this.children.spawn(slot.node.id, slot.node.argv, (exit) => this.onExit(slot, exit));
  }

  private view(slot: NodeSlot): SupervisedNode {
    const running = slot.child !== null && !slot.child.exited;
    const pid = running ? (slot.child?.process.pid ?? null) : null;
    return { id: slot.node.id, pid, running, exits: slot.exits, url: slot.node.url };
  }

  /** A control API request: queued behind the node's earlier ones. */
  act(id: string, action: NodeAction): Promise<SupervisedNode> {
    const slot = this.slots.get(id);
    if (slot === undefined) {
      const ids = [...this.slots.keys()].join(', ');
      return Promise.reject(new NotSupervisedError(`this supervisor runs no node "${id}" (it runs ${ids})`));
    }
    const run = slot.queue.then(() => this.actNow(slot, action));
    slot.queue = run.catch(() => undefined);
    return run;
  }

  private async actNow(slot: NodeSlot, action: NodeAction): Promise<SupervisedNode> {
    const { io } = this.deps;
    const id = slot.node.id;
    if (this.children.isStopping) {
      throw new ShuttingDownError('the supervisor is stopping every node');
    }
    const child = slot.child;
    if (child !== null && !child.exited) {
      if (action === 'kill') {
        slot.asked = 'kill';
        io.err(`raftkv cluster: killing ${id} (SIGKILL, through the control API)\n`);
        child.process.kill('SIGKILL');
        await child.exit;
      } else {
        slot.asked = 'stop';
        io.err(`raftkv cluster: stopping ${id} (SIGTERM, through the control API)\n`);
        await this.children.stopOne(child);
      }
    }
    if (action === 'restart') {
      // A signal may have come while it stopped: then nothing is started again.
      if (this.children.isStopping) {
        throw new ShuttingDownError('the supervisor is stopping every node');
      }
      this.spawn(slot);
      io.err(`raftkv cluster: started ${id} again (pid ${slot.child?.process.pid ?? '?'}) on its data dir\n`);
    }
    return this.view(slot);
  }

  private onExit(slot: NodeSlot, { code, signal }: ChildExit): void {
    const { node } = slot;
    slot.exits++;
    const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
    if (slot.asked !== null) {
      this.deps.io.err(
        `raftkv cluster: ${node.id} ${how}, as the control API asked; the other nodes keep running\n`,
      );
    } else {
      this.deps.io.err(
        `raftkv cluster: ${node.id} ${how}; the other nodes keep running. ` +
          `To run it again by hand: ${this.children.rerunCommand(node.argv)}\n`,
      );
    }
    // Every node gone by itself ends the supervisor; one stopped through the control API may be
    // started again through it.
    const slots = [...this.slots.values()];
    if (this.children.allExited() && slots.every((s) => s.asked === null)) {
      this.deps.io.err('raftkv cluster: every node has exited\n');
      this.loop.stopPolling();
      this.finish(1);
    }
  }

  private async poll(): Promise<void> {
    const live = new Set(this.children.live().map((c) => c.id));
    const nodes = this.plan.nodes.filter((n) => live.has(n.id));
    const infos = await Promise.all(nodes.map((n) => this.debugOf(n)));
    if (this.children.isStopping) return;
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
  }

  private async debugOf(node: PlannedNode): Promise<DebugInfo | undefined> {
    const endpoint: Endpoint = { label: node.url, url: node.url };
    const timeoutMs = Math.max(100, Math.min(1000, this.deps.pollIntervalMs));
    try {
      const { token, tls } = this.plan.credentials;
      const answer = await requestOnce(endpoint, {
        method: 'GET',
        path: '/debug',
        timeoutMs,
        ...(token !== undefined && { token }),
        ...(tls !== undefined && { tls }),
      });
      return answer.status === 200 ? parseDebug(answer.body) : undefined;
    } catch {
      return undefined;
    }
  }
}
