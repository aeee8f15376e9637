// `raftkv cluster`: run N `raftkv start` child processes, forward their logs prefixed with the node
// id, show who leads, and stop them all (SIGTERM, then SIGKILL after a grace period) on Ctrl-C.
// A node that dies is reported; the others keep running (no automatic restart).

import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Endpoint } from './addresses.js';
import type { Env } from './args.js';
import { requestOnce } from './client.js';
import { type ClusterPlan, type PlannedNode, parseClusterCommand } from './cluster-options.js';
import { type DebugInfo, type Leadership, leaderOf, parseDebug, sameLeadership } from './debug-info.js';
import type { Io } from './io.js';
import { type ChildExit, NodeChildren, SupervisorLoop } from './node-children.js';

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

class Supervisor {
  private readonly children: NodeChildren;
  private readonly loop: SupervisorLoop;
  private leader: Leadership | undefined;
  private finish: (code: number) => void = () => {};
  private readonly width: number;

  constructor(
    private readonly plan: ClusterPlan,
    private readonly deps: ClusterDeps,
  ) {
    this.width = Math.max(...plan.nodes.map((n) => n.id.length));
    this.children = new NodeChildren({
      io: deps.io,
      command: deps.command,
      env: plan.env,
      gracePeriodMs: deps.gracePeriodMs,
      label: 'raftkv cluster',
      idWidth: this.width,
    });
    this.loop = new SupervisorLoop(this.children);
  }

  run(): Promise<number> {
    const { io } = this.deps;
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    io.out(`raftkv cluster: ${this.plan.nodes.length} node(s), data in ${this.plan.dataDir}\n`);
    for (const node of this.plan.nodes) {
      io.out(`  ${node.id.padEnd(this.width)}  ${node.url}  (data dir ${node.dataDir})\n`);
      this.children.spawn(node.id, node.argv, (exit) => this.onExit(node, exit));
    }
    for (const note of this.plan.notes) io.out(`raftkv cluster: ${note}\n`);
    const tls = this.plan.tls;
    io.out(
      `clients: raftkv status --endpoints ${this.plan.endpoints}${tls === null ? '' : ` --cacert ${tls.ca}`}\n`,
    );
    if (tls !== null) io.out(`         curl --cacert ${tls.ca} ${this.plan.nodes[0]!.url}/debug\n`);
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

  private onExit(node: PlannedNode, { code, signal }: ChildExit): void {
    const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
    this.deps.io.err(
      `raftkv cluster: ${node.id} ${how}; the other nodes keep running. ` +
        `To run it again by hand: ${this.children.rerunCommand(node.argv)}\n`,
    );
    if (this.children.allExited()) {
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
