// The consensus state of one node: the term rules shared by every role (§3.3), role changes,
// voting (§3.4, §3.6.1, §9.6), then dispatch to the role handlers in roles/.

import { assert, present } from './assert.js';
import type { Logger, LogLevel, RaftConfig, Random } from './config.js';
import { LeaderLease } from './lease.js';
import { RaftLog } from './log.js';
import { ProgressTracker } from './progress/tracker.js';
import { ReadOnlyQueue } from './read-only.js';
import { campaign, onCandidateMessage, onVoteResponse, startPreVote } from './roles/candidate.js';
import { onFollowerMessage } from './roles/follower.js';
import {
  bcastAppend,
  bcastHeartbeat,
  flushProposals,
  onLeaderMessage,
  onOwnEntriesPersisted,
  onPeerUnreachable,
  propose,
  readIndexAtLeader,
  releaseUncommittedBytes,
  tickLeader,
  transferLeadership,
} from './roles/leader.js';
import type { LogStorage } from './storage.js';
import {
  type Entry,
  type HardState,
  type Message,
  messageTiming,
  type NodeId,
  type PreVote,
  type ProposeResult,
  type ReadFailure,
  type ReadState,
  type RequestVote,
  type Role,
  type SoftState,
  type TransferResult,
} from './types.js';

/** A message under construction: the core fills in `from` and `term`. */
export type Outgoing = Message extends infer M
  ? M extends Message
    ? Omit<M, 'from' | 'term'>
    : never
  : never;

export class Raft {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly random: Random;
  readonly logger: Logger;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly reads = new ReadOnlyQueue();
  /** Leader only, readMode 'lease': how long reads may skip the heartbeat round (§6.4.1). */
  readonly lease: LeaderLease;

  // Persistent state (Figure 3.1). Invariant: term never decreases; votedFor is for `term`.
  term = 0;
  votedFor: NodeId | null = null;

  // Volatile state.
  role: Role = 'follower';
  leaderId: NodeId | null = null;
  /** Ticks since the last election timeout reset (followers: since hearing from the leader). */
  electionElapsed = 0;
  heartbeatElapsed = 0;
  /** Drawn from [electionTimeout, 2·electionTimeout) at every reset, so timeouts rarely collide (§3.4). */
  randomizedElectionTimeout = 0;
  /** Ticks since this node started; the leader uses it to time out snapshot transfers. */
  ticks = 0;
  /** Leader only: the follower a leadership transfer is handing over to (§3.10). */
  leadTransferee: NodeId | null = null;
  /** Leader only: bytes of entries proposed this term and not yet handed out as committed. */
  uncommittedBytes = 0;
  /** Leader only: entries were proposed and not yet broadcast (they are, when messages are taken). */
  proposalsPending = false;

  // Outputs, taken by RawNode.ready().
  messages: Message[] = [];
  messagesAfterPersist: Message[] = [];
  readStates: ReadState[] = [];
  readFailures: ReadFailure[] = [];

  constructor(config: RaftConfig, storage: LogStorage, random: Random, logger: Logger) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.logger = logger;
    this.lease = new LeaderLease(config.electionTimeoutTicks);
    const { hardState, membership } = storage.initialState();
    this.tracker = new ProgressTracker(
      membership.voters,
      config.inflightMessagesMax,
      config.inflightBytesMax,
    );
    this.log = new RaftLog(storage, hardState.commit, config.applied);
    this.term = hardState.term;
    this.votedFor = hardState.votedFor;
    this.becomeFollower(this.term, null, 'started');
  }

  hardState(): HardState {
    const votedFor = this.config.mutations.forgetVotePersist ? null : this.votedFor;
    return { term: this.term, votedFor, commit: this.log.committed };
  }

  softState(): SoftState {
    return { role: this.role, leaderId: this.leaderId };
  }

  emit(level: LogLevel, event: string, fields: Record<string, string | number | boolean | null> = {}): void {
    this.logger.log(level, event, { node: this.id, term: this.term, ...fields });
  }

  /**
   * Queues a message, before or after this node's fsync as `messageTiming` (types.ts) says:
   * leader-to-follower traffic may leave early (§10.2.1); votes and acknowledgements promise
   * durable state and wait for it.
   */
  send(m: Outgoing): void {
    this.queue({ ...m, from: this.id, term: m.type === 'PreVote' ? this.term + 1 : this.term } as Message);
  }

  /** Sends a message carrying an explicit term (PreVote answers, answers to stale senders). */
  sendWithTerm(m: Outgoing, term: number): void {
    this.queue({ ...m, from: this.id, term } as Message);
  }

  private queue(message: Message): void {
    (messageTiming[message.type] === 'early' ? this.messages : this.messagesAfterPersist).push(message);
  }

  private resetElectionTimer(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const t = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeout = t + this.random.nextInt(t);
  }

  private reset(
    term: number,
    timer: { readonly keepElectionTimer: boolean } = { keepElectionTimer: false },
  ): void {
    if (this.term !== term) {
      this.term = term;
      this.votedFor = null;
    }
    this.leaderId = null;
    if (!timer.keepElectionTimer) this.resetElectionTimer();
    this.lease.reset();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex());
    this.failPendingReads(this.role === 'leader' ? 'LeadershipLost' : 'NoLeader');
    this.uncommittedBytes = 0;
    this.proposalsPending = false;
  }

  /**
   * `keepElectionTimer` leaves the election timer running: a higher-term RequestVote that we may reject
   * is neither a leader nor a granted vote, the only events that restart it (Figure 3.1). If it
   * did restart it, a candidate with a stale log could keep the up-to-date nodes from ever timing
   * out, stalling elections without PreVote.
   */
  becomeFollower(
    term: number,
    leaderId: NodeId | null,
    why: string,
    timer: { readonly keepElectionTimer: boolean } = { keepElectionTimer: false },
  ): void {
    const wasLeader = this.role === 'leader';
    this.reset(term, { keepElectionTimer: timer.keepElectionTimer && !wasLeader });
    this.role = 'follower';
    this.leaderId = leaderId;
    if (wasLeader) this.emit('info', 'lost leadership', { why });
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a pre-candidate');
    // §9.6: no term change and no vote: a pre-candidate that loses disturbs nobody.
    this.tracker.resetVotes();
    this.resetElectionTimer();
    this.role = 'precandidate';
    this.leaderId = null;
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.term + 1);
    this.votedFor = this.id;
    this.role = 'candidate';
  }

  becomeLeader(): void {
    assert(this.role === 'candidate', `only a candidate becomes leader, not a ${this.role}`);
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    const self = this.tracker.get(this.id);
    // Entries not yet on this node's disk do not count toward a quorum until advance() (§10.2.1).
    if (self) {
      self.becomeReplicate();
      self.maybeUpdate(this.log.lastStableIndex());
    }
    for (const pr of this.tracker.progress.values()) pr.recentActive = true;
    this.reads.round = 0;
    // §3.6.2 / §6.4: a no-op of the new term commits everything before it and lets reads start.
    this.log.append([
      { term: this.term, index: this.log.lastIndex() + 1, type: 'noop', data: new Uint8Array(0) },
    ]);
    this.emit('info', 'became leader', { lastIndex: this.log.lastIndex() });
    bcastAppend(this);
  }

  /** A message from the leader of our term: its election timer starts over (Figure 3.1). */
  heardFromLeader(): void {
    this.electionElapsed = 0;
  }

  /** A read may be served once the state machine has applied `readIndex` (§6.4). */
  releaseRead(context: string, readIndex: number): void {
    this.readStates.push({ context, readIndex });
  }

  failRead(context: string, reason: ReadFailure['reason']): void {
    this.readFailures.push({ context, reason });
  }

  /** §3.10: hand over to `to`; the transfer must finish within one election timeout. */
  beginLeaderTransfer(to: NodeId): void {
    assert(this.role === 'leader', 'only a leader transfers leadership');
    this.leadTransferee = to;
    this.electionElapsed = 0;
  }

  abortLeaderTransfer(): void {
    this.leadTransferee = null;
  }

  failPendingReads(reason: ReadFailure['reason']): void {
    for (const r of this.reads.drain()) {
      if (r.from === this.id) this.failRead(r.context, reason);
      else this.send({ type: 'ReadIndexResponse', to: r.from, context: r.context, readIndex: 0 });
    }
  }

  /** Voters may campaign; a node outside the voter set never does. */
  promotable(): boolean {
    return this.tracker.isVoter(this.id);
  }

  tick(): void {
    this.ticks++;
    if (this.role === 'leader') {
      tickLeader(this);
      return;
    }
    this.electionElapsed++;
    if (this.electionElapsed >= this.randomizedElectionTimeout && this.promotable()) {
      this.electionElapsed = 0;
      this.startElection();
    }
  }

  /** An election timeout (or an operator): a PreVote round first if configured (§9.6). */
  startElection(): void {
    if (this.role === 'leader' || !this.promotable()) return;
    // Entries committed but not applied might include a membership change; none exist yet.
    if (this.config.preVote) startPreVote(this);
    else campaign(this, { transfer: false });
  }

  /** §3.10: the leader handed over to us: campaign at once, no PreVote, past leader stickiness. */
  campaignForTransfer(): void {
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

  /**
   * §4.2.3 (with CheckQuorum): we heard from a leader within the minimum election timeout, so a
   * node that was partitioned away cannot depose it with a vote request. In lease mode a node that
   * restarted less than an election timeout ago counts too: it may have answered a heartbeat just
   * before it crashed, and that answer promised not to vote for an election timeout (§6.4.1).
   */
  private leaderStillHeard(): boolean {
    if (!this.config.checkQuorum) return false;
    const timeout = this.config.electionTimeoutTicks;
    if (this.leaderId !== null && this.electionElapsed < timeout) return true;
    return this.config.readMode === 'lease' && this.ticks < timeout;
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
    if (granted) {
      this.votedFor = m.from;
      this.electionElapsed = 0;
    }
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

  /**
   * §6.4: a linearizable read identified by `context`. The leader records its commit index and
   * confirms leadership; a follower relays the request to the leader it knows (step 1 on a
   * follower); with no leader known the read fails at once.
   */
  readIndex(context: string): void {
    if (this.role === 'leader') readIndexAtLeader(this, context, this.id);
    else if (this.leaderId === null) this.failRead(context, 'NoLeader');
    else this.send({ type: 'ReadIndexRequest', to: this.leaderId, context });
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
    if (this.readRoundDue()) bcastHeartbeat(this);
  }

  /** The messages that may leave before persistence, taken without waiting for a Ready. */
  takeEarlyMessages(): Message[] {
    flushProposals(this);
    const out = this.messages;
    this.messages = [];
    return out;
  }

  /** Leader: after the commit index moved, release reads deferred until the term's first commit. */
  onCommitAdvanced(): void {
    if (this.role !== 'leader') return;
    if (this.log.term(this.log.committed) !== this.term) return;
    for (const r of this.reads.takeDeferred()) this.reads.add(r.context, r.from, this.log.committed);
    if (this.reads.size() > 0) bcastHeartbeat(this);
  }
}
