// Goal: the cluster's operator, who changes its membership (thesis chapter 4) while the nemesis
// breaks things: it adds a learner, promotes it, adds a voter, removes a voter, replaces one (one
// in, one out in one request: joint consensus, §4.3), removes the current leader, removes a
// learner. A node it adds is started first, as a brand-new process with empty storage; a node
// whose removal has committed is stopped for good a little later (as an operator decommissions
// it), never to be reused. The voters stay between 3 and 7 (1 and 7 with small removals: see
// drawOperation); removals go most often to members that are down or that the leader reports
// unreachable, as an operator replaces failed machines.
//
// It behaves as a real operator with a membership API would, one request at a time:
//  - a request goes to the node the operator believes leads (the live node that believes it
//    leads the highest term); a down or paused node's request times out;
//  - rejected (NotLeader, NotReadyForChange, ChangeInProgress, TransferInProgress): it retries
//    after a short backoff, against whoever leads then;
//  - accepted: it waits for the change to commit (and, for a joint change, for the joint
//    configuration to be left) — up to a deadline, the request's timeout;
//  - accepted but overwritten (another entry committed at its index): it retries;
//  - not committed by the deadline, or a leader of a later term appeared meanwhile (the request
//    fails with "leader changed", as etcd's does): the outcome is unknown. The operator then
//    either asks again for the same change or gives up on it and goes on with the next one —
//    at once, against the new leader. Either way it has at most one request outstanding and
//    believes at most one change in flight; but the cluster may still hold the change it gave
//    up on, uncommitted, and it is the core's rules — one change at a time, none before the
//    leader has committed an entry of its term — that must refuse the next one (the mutations
//    concurrentChanges and changeBeforeTermCommit break them);
//  - refused (the membership no longer fits the request: e.g. a change it gave up on did
//    commit after all): it drops the request and goes on.
// Faults of its own, drawn from its own stream (a seed's other faults do not move):
//  - a crash within a joint phase: right after a joint change is accepted, sometimes one of its
//    voters (often the leader) crashes at some point of the phase;
//  - a leader cut off right after it accepted a one-step change: isolated from its peers (the
//    entry goes nowhere) for long enough that the others elect a new leader, and the operator,
//    its request failed by the leader change, asks that new leader at once to remove the one
//    it can no longer reach. The two changes come from different terms and were each decided
//    from the same committed configuration: with an even number of voters their majorities
//    need not meet, which only the own-term-commit rule makes harmless (§4.2, the single-server
//    bug of 2015). Random timing reaches that moment only rarely.
// Once faults stop, the operator stops asking; every node that is a member of no configuration
// that can still be in force — not of the latest committed one, nor of any appended after it —
// is stopped, so the cluster's liveness is judged on its members.

import {
  allMembers,
  allVoters,
  isJoint,
  type MemberChange,
  type Membership,
  type NodeId,
} from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import type { SimCluster } from './cluster.js';
import type { Nemesis } from './nemesis.js';
import type { Tracer } from './trace.js';

export type OpKind =
  | 'addLearner'
  | 'promote'
  | 'addVoter'
  | 'removeVoter'
  | 'removeLeader'
  | 'removeLearner'
  | 'replace';

export interface MembershipPlan {
  /** Ticks from the end of one operation to the start of the next (uniform). */
  readonly gap: readonly [number, number];
  /** Ticks an accepted change is awaited before the request times out. */
  readonly deadline: number;
  /** Ticks before retrying a rejected or timed-out request (uniform). */
  readonly backoff: readonly [number, number];
  /** After a timeout or a leader change: probability of asking again for the same change (else going on). */
  readonly retrySame: number;
  /** Per joint change accepted: probability of crashing one of its voters within the joint phase. */
  readonly jointCrashRate: number;
  /** Per one-step change accepted: probability that its leader is cut off right there (see the top). */
  readonly cutRate: number;
  /** How long such a cut lasts (uniform). */
  readonly cutTicks: readonly [number, number];
  /** Ticks a node runs on after its removal committed, before it is stopped (uniform). */
  readonly retireDelay: readonly [number, number];
  readonly maxVoters: number;
  /** Learners at most, at any time. */
  readonly maxLearners: number;
  /** Also remove voters from configurations of three or fewer (see drawOperation). */
  readonly smallRemovals: boolean;
}

export function describeMembershipPlan(p: MembershipPlan): string {
  return (
    `membership=on (gap ${p.gap[0]}..${p.gap[1]}, deadline ${p.deadline}, retrySame ${p.retrySame}, ` +
    `jointCrash ${p.jointCrashRate}, cut ${p.cutRate} for ${p.cutTicks[0]}..${p.cutTicks[1]}, ` +
    `retire after ${p.retireDelay[0]}..${p.retireDelay[1]}, voters ${p.smallRemovals ? 1 : 3}..${p.maxVoters}` +
    `${p.smallRemovals ? ' with small removals' : ''})`
  );
}

/** One operator request: the changes, made atomically, the node it started for it, the nodes it removes. */
interface Operation {
  readonly kind: OpKind;
  readonly changes: readonly MemberChange[];
  readonly joins: NodeId | null;
  readonly removes: readonly NodeId[];
}

type Phase =
  | { readonly name: 'idle'; readonly nextAt: number }
  | { readonly name: 'asking'; readonly op: Operation; readonly nextAt: number }
  | {
      readonly name: 'waiting';
      readonly op: Operation;
      readonly leader: NodeId;
      readonly index: number;
      readonly term: number;
      readonly joint: boolean;
      readonly deadline: number;
    }
  | { readonly name: 'leaving'; readonly op: Operation; readonly after: number; readonly deadline: number };

export interface OperatorStats {
  /** Operations started. */
  changesRequested: number;
  changesAccepted: number;
  /** Accepted changes that committed (for a joint one: and its joint configuration was left). */
  changesCommitted: number;
  changesJoint: number;
  /** Requests rejected or refused by the core; of them, for the two rules of one change at a time. */
  changeRejections: number;
  changesNotReady: number;
  changesInProgress: number;
  /** Accepted changes overwritten before they committed. */
  changesLost: number;
  /** Requests that timed out, or failed on a leader change, before their change committed. */
  changeTimeouts: number;
  leaderChanges: number;
  nodesJoined: number;
  nodesRetired: number;
  /** Accepted changes that removed the leader that accepted them. */
  leadersRemoved: number;
  jointCrashes: number;
  /** Leaders cut off right after accepting a change; removals asked of their successors. */
  changeCuts: number;
  cutLeadersRemoved: number;
}

export function emptyOperatorStats(): OperatorStats {
  return {
    changesRequested: 0,
    changesAccepted: 0,
    changesCommitted: 0,
    changesJoint: 0,
    changeRejections: 0,
    changesNotReady: 0,
    changesInProgress: 0,
    changesLost: 0,
    changeTimeouts: 0,
    leaderChanges: 0,
    nodesJoined: 0,
    nodesRetired: 0,
    leadersRemoved: 0,
    jointCrashes: 0,
    changeCuts: 0,
    cutLeadersRemoved: 0,
  };
}

export class Operator {
  readonly stats = emptyOperatorStats();
  private phase: Phase;
  private stopped = false;
  private nextId: number;
  /** Nodes whose removal committed, and when they are to be stopped. */
  private readonly retireAt = new Map<NodeId, number>();
  /** Crashes scheduled within a joint phase: node, tick, ticks down. */
  private crashes: { id: NodeId; at: number; down: number }[] = [];
  /** A leader cut off right after accepting a change, until the cut heals. */
  private cut: { readonly id: NodeId; readonly until: number } | null = null;
  /** Accepted changes the operator gave up on: if one commits after all, its removed nodes go. */
  private abandoned: {
    readonly index: number;
    readonly term: number;
    readonly removes: readonly NodeId[];
  }[] = [];

  constructor(
    private readonly c: SimCluster,
    private readonly plan: MembershipPlan,
    private readonly rng: Prng,
    private readonly nemesis: Nemesis,
    private readonly tracer: Tracer,
  ) {
    this.nextId = c.ids.length + 1;
    this.phase = { name: 'idle', nextAt: this.draw(plan.gap) };
  }

  /** Runs at the start of every tick of the fault phase. */
  step(): void {
    const { c } = this;
    for (const [id, at] of this.retireAt) {
      if (at > c.now) continue;
      this.retireAt.delete(id);
      if (this.retirable(id)) this.retire(id);
    }
    if (this.crashes.length > 0) {
      const due = this.crashes.filter((x) => x.at <= c.now);
      this.crashes = this.crashes.filter((x) => x.at > c.now);
      for (const x of due) {
        if (!c.isUp(x.id)) continue;
        this.stats.jointCrashes++;
        if (this.tracer.on) this.tracer.event('member', `operator crashes ${x.id} within the joint phase`);
        this.nemesis.crashFor(x.id, x.down);
      }
    }
    if (this.cut !== null && this.cut.until <= c.now) this.cut = null;
    if (this.abandoned.length > 0) {
      this.abandoned = this.abandoned.filter((a) => {
        const e = c.checker.appliedAt(a.index);
        if (e === undefined) return true;
        if (e.term === a.term) for (const id of a.removes) this.scheduleRetire(id);
        return false;
      });
    }
    if (this.stopped) return;
    const p = this.phase;
    switch (p.name) {
      case 'idle':
        if (c.now >= p.nextAt) this.begin(null);
        return;
      case 'asking':
        if (c.now >= p.nextAt) this.ask(p.op);
        return;
      case 'waiting':
        this.await(p);
        return;
      case 'leaving': {
        const latest = c.checker.latestCommittedMembership();
        if ((latest.index > p.after && !isJoint(latest.membership)) || c.now >= p.deadline) this.done(p.op);
        return;
      }
    }
  }

  /**
   * Faults stop: no more requests. Every node that no configuration which can still be in force
   * names — the latest committed one, or one appended after it in any node's log — is stopped.
   */
  stop(): void {
    this.stopped = true;
    this.crashes = [];
    this.retireAt.clear();
    for (const id of this.c.activeIds()) if (this.retirable(id)) this.retire(id);
  }

  // --- Operations -------------------------------------------------------------------------------

  /**
   * Draws the next operation from the membership the leader has in force, and asks for it;
   * `unreachable`: the operator wants that voter (a cut-off leader) removed.
   */
  private begin(unreachable: NodeId | null): void {
    const { c } = this;
    const leader = c.leader();
    if (leader === null) {
      this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.backoff) };
      return;
    }
    const m = c.status(leader)!.membership;
    // A joint configuration is left by the core on its own; nothing can be asked meanwhile.
    if (isJoint(m)) {
      this.phase = { name: 'idle', nextAt: c.now + 1 };
      return;
    }
    const op = this.drawOperation(m, leader, unreachable);
    if (op === null) {
      this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.gap) };
      return;
    }
    if (unreachable !== null && op.removes.includes(unreachable)) this.stats.cutLeadersRemoved++;
    this.stats.changesRequested++;
    if (this.tracer.on) {
      this.tracer.event(
        'member',
        `operator: ${op.kind} (${op.changes.map((ch) => `${ch.kind} ${ch.id}`).join(', ')})`,
      );
    }
    this.ask(op);
  }

  private ask(op: Operation): void {
    const { c } = this;
    const leader = c.leader();
    const before = leader === null ? null : c.status(leader)!.membership;
    const res = leader === null ? null : c.proposeMembership(leader, op.changes);
    if (leader === null || before === null || res === null) {
      // No leader known, or it is down or paused: the request times out.
      this.phase = { name: 'asking', op, nextAt: c.now + this.draw(this.plan.backoff) };
      return;
    }
    switch (res.kind) {
      case 'accepted': {
        this.stats.changesAccepted++;
        const joint = isJoint(res.membership);
        if (joint) {
          this.stats.changesJoint++;
          this.maybeCrashInJoint(leader, res.membership);
        } else this.maybeCut(leader, before, res.membership);
        if (op.removes.includes(leader)) this.stats.leadersRemoved++;
        this.phase = {
          name: 'waiting',
          op,
          leader,
          index: res.index,
          term: res.term,
          joint,
          deadline: c.now + this.plan.deadline,
        };
        return;
      }
      case 'rejected':
        this.stats.changeRejections++;
        if (res.reason === 'NotReadyForChange') this.stats.changesNotReady++;
        if (res.reason === 'ChangeInProgress') this.stats.changesInProgress++;
        this.phase = { name: 'asking', op, nextAt: c.now + this.draw(this.plan.backoff) };
        return;
      case 'refused':
        // The membership moved under the request (a change given up on committed after all):
        // it no longer applies as asked. Go on; a node started for it that no configuration
        // names is stopped.
        this.stats.changeRejections++;
        if (op.joins !== null && this.retirable(op.joins)) this.retire(op.joins);
        this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.backoff) };
        return;
    }
  }

  private await(p: Extract<Phase, { name: 'waiting' }>): void {
    const { c } = this;
    const e = c.checker.appliedAt(p.index);
    if (e !== undefined && e.term === p.term) {
      if (p.joint) {
        this.phase = { name: 'leaving', op: p.op, after: p.index, deadline: c.now + this.plan.deadline };
      } else this.done(p.op);
      return;
    }
    if (e !== undefined) {
      // Overwritten: another entry committed at its index. Ask again.
      this.stats.changesLost++;
      this.phase = { name: 'asking', op: p.op, nextAt: c.now + this.draw(this.plan.backoff) };
      return;
    }
    const changed = c.leaderTerm() > p.term;
    // A leader cut off right after accepting: the operator waits for its successor.
    const cutOff = this.cut !== null && this.cut.id === p.leader;
    if ((c.now < p.deadline || cutOff) && !changed) return;
    // Timed out, or the leader changed: outcome unknown. Ask again, or give up and go on with
    // the next change; the leader cut off right after accepting it is to be removed.
    this.stats.changeTimeouts++;
    if (changed) this.stats.leaderChanges++;
    if (p.op.removes.length > 0) this.abandoned.push({ index: p.index, term: p.term, removes: p.op.removes });
    if (this.tracer.on) {
      this.tracer.event(
        'member',
        `operator: ${p.op.kind} ${changed ? 'failed: leader changed' : 'timed out'}`,
      );
    }
    if (changed && cutOff) {
      this.begin(p.leader);
      return;
    }
    const nextAt = c.now + this.draw(this.plan.backoff);
    this.phase = this.rng.chance(this.plan.retrySame)
      ? { name: 'asking', op: p.op, nextAt }
      : { name: 'idle', nextAt };
  }

  /** The change committed: removed nodes are stopped a little later. */
  private done(op: Operation): void {
    const { c } = this;
    this.stats.changesCommitted++;
    for (const id of op.removes) this.scheduleRetire(id);
    this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.gap) };
  }

  private scheduleRetire(id: NodeId): void {
    if (!this.retireAt.has(id)) this.retireAt.set(id, this.c.now + this.draw(this.plan.retireDelay));
  }

  /** Within the joint phase just begun, crash one of its voters (often the leader) at some point. */
  private maybeCrashInJoint(leader: NodeId, m: Membership): void {
    const { rng } = this;
    if (!rng.chance(this.plan.jointCrashRate)) return;
    const id = rng.chance(0.4) ? leader : rng.pick(allVoters(m));
    const et = this.c.config.electionTimeoutTicks;
    this.crashes.push({ id, at: this.c.now + rng.int(0, 2 * et), down: rng.int(1, 5 * et) });
  }

  /**
   * Right after a one-step change was accepted: sometimes cut its leader off (see the top) —
   * three times as often where the single-server bug can bite: the change alters the voters of
   * an even number of them (with an odd number, any two one-step changes of it have majorities
   * that meet).
   */
  private maybeCut(leader: NodeId, before: Membership, after: Membership): void {
    const { c, rng } = this;
    const aimed =
      before.voters.length % 2 === 0 &&
      (before.voters.length !== after.voters.length || before.voters.some((v) => !after.voters.includes(v)));
    const rate = Math.min(1, aimed ? 3 * this.plan.cutRate : this.plan.cutRate);
    if (!rng.chance(rate) || this.cut !== null) return;
    const ticks = this.draw(this.plan.cutTicks);
    this.cut = { id: leader, until: c.now + ticks };
    this.stats.changeCuts++;
    this.nemesis.isolateFor(leader, ticks, 'leader cut off after accepting a change');
  }

  /**
   * An operation that fits membership `m` (not joint), or null: the voters stay within
   * [3, maxVoters] (1 with small removals), there are at most maxLearners learners, and each kind
   * is weighted toward the middle of the range (adds when few voters, removes when many).
   * `unreachable`: remove that voter, if the membership allows it.
   */
  private drawOperation(m: Membership, leader: NodeId, unreachable: NodeId | null): Operation | null {
    const { c, plan, rng } = this;
    const voters = m.voters;
    const learners = m.learners;
    const n = voters.length;
    // Only with small removals (a quarter of the seeds) do the voters go below three: the case
    // that once showed a removed voter whose log held its removal, uncommitted, never campaigning
    // again while the last other voter waited for its vote (fixed: such a voter campaigns until
    // its removal commits, §4.2.2).
    const canRemove = plan.smallRemovals ? n > 1 : n > 3;
    const canReplace = plan.smallRemovals || n >= 3;
    const canAdd = n < plan.maxVoters;
    const others = voters.filter((id) => id !== leader);
    if (unreachable !== null && canRemove && others.includes(unreachable)) {
      return {
        kind: 'removeVoter',
        changes: [{ kind: 'remove', id: unreachable }],
        joins: null,
        removes: [unreachable],
      };
    }
    // The members the operator sees failing: down, or reported unreachable by the leader.
    const progress = c.status(leader)!.progress;
    const failing = (id: NodeId): boolean => !c.isUp(id) || progress?.[id]?.recentActive === false;
    const grow = n <= 4 ? 3 : n >= 6 ? 1 : 2;
    const shrink = n >= 6 ? 3 : 2;
    const weights: [OpKind, number][] = [
      ['addLearner', learners.length < plan.maxLearners ? 2 : 0],
      ['promote', learners.length > 0 && canAdd ? 3 : 0],
      ['addVoter', canAdd ? grow : 0],
      ['removeVoter', canRemove && others.length > 0 ? shrink : 0],
      ['removeLeader', canRemove && voters.includes(leader) ? 1 : 0],
      ['removeLearner', learners.length > 0 ? 1 : 0],
      ['replace', canReplace ? 2 : 0],
    ];
    const total = weights.reduce((sum, [, w]) => sum + w, 0);
    if (total === 0) return null;
    let x = rng.next() * total;
    let kind: OpKind = 'replace';
    for (const [k, w] of weights) {
      if (x < w) {
        kind = k;
        break;
      }
      x -= w;
    }
    /** A voter to remove: most often a failing one. */
    const pickOut = (from: readonly NodeId[]): NodeId => {
      const bad = from.filter(failing);
      return bad.length > 0 && rng.chance(0.8) ? rng.pick(bad) : rng.pick(from);
    };
    switch (kind) {
      case 'addLearner': {
        const id = this.join();
        return { kind, changes: [{ kind: 'addLearner', id, address: address(id) }], joins: id, removes: [] };
      }
      case 'promote':
        return { kind, changes: [{ kind: 'promote', id: rng.pick(learners) }], joins: null, removes: [] };
      case 'addVoter': {
        const id = this.join();
        return { kind, changes: [{ kind: 'addVoter', id, address: address(id) }], joins: id, removes: [] };
      }
      case 'removeVoter': {
        const id = pickOut(others);
        return { kind, changes: [{ kind: 'remove', id }], joins: null, removes: [id] };
      }
      case 'removeLeader':
        return { kind, changes: [{ kind: 'remove', id: leader }], joins: null, removes: [leader] };
      case 'removeLearner': {
        const id = rng.pick(learners);
        return { kind, changes: [{ kind: 'remove', id }], joins: null, removes: [id] };
      }
      case 'replace': {
        // One in, one out, atomically: the out is sometimes the leader itself.
        const outLeader = rng.chance(0.3) && voters.includes(leader);
        const out = outLeader || others.length === 0 ? leader : pickOut(others);
        const id = this.join();
        return {
          kind,
          changes: [
            { kind: 'addVoter', id, address: address(id) },
            { kind: 'remove', id: out },
          ],
          joins: id,
          removes: [out],
        };
      }
    }
  }

  /** Starts a brand-new node (empty storage) and returns its id. */
  private join(): NodeId {
    const id = `n${this.nextId++}`;
    this.c.addNode(id);
    this.stats.nodesJoined++;
    return id;
  }

  /**
   * No configuration that can still be in force names `id`: neither the latest committed one nor
   * any appended after it, in any other node's log (a removed node that never heard of its
   * removal still names itself).
   */
  private retirable(id: NodeId): boolean {
    const { c } = this;
    if (c.isRetired(id)) return false;
    const committed = c.checker.latestCommittedMembership();
    if (allMembers(committed.membership).includes(id)) return false;
    for (const other of c.activeIds()) {
      if (other === id) continue;
      const { membership, index } = c.membershipOf(other);
      if (index > committed.index && allMembers(membership).includes(id)) return false;
    }
    return true;
  }

  private retire(id: NodeId): void {
    this.stats.nodesRetired++;
    this.c.retire(id);
  }

  private draw(range: readonly [number, number]): number {
    return this.rng.int(range[0], range[1]);
  }
}

function address(id: NodeId): string {
  return `sim://${id}`;
}
