// Goal: the cluster's operator, who changes its membership (thesis chapter 4) while the nemesis
// breaks things: it adds a learner, promotes it, adds a voter, removes a voter, replaces one (one
// in, one out in one request: joint consensus, §4.3), removes the current leader, removes a
// learner. A node it adds is started first, as a brand-new process with empty storage; a node
// whose removal has committed is stopped for good a little later (as an operator decommissions
// it), never to be reused. The voters stay between 2 and 7 (between 1 and 7 with small removals:
// see drawOperation).
//
// It behaves as a real operator with a membership API would, one request at a time:
//  - a request goes to the node the operator believes leads (the live node that believes it
//    leads the highest term); a down or paused node's request times out;
//  - rejected (NotLeader, NotReadyForChange, ChangeInProgress, TransferInProgress): it retries
//    after a short backoff, against whoever leads then;
//  - accepted: it waits for the change to commit (and, for a joint change, for the joint
//    configuration to be left) — up to a deadline, the request's timeout;
//  - accepted but overwritten (another entry committed at its index): it retries;
//  - not committed by the deadline: the outcome is unknown. The operator then either asks again
//    for the same change or gives up on it and goes on with the next one. Either way it has at
//    most one request outstanding and believes at most one change in flight — but the cluster
//    may still hold the one it gave up on, uncommitted: it is the core's rules (one change at a
//    time, none before the leader's own-term commit) that must refuse the next one, and what the
//    mutations concurrentChanges and changeBeforeTermCommit break;
//  - refused (the membership no longer fits the request: e.g. a change it gave up on did
//    commit after all): it drops the request and goes on.
// Faults of its own: right after a joint change is accepted it sometimes schedules a crash of one
// of the voters (often the leader) within the joint phase. Its draws come from its own stream,
// so a seed's other faults do not move.
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

export const OP_KINDS: readonly OpKind[] = [
  'addLearner',
  'promote',
  'addVoter',
  'removeVoter',
  'removeLeader',
  'removeLearner',
  'replace',
];

export interface MembershipPlan {
  /** Ticks from the end of one operation to the start of the next (uniform). */
  readonly gap: readonly [number, number];
  /** Ticks an accepted change is awaited before the request times out. */
  readonly deadline: number;
  /** Ticks before retrying a rejected or timed-out request (uniform). */
  readonly backoff: readonly [number, number];
  /** After a timeout: probability of asking again for the same change (else going on). */
  readonly retrySame: number;
  /** Per joint change accepted: probability of crashing one of its voters within the joint phase. */
  readonly jointCrashRate: number;
  /** Ticks a node runs on after its removal committed, before it is stopped (uniform). */
  readonly retireDelay: readonly [number, number];
  readonly minVoters: number;
  readonly maxVoters: number;
  /** Also remove voters from configurations of one or two (see drawOperation). */
  readonly smallRemovals: boolean;
  /** Learners at most, at any time. */
  readonly maxLearners: number;
}

export function describeMembershipPlan(p: MembershipPlan | null): string {
  if (p === null) return 'membership=off';
  return (
    `membership=on (gap ${p.gap[0]}..${p.gap[1]}, deadline ${p.deadline}, retrySame ${p.retrySame}, ` +
    `jointCrash ${p.jointCrashRate}, retire after ${p.retireDelay[0]}..${p.retireDelay[1]}, voters ${p.minVoters}..${p.maxVoters}${p.smallRemovals ? ', small removals' : ''})`
  );
}

/** One operator request: the changes, made atomically, and the nodes it adds and removes. */
interface Operation {
  readonly kind: OpKind;
  readonly changes: readonly MemberChange[];
  readonly removes: readonly NodeId[];
}

type Phase =
  | { readonly name: 'idle'; readonly nextAt: number }
  | { readonly name: 'asking'; readonly op: Operation; readonly nextAt: number }
  | {
      readonly name: 'waiting';
      readonly op: Operation;
      readonly index: number;
      readonly term: number;
      readonly joint: boolean;
      readonly deadline: number;
    }
  | { readonly name: 'leaving'; readonly op: Operation; readonly after: number; readonly deadline: number };

export interface OperatorStats {
  /** Operations started (their first request sent or about to be). */
  changesRequested: number;
  changesAccepted: number;
  /** Accepted changes that committed (for a joint one: and its joint configuration was left). */
  changesCommitted: number;
  changesJoint: number;
  /** Requests refused or rejected by the core, by reason. */
  changeRejections: number;
  changesNotReady: number;
  changesInProgress: number;
  /** Accepted changes overwritten before they committed. */
  changesLost: number;
  /** Requests that timed out before their change committed. */
  changeTimeouts: number;
  nodesJoined: number;
  nodesRetired: number;
  leadersRemoved: number;
  jointCrashes: number;
}

export class Operator {
  readonly stats: OperatorStats = {
    changesRequested: 0,
    changesAccepted: 0,
    changesCommitted: 0,
    changesJoint: 0,
    changeRejections: 0,
    changesNotReady: 0,
    changesInProgress: 0,
    changesLost: 0,
    changeTimeouts: 0,
    nodesJoined: 0,
    nodesRetired: 0,
    leadersRemoved: 0,
    jointCrashes: 0,
  };
  private phase: Phase;
  private stopped = false;
  private nextId: number;
  /** Nodes whose removal committed, and when they are to be stopped. */
  private readonly retireAt = new Map<NodeId, number>();
  /** Crashes scheduled within a joint phase: node, tick, ticks down. */
  private crashes: { id: NodeId; at: number; down: number }[] = [];

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
    if (this.stopped) return;
    const p = this.phase;
    switch (p.name) {
      case 'idle':
        if (c.now >= p.nextAt) this.begin();
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

  /** Draws the next operation from the membership the leader has in force, and asks for it. */
  private begin(): void {
    const { c } = this;
    const leader = c.leader();
    if (leader === null) return;
    const m = c.status(leader)!.membership;
    // A joint configuration is left by the core on its own; nothing can be asked meanwhile.
    if (isJoint(m)) return;
    const op = this.drawOperation(m, leader);
    if (op === null) {
      this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.gap) };
      return;
    }
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
    const res = leader === null ? null : c.proposeMembership(leader, op.changes);
    if (res === null) {
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
          this.maybeCrashInJoint(leader!, res.membership);
        }
        if (op.removes.includes(leader!)) this.stats.leadersRemoved++;
        this.phase = {
          name: 'waiting',
          op,
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
        // it no longer applies as asked. Go on.
        this.stats.changeRejections++;
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
    if (c.now < p.deadline) return;
    // Timed out, outcome unknown: ask again, or give up and go on with the next change.
    this.stats.changeTimeouts++;
    if (this.tracer.on) this.tracer.event('member', `operator: ${p.op.kind} timed out`);
    const nextAt = c.now + this.draw(this.plan.backoff);
    this.phase = this.rng.chance(this.plan.retrySame)
      ? { name: 'asking', op: p.op, nextAt }
      : { name: 'idle', nextAt };
  }

  /** The change committed: removed nodes are stopped a little later. */
  private done(op: Operation): void {
    const { c } = this;
    this.stats.changesCommitted++;
    for (const id of op.removes) this.retireAt.set(id, c.now + this.draw(this.plan.retireDelay));
    this.phase = { name: 'idle', nextAt: c.now + this.draw(this.plan.gap) };
  }

  /** Within the joint phase just begun, crash one of its voters (often the leader) at some point. */
  private maybeCrashInJoint(leader: NodeId, m: Membership): void {
    const { rng } = this;
    if (!rng.chance(this.plan.jointCrashRate)) return;
    const voters = allVoters(m);
    const id = rng.chance(0.4) ? leader : rng.pick(voters);
    const et = this.c.config.electionTimeoutTicks;
    this.crashes.push({ id, at: this.c.now + rng.int(0, 2 * et), down: rng.int(1, 5 * et) });
  }

  /**
   * An operation that fits membership `m` (not joint), or null: the voters stay within
   * [minVoters, maxVoters], there are at most maxLearners learners, and each kind is weighted
   * toward the middle of the range (adds when few voters, removes when many).
   */
  private drawOperation(m: Membership, leader: NodeId): Operation | null {
    const { plan, rng } = this;
    const voters = m.voters;
    const learners = m.learners;
    const n = voters.length;
    const canAdd = n < plan.maxVoters;
    const canRemove = n > plan.minVoters;
    const grow = n <= 3 ? 3 : n >= 6 ? 1 : 2;
    const shrink = n >= 6 ? 3 : n <= 2 ? 1 : 2;
    const others = voters.filter((id) => id !== leader);
    // Removing a voter from one or two (alone, or by leaving a joint configuration) can leave the
    // cluster with no leader for ever: a removed voter whose log holds its removal, uncommitted,
    // never campaigns again (the latest configuration in its log is in force, §4.1), while the
    // remaining voter, on the old configuration, needs its vote and — its log behind — never
    // gets it. A liveness gap of the core; off unless the plan asks for it.
    const removable = n >= 3 || plan.smallRemovals;
    const weights: [OpKind, number][] = [
      ['addLearner', learners.length < plan.maxLearners ? 2 : 0],
      ['promote', learners.length > 0 && canAdd ? 3 : 0],
      ['addVoter', canAdd ? grow : 0],
      ['removeVoter', canRemove && removable && others.length > 0 ? shrink : 0],
      ['removeLeader', canRemove && removable && voters.includes(leader) ? 1 : 0],
      ['removeLearner', learners.length > 0 ? 1 : 0],
      ['replace', removable ? 2 : 0],
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
    switch (kind) {
      case 'addLearner': {
        const id = this.join();
        return { kind, changes: [{ kind: 'addLearner', id, address: address(id) }], removes: [] };
      }
      case 'promote':
        return { kind, changes: [{ kind: 'promote', id: rng.pick(learners) }], removes: [] };
      case 'addVoter': {
        const id = this.join();
        return { kind, changes: [{ kind: 'addVoter', id, address: address(id) }], removes: [] };
      }
      case 'removeVoter': {
        const id = rng.pick(others);
        return { kind, changes: [{ kind: 'remove', id }], removes: [id] };
      }
      case 'removeLeader':
        return { kind, changes: [{ kind: 'remove', id: leader }], removes: [leader] };
      case 'removeLearner': {
        const id = rng.pick(learners);
        return { kind, changes: [{ kind: 'remove', id }], removes: [id] };
      }
      case 'replace': {
        // One in, one out, atomically: the out is sometimes the leader itself.
        const outLeader = rng.chance(0.3) && voters.includes(leader);
        const out = outLeader || others.length === 0 ? leader : rng.pick(others);
        const id = this.join();
        return {
          kind,
          changes: [
            { kind: 'addVoter', id, address: address(id) },
            { kind: 'remove', id: out },
          ],
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
   * any appended after it, in any node's log (a node's own log excepted: a removed node that
   * never heard of its removal still names itself).
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
