// The voter set and, for each voter, its Progress and vote. The one place that knows who votes:
// membership changes (joint consensus, learners) will replace `voters` here and nowhere else.

import { committedIndex, hasQuorum, type VoteResult, voteResult } from '../quorum/majority.js';
import type { NodeId } from '../types.js';
import { Progress } from './progress.js';

export class ProgressTracker {
  voters: readonly NodeId[];
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    voters: readonly NodeId[],
    private readonly inflightMessagesMax: number,
    private readonly inflightBytesMax: number,
  ) {
    this.voters = [...voters];
  }

  isVoter(id: NodeId): boolean {
    return this.voters.includes(id);
  }

  setVoters(voters: readonly NodeId[]): void {
    this.voters = [...voters];
  }

  /** Fresh progress for every voter, as a new leader does (§3.5: next = last index + 1). */
  resetProgress(lastIndex: number): void {
    this.progress.clear();
    for (const id of this.voters) {
      this.progress.set(id, new Progress(lastIndex + 1, this.inflightMessagesMax, this.inflightBytesMax));
    }
  }

  get(id: NodeId): Progress | undefined {
    return this.progress.get(id);
  }

  /** The largest index replicated (durably) on a majority of voters. */
  committed(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.match ?? 0);
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
    return hasQuorum(this.voters, (id) => this.progress.get(id)?.recentActive ?? false);
  }

  readRoundConfirmed(round: number): boolean {
    return hasQuorum(this.voters, (id) => (this.progress.get(id)?.ackedReadRound ?? 0) >= round);
  }

  /** The highest heartbeat round a majority has answered. */
  confirmedReadRound(): number {
    return committedIndex(this.voters, (id) => this.progress.get(id)?.ackedReadRound ?? 0);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  recordVote(id: NodeId, answer: { readonly granted: boolean }): void {
    if (!this.votes.has(id)) this.votes.set(id, answer.granted);
  }

  tallyVotes(): VoteResult {
    return voteResult(this.voters, this.votes);
  }
}
