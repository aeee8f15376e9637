// Membership operations of one node (docs/membership.md): list, add, promote, remove, move the
// leader. Changes are proposed here if this node leads, else refused with the leader's address so
// the HTTP server forwards them, as writes are. The core enforces the rules (one change at a time,
// none before the leader commits in its term, joint consensus for a replace); this layer answers
// when the change is committed and decides when a learner is caught up enough to vote.

import {
  LearnerNotReadyError,
  MemberNotFoundError,
  NoLeaderError,
  NotLeaderError,
  TransferFailedError,
} from '../api/errors.js';
import type {
  AddMemberRequest,
  Consistency,
  LeaderResponse,
  Member,
  MembershipService,
  MembersResponse,
} from '../api/service.js';
import type { ClusterMembership, MemberChange, NodeId } from '../raft/index.js';
import { sleep } from './clock.js';
import { bestTransferTarget } from './disk-stall.js';
import type { Driver } from './driver.js';
import { learnerReadiness } from './learner-readiness.js';
import type { ResolvedNodeOptions } from './options.js';

/** The members: voters (while joint, those of the configuration entered), then learners. */
function membersOf(m: ClusterMembership): Member[] {
  const member = (id: NodeId, role: Member['role']): Member => ({ id, address: m.addresses[id] ?? '', role });
  return [...m.voters.map((id) => member(id, 'voter')), ...m.learners.map((id) => member(id, 'learner'))];
}

export class NodeMembership implements MembershipService {
  constructor(
    private readonly driver: Driver,
    private readonly options: ResolvedNodeOptions,
    private readonly clusterId: string,
    /** The KV service's: a linearizable read point (§6.4), and running a change on the leader. */
    private readonly kv: {
      readonly confirmRead: (deadline: number) => Promise<void>;
      readonly viaLeader: <T>(attempt: () => Promise<T> | 'not-leader', deadline: number) => Promise<T>;
    },
  ) {}

  async members(consistency: Consistency, deadline: number): Promise<MembersResponse> {
    if (consistency !== 'stale') await this.kv.confirmRead(deadline);
    return this.answer();
  }

  async addMember(req: AddMemberRequest, deadline: number): Promise<MembersResponse> {
    const change: MemberChange = {
      kind: 'addLearner',
      id: req.id,
      address: req.address,
      autoPromote: !req.learner,
    };
    await this.change([change], deadline);
    return this.answer();
  }

  async promoteMember(id: NodeId, deadline: number): Promise<MembersResponse> {
    const s = this.driver.raw.status();
    if (s.role === 'leader') {
      if (s.membership.voters.includes(id)) return this.answer();
      if (!s.membership.learners.includes(id)) throw new MemberNotFoundError(`no member is called "${id}"`);
      const readiness = learnerReadiness(s, id);
      if (readiness !== null && !readiness.ready) {
        throw new LearnerNotReadyError(`learner "${id}" is not caught up: ${readiness.reason}`, {
          behind: readiness.behind,
          reason: readiness.reason,
        });
      }
    }
    await this.change([{ kind: 'promote', id }], deadline);
    return this.answer();
  }

  async removeMember(id: NodeId, deadline: number): Promise<MembersResponse> {
    await this.change([{ kind: 'remove', id }], deadline);
    return this.answer();
  }

  async moveLeader(to: NodeId | null, deadline: number): Promise<LeaderResponse> {
    const s = this.driver.raw.status();
    if (s.role !== 'leader') throw this.notLeader();
    const target = to ?? bestTransferTarget(s);
    if (target === null)
      throw new TransferFailedError('no voter is caught up and reachable to take over', {
        reason: 'no_target',
      });
    const r = this.driver.transferLeadership(target);
    if (r.kind === 'rejected') {
      switch (r.reason) {
        case 'TargetIsSelf':
          return { leaderId: s.id, term: s.term };
        case 'UnknownTarget':
          throw new MemberNotFoundError(`no member is called "${target}"`);
        case 'TargetNotVoter':
          throw new TransferFailedError(`"${target}" is a learner; only a voter can lead`, {
            reason: 'learner',
          });
        default:
          throw new TransferFailedError(`leadership transfer to "${target}" refused: ${r.reason}`, {
            reason: r.reason,
          });
      }
    }
    // The transfer ends within an election timeout, or the old leader gives it up.
    const until = Math.min(deadline, this.driver.clock.now() + 2 * this.options.electionTimeoutMs);
    while (this.driver.clock.now() < until) {
      const now = this.driver.raw.status();
      if (now.leaderId === target && now.term > s.term) return { leaderId: target, term: now.term };
      await sleep(this.driver.clock, this.options.heartbeatIntervalMs);
    }
    throw new TransferFailedError(`"${target}" did not take over within an election timeout`, {
      reason: 'timeout',
    });
  }

  /** Proposes here if leading; NotLeaderError (forwarded by the server) or NoLeaderError otherwise. */
  private async change(changes: readonly MemberChange[], deadline: number): Promise<void> {
    await this.kv.viaLeader(() => this.driver.changeMembership(changes, deadline), deadline);
  }

  private notLeader(): NotLeaderError | NoLeaderError {
    const leader = this.driver.leaderAddress();
    return leader === null
      ? new NoLeaderError('no leader: an election is in progress or this node cannot reach a majority')
      : new NotLeaderError(leader);
  }

  /** The committed membership, as this node knows it. */
  private answer(): MembersResponse {
    const raw = this.driver.raw;
    const { committed } = raw.membership();
    const s = raw.status();
    const index = raw.membershipIndexAt(s.commitIndex);
    return { clusterId: this.clusterId, members: membersOf(committed), leaderId: s.leaderId, index };
  }
}
