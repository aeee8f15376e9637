// `raftkv cluster add`: one more node for the cluster `raftkv cluster` runs, in the foreground.
// Asks the cluster for its members, plans the node (cluster-add-plan.ts), runs `raftkv start
// --join` as a child the way `raftkv cluster` runs its nodes (node-children.ts), reports when the
// cluster lists it and when it is a voter, and stops it on Ctrl-C. Stopping it does not remove
// the member: the cluster still counts it (a voter toward its majorities) until
// `raftkv member remove`.

import { type MembersResult, RaftkvClient } from '../client/index.js';
import type { Env } from './args.js';
import type { ClusterDeps } from './cluster.js';
import { type ClusterAddRequest, parseClusterAddCommand } from './cluster-add-options.js';
import { type AdditionPlan, AdditionRefused, planAddition } from './cluster-add-plan.js';
import { defaultDataDir } from './cluster-options.js';
import { type Credentials, clientOptionsOf } from './connection-options.js';
import { inspectDataDir } from './data-dir-state.js';
import { describeError, shellQuote } from './io.js';
import { membersFrom } from './join.js';
import { defaultClientTimeoutMs, exitCodes } from './kv-commands.js';
import { type ChildExit, NodeChildren, SupervisorLoop } from './node-children.js';

const label = 'raftkv cluster add';

export async function runClusterAdd(argv: readonly string[], env: Env, deps: ClusterDeps): Promise<number> {
  const req = parseClusterAddCommand(argv, env);
  for (const note of req.notes) deps.io.out(`${label}: ${note}\n`);
  const fail = (why: string): number => {
    deps.io.err(`${label}: ${why}\n`);
    return exitCodes.failed;
  };
  let answer: MembersResult;
  try {
    answer = await membersFrom(req.endpoints, defaultClientTimeoutMs, {}, req.credentials);
  } catch (e) {
    return fail(`${describeError(e)}; is the cluster running? (--endpoints names its members)`);
  }
  let plan: AdditionPlan;
  try {
    plan = planAddition(req, answer, inspectDataDir);
  } catch (e) {
    if (e instanceof AdditionRefused) return fail(e.message);
    throw e;
  }
  if (plan.member !== undefined && (await alreadyRuns(plan, req.credentials))) {
    return fail(`${plan.id} already runs at ${plan.address} (it answers there): nothing to restart`);
  }
  return new Addition(plan, req, deps).run();
}

/** Whether the node already runs: its address answers as that node. */
async function alreadyRuns(plan: AdditionPlan, credentials: Credentials): Promise<boolean> {
  const client = new RaftkvClient(plan.url, {
    keepAlive: false,
    timeoutMs: 1000,
    ...clientOptionsOf(credentials),
  });
  try {
    return (await client.status()).nodeId === plan.id;
  } catch {
    return false;
  } finally {
    client.close();
  }
}

/** Where the node stands in the membership, as last seen. */
type Standing = 'unlisted' | 'learner' | 'voter';

class Addition {
  private readonly children: NodeChildren;
  private readonly loop: SupervisorLoop;
  private standing: Standing;
  private finish: (code: number) => void = () => {};

  constructor(
    private readonly plan: AdditionPlan,
    private readonly req: ClusterAddRequest,
    private readonly deps: ClusterDeps,
  ) {
    this.standing = plan.member?.role ?? 'unlisted';
    this.children = new NodeChildren({
      io: deps.io,
      command: deps.command,
      env: req.env,
      gracePeriodMs: deps.gracePeriodMs,
      label,
      idWidth: plan.id.length,
    });
    this.loop = new SupervisorLoop(this.children);
  }

  run(): Promise<number> {
    const { io } = this.deps;
    const { id, url, dataDir, member } = this.plan;
    const done = new Promise<number>((resolve) => {
      this.finish = resolve;
    });
    if (member === undefined) {
      io.out(`${label}: ${id} at ${url} (data dir ${dataDir}) joins through ${this.req.endpointsArg}\n`);
    } else {
      io.out(
        `${label}: ${id} is already a member (${member.role}): restarting it at ${url} on its data dir ` +
          `${dataDir}; it is not added again\n`,
      );
    }
    io.out(`Ctrl-C stops ${id}; it stays a member until: ${this.memberCommand('remove')}\n`);
    this.children.spawn(id, this.plan.argv, (exit) => this.onExit(exit));
    this.loop.start(
      this.deps,
      () => this.poll(),
      () => this.stopped(),
    );
    return done;
  }

  private endpointsFlag(): string {
    return this.req.endpointsGiven ? ` --endpoints ${shellQuote(this.req.endpointsArg)}` : '';
  }

  /** `raftkv member ACTION ID`, with the endpoints this command was given. */
  private memberCommand(action: string): string {
    return `raftkv member ${action} ${this.plan.id}${this.endpointsFlag()}`;
  }

  /** This command for the same node: its id named, since by default a new one would be picked. */
  private restartCommand(): string {
    const dataDir = this.req.dataDir === defaultDataDir ? '' : ` --data-dir ${shellQuote(this.req.dataDir)}`;
    const tuning = this.req.passThrough.map((a) => ` ${shellQuote(a)}`).join('');
    return `raftkv cluster add --id ${this.plan.id}${this.endpointsFlag()}${dataDir}${tuning}`;
  }

  private async poll(): Promise<void> {
    const timeoutMs = Math.max(100, Math.min(1000, this.deps.pollIntervalMs));
    const answer = await membersFrom(this.req.endpoints, timeoutMs, {}, this.req.credentials).catch(
      () => undefined,
    );
    if (answer === undefined || this.children.isStopping || this.loop.pollingStopped) return;
    const now: Standing = answer.members.find((m) => m.id === this.plan.id)?.role ?? 'unlisted';
    if (now !== this.standing) this.report(now);
  }

  private report(now: Standing): void {
    const { io } = this.deps;
    const { id } = this.plan;
    const before = this.standing;
    this.standing = now;
    if (now === 'unlisted') {
      io.out(`${id}: no longer a member (removed); it stops by itself\n`);
      return;
    }
    if (before === 'unlisted') io.out(`${id}: added to the cluster as a learner\n`);
    if (now === 'voter') io.out(`${id}: now a voter\n`);
    else if (this.req.learner) io.out(`${id}: stays a learner until: ${this.memberCommand('promote')}\n`);
    else io.out(`${id}: the leader promotes it to voter once it has caught up\n`);
  }

  private onExit({ code, signal }: ChildExit): void {
    this.loop.stopPolling();
    const how = signal ? `was killed by ${signal}` : `exited with code ${code ?? '?'}`;
    const again =
      code === 0 ? '' : `; to run it again by hand: ${this.children.rerunCommand(this.plan.argv)}`;
    this.deps.io.err(`${label}: ${this.plan.id} ${how}${again}\n`);
    this.finish(code === 0 ? exitCodes.ok : exitCodes.failed);
  }

  /** A signal has stopped the node: what to do about the member it still is. */
  private stopped(): void {
    const { id } = this.plan;
    const { io } = this.deps;
    if (this.standing === 'unlisted') {
      io.err(
        `${label}: ${id} stopped before the cluster listed it; if it was added, remove it with: ` +
          `${this.memberCommand('remove')}\n`,
      );
    } else {
      io.err(
        `${label}: ${id} stopped; it is still a member (a ${this.standing}). Restart it with: ` +
          `${this.restartCommand()}; or remove it with: ${this.memberCommand('remove')}\n`,
      );
    }
    this.finish(exitCodes.ok);
  }
}
