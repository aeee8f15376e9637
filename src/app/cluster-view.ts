// The dashboard's view of the cluster (docs/dashboard.md), through the node that serves the page,
// so that the page talks to one origin. GET /ui/state: that node asks every member for its
// GET /debug with the tail of its log and answers with all of them at once — a member that does
// not answer shows as unreachable instead of stalling the page. /ui/nodes/{id}/faults: it passes
// a fault button's POST or DELETE on to that member's /admin/faults and relays the answer.
// /ui/nodes/{id}/process: it asks the supervisor that runs it (`raftkv cluster`, whose control
// API it knows from its environment) to kill or restart that member, and relays the answer.
// /ui/exercises: the seed's exercises run from the page — in the supervisor when there is one (it
// survives the nodes an exercise kills or stops, this one included), else here, on this node
// (exercise-runs.ts); GET /ui/exercises/{run} shows one as far as it has got.
// The caller's Authorization goes with each question (each member checks it itself, as for a
// forwarded write); the transport is the node's own calls' (scheme, CA, client certificate), over
// one kept-alive client per member and one for the supervisor, closed when the node stops.
// Nothing runs while no one asks: everything is done per request (or per exercise run).

import { NotFoundError, NotSupervisedError, SupervisorUnreachableError } from '../api/errors.js';
import type { FaultsPatch } from '../api/faults.js';
import type { KvService, Member, MembersResponse } from '../api/service.js';
import type { NodeAction } from '../api/supervisor.js';
import { type Answer, RaftkvClient, type RawRequest } from '../client/index.js';
import { connect, type ExerciseTarget, exerciseNumbered } from '../exercise/index.js';
import type { NodeOptions } from '../node/options.js';
import { ExerciseRuns } from './exercise-runs.js';
import { ownCallClient, ownCallScheme } from './own-calls.js';

/** Entries of each member's log the dashboard shows. */
export const viewLogTail = 24;
/** A member that has not answered in this long is shown as unreachable. */
const memberTimeoutMs = 800;
/** A fault request that has not been answered in this long fails. */
const faultsTimeoutMs = 5000;
/**
 * The supervisor answers a restart once the node has stopped (gracefully: within its drain time,
 * else SIGKILL after the supervisor's grace period) and started again.
 */
const processTimeoutMs = 15_000;
/**
 * Starting an exercise asks every node who it is and checks what the exercise needs (each bounded
 * by 5 s) before it answers; a GET of a run is answered at once.
 */
const exerciseTimeoutMs = 20_000;

export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly role: Member['role'];
  /** It answered GET /debug (whatever it said). */
  readonly reachable: boolean;
  /** Why there is no status: no answer, or the answer's error. */
  readonly error: string | null;
  /** Its GET /debug?logTail=…, or null. */
  readonly status: unknown;
}

export interface ClusterState {
  readonly servedBy: string;
  /** Wall-clock milliseconds when the view was put together (for the page's timeline). */
  readonly at: number;
  /** The leader as the serving node knows it, and the membership's configuration index. */
  readonly leaderId: string | null;
  readonly membershipIndex: number;
  /** The serving node runs under a supervisor: the page may offer kill and restart. */
  readonly supervised: boolean;
  readonly members: readonly MemberView[];
}

/** An answer relayed to the page as it came: its status, and its body (or its text, as an error). */
export interface Relayed {
  readonly status: number;
  readonly body: unknown;
}

export class ClusterView {
  /** The exercises this node runs itself (no supervisor), made on the first. */
  private runs: ExerciseRuns | null = null;
  /** A kept-alive client per member address, made on the first question to it. */
  private readonly clients = new Map<string, RaftkvClient>();
  /** The supervisor's control API, with its token; made on the first request to it. */
  private supervisorClient: RaftkvClient | null = null;

  constructor(
    private readonly service: KvService,
    private readonly options: NodeOptions,
    private readonly now: () => number,
  ) {}

  /** `self`: this node's GET /debug answer (the server adds its own counters to the service's). */
  async state(authorization: string | undefined, self: (logTail: number) => unknown): Promise<ClusterState> {
    const m = await this.members();
    const members = await Promise.all(
      m.members.map((member) =>
        member.id === this.service.nodeId
          ? { ...member, reachable: true, error: null, status: self(viewLogTail) }
          : this.askMember(member, authorization),
      ),
    );
    return {
      servedBy: this.service.nodeId,
      at: Date.now(),
      leaderId: m.leaderId,
      membershipIndex: m.index,
      supervised: this.options.supervisor !== undefined,
      members,
    };
  }

  /** Member `id`'s POST (patch) or DELETE (null) /admin/faults, answered as it answered. */
  async faults(id: string, patch: FaultsPatch | null, authorization: string | undefined): Promise<Relayed> {
    const member = (await this.members()).members.find((x) => x.id === id);
    if (member === undefined) throw new NotFoundError(`no member is called "${id}"`);
    const req: RawRequest =
      patch === null
        ? { method: 'DELETE', path: '/admin/faults' }
        : { method: 'POST', path: '/admin/faults', body: patch };
    return relayed(await this.ask(member, req, authorization, faultsTimeoutMs));
  }

  /** The supervisor's answer to `action` on node `id` (its 404 not_supervised for an id it does not run). */
  async process(id: string, action: NodeAction): Promise<Relayed> {
    if (this.options.supervisor === undefined) {
      throw new NotSupervisedError(
        'this node runs without a supervisor: only the nodes of `raftkv cluster` can be killed and restarted from here',
      );
    }
    return this.toSupervisor(
      { method: 'POST', path: `/nodes/${encodeURIComponent(id)}/${action}` },
      processTimeoutMs,
    );
  }

  /**
   * Starts exercise `n`: in the supervisor when there is one (its answer relayed), else here —
   * exercise 4, which stops every node, only there. 202 with the run as it has begun.
   */
  async startExercise(n: number, authorization: string | undefined): Promise<Relayed> {
    if (this.options.supervisor !== undefined) {
      return this.toSupervisor(
        { method: 'POST', path: '/exercises', body: { exercise: n } },
        exerciseTimeoutMs,
      );
    }
    if (n === 4) {
      throw new NotSupervisedError(
        `exercise 4 (${exerciseNumbered(4)?.title}) stops every node and starts them again, which only the ` +
          'supervisor of `raftkv cluster` can do, and this node runs without one. Start a supervised cluster ' +
          'and open its page: raftkv cluster --enable-faults',
      );
    }
    const view = await this.localRuns().start(n, () => this.localTarget(authorization));
    return { status: 202, body: view };
  }

  /** Run `run` as far as it has got: the supervisor's when there is one, else this node's. */
  async exercise(run: string): Promise<Relayed> {
    if (this.options.supervisor !== undefined) {
      return this.toSupervisor(
        { method: 'GET', path: `/exercises/${encodeURIComponent(run)}` },
        exerciseTimeoutMs,
      );
    }
    const view = this.localRuns().get(run);
    if (view === undefined) {
      throw new NotFoundError(`no exercise run "${run}" on this node (it keeps the last few it ran)`);
    }
    return { status: 200, body: view };
  }

  /** Closes the connections to the members and the supervisor (the node is stopping). */
  close(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    this.supervisorClient?.close();
    this.supervisorClient = null;
  }

  /**
   * The members as this node knows them (stale: it answers while no leader is known). The client
   * of a member no longer in the configuration is closed.
   */
  private async members(): Promise<MembersResponse> {
    const m = await this.service.members('stale', this.now() + memberTimeoutMs);
    for (const [address, client] of this.clients) {
      if (m.members.some((x) => x.address === address)) continue;
      client.close();
      this.clients.delete(address);
    }
    return m;
  }

  private localRuns(): ExerciseRuns {
    this.runs ??= new ExerciseRuns({ runsIn: `node ${this.service.nodeId}` });
    return this.runs;
  }

  /**
   * The voters, reached as this node reaches the other members, with the caller's Authorization
   * (as the fault buttons are): the exercise can do no more than its caller may.
   */
  private async localTarget(authorization: string | undefined): Promise<ExerciseTarget> {
    const m = await this.members();
    const tls = this.options.ownCalls?.tls;
    return connect({
      endpoints: m.members
        .filter((x) => x.role === 'voter')
        .map((x) => `${ownCallScheme(this.options)}://${x.address}`),
      client: {
        ...(tls !== undefined && { tls }),
        ...(authorization !== undefined && { headers: { authorization } }),
      },
      supervisor: {
        handle: null,
        note: `node ${this.service.nodeId} runs it and has none — raftkv cluster runs its nodes under one`,
      },
    });
  }

  /** A request to the supervisor's control API, with its token; its answer as it came. */
  private async toSupervisor(req: RawRequest, timeoutMs: number): Promise<Relayed> {
    const supervisor = this.options.supervisor!;
    this.supervisorClient ??= new RaftkvClient(supervisor.url, { token: supervisor.token });
    try {
      return relayed(await this.supervisorClient.send(req, { timeoutMs }));
    } catch (e) {
      throw new SupervisorUnreachableError(
        `the supervisor at ${supervisor.url} did not answer: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }

  /**
   * `req` to `member`, with the caller's Authorization rather than the node's own token: each
   * member checks it itself, so the page can do no more than its caller may.
   */
  private ask(
    member: Member,
    req: RawRequest,
    authorization: string | undefined,
    timeoutMs: number,
  ): Promise<Answer> {
    let client = this.clients.get(member.address);
    if (client === undefined) {
      // Each call sets its own bound.
      client = ownCallClient(this.options, member.address, { keepAlive: true, ownToken: false });
      this.clients.set(member.address, client);
    }
    return client.send(
      { ...req, ...(authorization !== undefined && { headers: { authorization } }) },
      { timeoutMs },
    );
  }

  private async askMember(member: Member, authorization: string | undefined): Promise<MemberView> {
    try {
      const a = await this.ask(
        member,
        { method: 'GET', path: `/debug?logTail=${viewLogTail}` },
        authorization,
        memberTimeoutMs,
      );
      if (a.status === 200) return { ...member, reachable: true, error: null, status: a.body ?? null };
      const body = a.body as { error?: unknown } | undefined;
      const why = typeof body?.error === 'string' ? body.error : a.text.slice(0, 200);
      return { ...member, reachable: true, error: `HTTP ${a.status}: ${why}`, status: null };
    } catch (e) {
      return { ...member, reachable: false, error: e instanceof Error ? e.message : String(e), status: null };
    }
  }
}

/** An answer as the page gets it: its body, or its text as the error when the body is not JSON. */
function relayed(a: Answer): Relayed {
  return { status: a.status, body: a.body ?? { error: a.text } };
}
