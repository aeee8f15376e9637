// The consensus state machine of one node: every input (a tick, a message, a proposal, a read,
// the driver's reports) enters here. Figure 3.1's term rules shared by every role (§3.3) and
// voting (§3.4, §3.6.1, §9.6) are here; the rest goes to the handler of the node's role in
// roles/. The state itself and its named changes are in raft-state.ts.

import { present } from '../assert.js';
import { type ReadMode, usesLease } from './config.js';
import { RaftState } from './raft-state.js';
import { campaign, onCandidateMessage, onVoteResponse, startPreVote } from './roles/candidate.js';
import { onFollowerMessage } from './roles/follower.js';
import {
  broadcastHeartbeat,
  flushProposals,
  onLeaderElectionTimeout,
  onLeaderMessage,
  onOwnEntriesPersisted,
  onPeerUnreachable,
  propose,
  proposeMembership,
  readIndexAtLeader,
  releaseUncommittedBytes,
  transferLeadership,
} from './roles/leader.js';
import type {
  Entry,
  MemberChange,
  MembershipChangeResult,
  Message,
  NodeId,
  PreVote,
  ProposeResult,
  RequestVote,
  TransferResult,
} from './types.js';

export class Raft extends RaftState {
  tick(): void {
    const expired = this.advanceTimers();
    if (this.role !== 'leader') {
      if (expired.election) this.startElection();
      return;
    }
    if (expired.election) onLeaderElectionTimeout(this);
    if (expired.heartbeat && this.role === 'leader') broadcastHeartbeat(this);
  }

  /** An election timeout (or an operator): a PreVote round first if configured (§9.6). */
  startElection(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // Entries committed but not applied might include a membership change; none exist yet.
    if (this.config.preVote) startPreVote(this);
    else campaign(this, { transfer: false });
  }

  /** §3.10: the leader handed over to us: campaign at once, no PreVote, past leader stickiness. */
  override campaignForTransfer(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    campaign(this, { transfer: true });
  }

  /** Figure 3.1's term rules for every message (§3.3), then the handler of its kind and our role. */
  step(m: Message): void {
    if (m.term < this.term) {
      this.onStaleTerm(m);
      return;
    }
    if (m.term > this.term && !this.onHigherTerm(m)) return;
    switch (m.type) {
      case 'RequestVote':
      case 'PreVote':
        this.onVoteRequest(m);
        return;
      case 'RequestVoteResponse':
      case 'PreVoteResponse':
        onVoteResponse(this, m);
        return;
      default:
        if (this.role === 'leader') onLeaderMessage(this, m);
        else if (this.role === 'follower') onFollowerMessage(this, m);
        else onCandidateMessage(this, m);
    }
  }

  /**
   * A message from a newer term: adopt the term as a follower (§3.3) — a leader's message names
   * the leader. Two exceptions: what announces no new term yet (a PreVote, a granted
   * PreVoteResponse: §9.6) changes nothing, and a vote request while we still hear from a leader
   * is ignored (§4.2.3). Returns false when the message is ignored.
   */
  private onHigherTerm(m: Message): boolean {
    if (m.type === 'RequestVote' || m.type === 'PreVote') {
      const transfer = m.type === 'RequestVote' && m.transfer;
      if (this.leaderStillHeard() && !transfer) {
        this.emit('debug', `ignored ${m.type}: current leader is alive`, { from: m.from, msgTerm: m.term });
        return false;
      }
    }
    if (m.type === 'PreVote' || (m.type === 'PreVoteResponse' && m.granted)) return true;
    const leader =
      m.type === 'AppendEntries' || m.type === 'Heartbeat' || m.type === 'InstallSnapshot' ? m.from : null;
    this.becomeFollower(m.term, leader, `saw term ${m.term} from ${m.from}`, {
      keepElectionTimer: m.type === 'RequestVote',
    });
    return true;
  }

  private onStaleTerm(m: Message): void {
    if (
      (this.config.checkQuorum || this.config.preVote) &&
      (m.type === 'AppendEntries' || m.type === 'Heartbeat')
    ) {
      // A leader cut off by a partition can be behind our term while we, with PreVote or
      // CheckQuorum, would never disturb it with a vote: tell it our term so it steps down.
      this.send({
        type: 'AppendEntriesResponse',
        to: m.from,
        success: false,
        matchIndex: 0,
        rejectedIndex: 0,
        hintIndex: 0,
        hintTerm: 0,
      });
    } else if (m.type === 'PreVote') {
      this.sendWithTerm({ type: 'PreVoteResponse', to: m.from, granted: false }, this.term);
    } else {
      this.emit('debug', `ignored ${m.type}: stale term`, { from: m.from, msgTerm: m.term });
    }
  }

  /** §3.4, §3.6.1, §9.6: grant at most one vote per term, only to an up-to-date log. */
  private onVoteRequest(m: RequestVote | PreVote): void {
    const isPre = m.type === 'PreVote';
    const canVote =
      this.votedFor === m.from ||
      (this.votedFor === null && this.leaderId === null) ||
      (isPre && m.term > this.term);
    const upToDate =
      this.config.mutations.skipLogUpToDateCheck || this.log.isUpToDate(m.lastLogIndex, m.lastLogTerm);
    const granted = canVote && upToDate;
    if (isPre) {
      // Answer with the term asked about when granting, so the pre-candidate counts the vote.
      this.sendWithTerm({ type: 'PreVoteResponse', to: m.from, granted }, granted ? m.term : this.term);
      return;
    }
    if (granted) this.grantVote(m.from);
    this.emit('debug', granted ? 'granted vote' : 'rejected vote', { to: m.from, canVote, upToDate });
    this.send({ type: 'RequestVoteResponse', to: m.from, granted });
  }

  // --- Inputs the driver reports through RawNode -----------------------------------------------

  /** A client's command for the log; only a leader accepts it (§3.5). */
  propose(data: Uint8Array): ProposeResult {
    return propose(this, data);
  }

  /** §3.10: hand leadership to `to` once it is caught up. */
  transferLeadership(to: NodeId): TransferResult {
    return transferLeadership(this, to);
  }

  /** Chapter 4: only a leader changes the membership, one change at a time. */
  proposeMembership(changes: readonly MemberChange[]): MembershipChangeResult {
    return proposeMembership(this, changes);
  }

  /**
   * §6.4: a linearizable read identified by `context`. The leader records its commit index and
   * confirms leadership; a follower relays the request to the leader it knows (step 1 on a
   * follower); with no leader known the read fails at once.
   */
  readIndex(context: string, mode?: ReadMode): void {
    const lease = usesLease(this.config, mode);
    if (this.role === 'leader') readIndexAtLeader(this, context, this.id, lease);
    else if (this.leaderId === null) this.failRead(context, 'NoLeader');
    else
      this.send({ type: lease ? 'LeaseReadIndexRequest' : 'ReadIndexRequest', to: this.leaderId, context });
  }

  /** A leader gives up at once, staying in its term as a follower (a stalled disk); false if not leader. */
  stepDown(why: string): boolean {
    if (this.role !== 'leader') return false;
    this.becomeFollower(this.term, null, why);
    return true;
  }

  /** The driver could not reach `id` (see RawNode.reportUnreachable). */
  onPeerUnreachable(id: NodeId): void {
    if (this.role === 'leader') onPeerUnreachable(this, id);
  }

  /** A snapshot from the leader is durable and the state machine restored from it. */
  onSnapshotPersisted(index: number): void {
    this.log.unstable.stableSnapTo(index);
    this.log.appliedTo(index);
  }

  /** Entries up to `last` are durable on this node. */
  onEntriesPersisted(last: Entry): void {
    this.log.unstable.stableTo(last.index, last.term);
    if (this.role === 'leader') onOwnEntriesPersisted(this, last);
  }

  /** The state machine applied `entries` (in order). */
  onApplied(entries: readonly Entry[]): void {
    this.log.appliedTo(present(entries.at(-1), 'the last applied entry').index);
    if (this.role === 'leader') releaseUncommittedBytes(this, entries);
  }

  // --- Output ---------------------------------------------------------------------------------

  /** A leader has reads that arrived since the last Ready and wait for a heartbeat round. */
  readRoundDue(): boolean {
    return this.role === 'leader' && this.reads.hasRoundPending();
  }

  /**
   * Before a Ready is taken: the proposals of this turn leave as one AppendEntries per follower,
   * and the reads that arrived since the last Ready share one heartbeat round.
   */
  flushOutput(): void {
    flushProposals(this);
    if (this.readRoundDue()) broadcastHeartbeat(this);
  }

  /** The messages that may leave before persistence, taken without waiting for a Ready. */
  takeEarlyMessages(): Message[] {
    flushProposals(this);
    return this.takeMessages();
  }
}
