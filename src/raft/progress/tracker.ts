// Who votes, who only learns, and — on a leader — each member's Progress and vote. The one place
// that applies the membership to decisions: commitment, elections, CheckQuorum and ReadIndex
// rounds all count voters through the joint quorum (quorum/joint.ts), which is a plain majority
// outside a configuration change. Learners have a Progress (the leader replicates to them) but
// are never counted.

import type { Mutations } from '../config.js';
import type { Membership } from '../membership.js';
import { allMembers, allVoters, isVoter } from '../membership.js';
import { jointCommittedIndex, jointHasQuorum, jointVoteResult, type VoterSets } from '../quorum/joint.js';
import type { VoteResult } from '../quorum/majority.js';
import type { NodeId } from '../types.js';
import { Progress } from './progress.js';

export class ProgressTracker {
  private config: Membership;
  private sets: VoterSets;
  /** The one voter that is a quorum by itself (every set is just it), if any: asked on every read. */
  private soleVoter: NodeId | null = null;
  private voterIds: readonly NodeId[];
  private memberIds: readonly NodeId[];
  /**
   * Leader only: members the latest configuration removed, still sent the log until that
   * configuration commits, so each can learn it was removed (then takeDeparted forgets them).
   */
  private readonly departing = new Set<NodeId>();
  private replicateTo: readonly NodeId[];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    membership: Membership,
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
    private readonly mutations: Mutations = {},
  ) {
    this.config = membership;
    this.sets = this.voterSets(membership);
    this.soleVoter = soleVoterOf(this.sets);
    this.voterIds = this.countedVoters(membership);
    this.memberIds = allMembers(membership);
    this.replicateTo = this.memberIds;
  }

  /** The sets decisions count (the mutations break the rules on purpose, for the tests). */
  private voterSets(m: Membership): VoterSets {
    const incoming = this.mutations.learnersVote ? [...m.voters, ...m.learners] : m.voters;
    return { incoming, outgoing: this.mutations.jointCountsIncomingOnly ? [] : m.outgoingVoters };
  }

  private countedVoters(m: Membership): readonly NodeId[] {
    return this.mutations.learnersVote ? [...allVoters(m), ...m.learners] : allVoters(m);
  }

  /** The membership decisions follow now. */
  get membership(): Membership {
    return this.config;
  }

  /** Voters of either set (while joint), each once: who is asked for votes. */
  get voters(): readonly NodeId[] {
    return this.voterIds;
  }

  /** Voters and learners: who is in the cluster. */
  get members(): readonly NodeId[] {
    return this.memberIds;
  }

  /** Who a leader sends the log: the members, and those removed by a change not yet committed. */
  get recipients(): readonly NodeId[] {
    return this.replicateTo;
  }

  /** Whether members removed by the latest configuration are still being sent the log. */
  hasDeparting(): boolean {
    return this.departing.size > 0;
  }

  /**
   * The departing members that hold the log up to `index` (the configuration that removed them):
   * no longer tracked from now on.
   */
  takeDepartedThrough(index: number): NodeId[] {
    const out = [...this.departing].filter((id) => (this.progress.get(id)?.match ?? 0) >= index);
    if (out.length === 0) return out;
    for (const id of out) {
      this.progress.delete(id);
      this.departing.delete(id);
    }
    this.replicateTo = [...this.memberIds, ...this.departing];
    return out;
  }

  isVoter(id: NodeId): boolean {
    return isVoter(this.config, id) || (this.mutations.learnersVote === true && this.isLearner(id));
  }

  isLearner(id: NodeId): boolean {
    return this.config.learners.includes(id);
  }

  /**
   * The log's membership changed (an entry appended or cut off, a snapshot installed). A leader
   * keeps the Progress of members that stay, and starts new members probing after its last index.
   */
  setMembership(membership: Membership, lastIndex: number): void {
    this.config = membership;
    this.sets = this.voterSets(membership);
    this.soleVoter = soleVoterOf(this.sets);
    this.voterIds = this.countedVoters(membership);
    this.memberIds = allMembers(membership);
    for (const id of [...this.votes.keys()]) if (!this.voterIds.includes(id)) this.votes.delete(id);
    if (this.progress.size === 0) {
      this.replicateTo = this.memberIds;
      return;
    }
    for (const id of this.progress.keys()) if (!this.memberIds.includes(id)) this.departing.add(id);
    for (const id of this.memberIds) {
      this.departing.delete(id);
      if (!this.progress.has(id)) this.progress.set(id, this.newProgress(lastIndex));
    }
    this.replicateTo = [...this.memberIds, ...this.departing];
  }

  /** Fresh progress for every member, as a new leader does (§3.5: next = last index + 1). */
  resetProgress(lastIndex: number): void {
    this.progress.clear();
    this.departing.clear();
    this.replicateTo = this.memberIds;
    for (const id of this.memberIds) this.progress.set(id, this.newProgress(lastIndex));
  }

  private newProgress(lastIndex: number): Progress {
    return new Progress(lastIndex + 1, this.inflightMessagesMax, this.inflightBytesMax);
  }

  get(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  // Made once: committed() runs on every acknowledgement the leader receives.
  private readonly matchOf = (id: NodeId): number => this.progress.get(id)?.match ?? 0;
  private readonly ackedReadRoundOf = (id: NodeId): number => this.progress.get(id)?.ackedReadRound ?? 0;

  /** The largest index replicated (durably) on a majority of each voter set. */
  committed(): number {
    return jointCommittedIndex(this.sets, this.matchOf);
  }

  /** `id` alone is a quorum (it is the only voter). */
  isQuorumAlone(id: NodeId): boolean {
    return this.soleVoter === id;
  }

  /** Every follower counts as heard from: a new leader gives each a full round (§6.2). */
  markAllActive(): void {
    for (const progress of this.progress.values()) progress.markActive();
  }

  /** A new CheckQuorum round: only the leader itself counts as heard from until others answer. */
  beginActivityRound(self: NodeId): void {
    for (const [id, progress] of this.progress) {
      if (id === self) progress.markActive();
      else progress.clearActive();
    }
  }

  quorumActive(): boolean {
    return jointHasQuorum(this.sets, (id) => this.progress.get(id)?.recentActive ?? false);
  }

  readRoundConfirmed(round: number): boolean {
    return jointHasQuorum(this.sets, (id) => (this.progress.get(id)?.ackedReadRound ?? 0) >= round);
  }

  /** The highest heartbeat round a majority of each voter set has answered. */
  confirmedReadRound(): number {
    return jointCommittedIndex(this.sets, this.ackedReadRoundOf);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** A vote from `id`; learners and strangers have none (§4.3: only voters count). */
  recordVote(id: NodeId, answer: { readonly granted: boolean }): void {
    if (!this.isVoter(id)) return;
    if (!this.votes.has(id)) this.votes.set(id, answer.granted);
  }

  tallyVotes(): VoteResult {
    return jointVoteResult(this.sets, this.votes);
  }
}

function soleVoterOf({ incoming, outgoing }: VoterSets): NodeId | null {
  const only = incoming.length === 1 ? (incoming[0] as NodeId) : null;
  if (only === null || outgoing.length === 0) return only;
  return outgoing.length === 1 && outgoing[0] === only ? only : null;
}
