// What one node knows, and the named changes to it: the persistent state of Figure 3.1, the
// volatile state of its role, the role transitions (§3.3, §3.4, §9.6), its timers and the
// outputs the driver takes. The role handlers (roles/) read these fields and change them only
// through the verbs below; raft.ts routes each input to them.

import { assert } from '../assert.js';
import { keepsLease, type Logger, type LogLevel, type RaftConfig, type Random } from './config.js';
import { LeaderLease } from './lease.js';
import { RaftLog } from './log.js';
import { isVoter } from './membership.js';
import { ProgressTracker } from './progress/tracker.js';
import { ReadOnlyQueue } from './read-only.js';
import type { LogStorage } from './storage.js';
import {
  type HardState,
  type Message,
  messageTiming,
  type NodeId,
  type ReadFailure,
  type ReadState,
  type Role,
  type SoftState,
} from './types.js';

/** A message under construction: the core fills in `from` and `term`. */
export type Outgoing = Message extends infer M
  ? M extends Message
    ? Omit<M, 'from' | 'term'>
    : never
  : never;

/** Which timers ran out on a tick (each is restarted as it fires). */
export interface ExpiredTimers {
  /** Followers and candidates: the randomized election timeout; leaders: one election timeout. */
  readonly election: boolean;
  /** Leaders only: the heartbeat interval. */
  readonly heartbeat: boolean;
}

export abstract class RaftState {
  readonly id: NodeId;
  readonly config: RaftConfig;
  readonly random: Random;
  readonly logger: Logger;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;
  readonly reads = new ReadOnlyQueue();
  /** Leader only, with CheckQuorum: how long lease reads may skip the heartbeat round (§6.4.1). */
  readonly lease: LeaderLease;

  // Persistent state (Figure 3.1). Invariant: the term never decreases; the vote is for `term`.
  private currentTerm = 0;
  private vote: NodeId | null = null;

  // Volatile state.
  private currentRole: Role = 'follower';
  private knownLeader: NodeId | null = null;
  /** Ticks since the election timer last restarted (followers: since hearing from the leader). */
  private electionElapsed = 0;
  private heartbeatElapsed = 0;
  /** Drawn from [electionTimeout, 2·electionTimeout) at every restart, so timeouts rarely collide (§3.4). */
  private randomizedElectionTimeout = 0;
  /** Ticks since this node started; the leader times snapshot transfers and leases with it. */
  private ticksSinceStart = 0;
  /** Leader only: the follower a leadership transfer is handing over to (§3.10). */
  private transferee: NodeId | null = null;
  /** Leader only: bytes of entries proposed this term and not yet applied. */
  private uncommitted = 0;
  /** Leader only: entries were proposed and not yet broadcast (they are, when messages are taken). */
  private unsentProposals = false;

  // Outputs, taken by RawNode.ready().
  private messages: Message[] = [];
  private messagesAfterPersist: Message[] = [];
  private readStates: ReadState[] = [];
  private readFailures: ReadFailure[] = [];

  constructor(config: RaftConfig, storage: LogStorage, random: Random, logger: Logger) {
    this.id = config.id;
    this.config = config;
    this.random = random;
    this.logger = logger;
    this.lease = new LeaderLease(config.electionTimeoutTicks, config.mutations.leaseNeverExpires === true);
    const { hardState } = storage.initialState();
    this.log = new RaftLog(storage, hardState.commitIndex, config.lastApplied);
    this.tracker = new ProgressTracker(
      this.log.membership.current(),
      config.inflightMessagesMax,
      config.inflightBytesMax,
      config.mutations,
    );
    this.log.onMembershipChange(() => this.adoptLogMembership());
    this.currentTerm = hardState.term;
    this.vote = hardState.votedFor;
    this.becomeFollower(this.currentTerm, null, 'started');
  }

  /** §3.10: a leader's TimeoutNow reached us: campaign now (raft.ts, which knows the candidate). */
  abstract campaignForTransfer(): void;

  // --- Reading the state ----------------------------------------------------------------------

  get term(): number {
    return this.currentTerm;
  }

  /** Whom this node voted for in `term`, if anyone. */
  get votedFor(): NodeId | null {
    return this.vote;
  }

  get role(): Role {
    return this.currentRole;
  }

  get leaderId(): NodeId | null {
    return this.knownLeader;
  }

  /** Ticks since this node started. */
  get ticks(): number {
    return this.ticksSinceStart;
  }

  /** Leader only: the target of the leadership transfer in progress, if any (§3.10). */
  get transferTarget(): NodeId | null {
    return this.transferee;
  }

  /** Leader only: bytes of this term's proposals not yet applied. */
  get uncommittedBytes(): number {
    return this.uncommitted;
  }

  /** Leader only: proposals wait to be broadcast. */
  get proposalsPending(): boolean {
    return this.unsentProposals;
  }

  /** There is output for the driver to take. */
  hasOutput(): boolean {
    return (
      this.messages.length > 0 ||
      this.messagesAfterPersist.length > 0 ||
      this.readStates.length > 0 ||
      this.readFailures.length > 0
    );
  }

  hardState(): HardState {
    const votedFor = this.config.mutations.forgetVotePersist ? null : this.vote;
    return { term: this.currentTerm, votedFor, commitIndex: this.log.commitIndex };
  }

  softState(): SoftState {
    return { role: this.currentRole, leaderId: this.knownLeader };
  }

  /**
   * §4.2.3 (with CheckQuorum): we heard from a leader within the minimum election timeout, so a
   * node that was partitioned away cannot depose it with a vote request. Where the lease is kept
   * (keepsLease), a node that restarted less than an election timeout ago counts too: it may have
   * answered a heartbeat just before it crashed, and that answer promised not to vote for an
   * election timeout — the promise the leader lease rests on (§6.4.1).
   */
  leaderStillHeard(): boolean {
    if (!this.config.checkQuorum) return false;
    const timeout = this.config.electionTimeoutTicks;
    if (this.knownLeader !== null && this.electionElapsed < timeout) return true;
    return keepsLease(this.config) && this.ticksSinceStart < timeout;
  }

  /**
   * Voters may campaign; learners and nodes outside the membership never do. A voter whose log
   * holds its own removal, not yet committed, still does (§4.2.2): until that configuration
   * commits it may be the only one able to finish it — were it to sit still, the remaining voters
   * of a small configuration could wait for its vote forever. Elected, it leads the configuration
   * without counting itself, commits it, and steps down (leader.ts, stepDownIfRemoved).
   */
  promotable(): boolean {
    if (this.tracker.isVoter(this.id)) return true;
    const log = this.log;
    if (log.membershipCommitted()) return false;
    return isVoter(log.membership.at(log.commitIndex), this.id);
  }

  emit(level: LogLevel, event: string, fields: Record<string, string | number | boolean | null> = {}): void {
    this.logger.log(level, event, { node: this.id, term: this.currentTerm, ...fields });
  }

  // --- Messages out ---------------------------------------------------------------------------

  /**
   * Queues a message, before or after this node's fsync as `messageTiming` (types.ts) says:
   * leader-to-follower traffic may leave early (§10.2.1); votes and acknowledgements promise
   * durable state and wait for it.
   */
  send(m: Outgoing): void {
    const term = m.type === 'PreVote' ? this.currentTerm + 1 : this.currentTerm;
    this.queue({ ...m, from: this.id, term } as Message);
  }

  /** Sends a message carrying an explicit term (PreVote answers, answers to stale senders). */
  sendWithTerm(m: Outgoing, term: number): void {
    this.queue({ ...m, from: this.id, term } as Message);
  }

  private queue(message: Message): void {
    (messageTiming[message.type] === 'early' ? this.messages : this.messagesAfterPersist).push(message);
  }

  /** The messages that may leave before this node's fsync. */
  takeMessages(): Message[] {
    const out = this.messages;
    this.messages = [];
    return out;
  }

  /** The messages that must wait for this node's fsync. */
  takeMessagesAfterPersist(): Message[] {
    const out = this.messagesAfterPersist;
    this.messagesAfterPersist = [];
    return out;
  }

  takeReadStates(): ReadState[] {
    const out = this.readStates;
    this.readStates = [];
    return out;
  }

  takeReadFailures(): ReadFailure[] {
    const out = this.readFailures;
    this.readFailures = [];
    return out;
  }

  // --- Role transitions (§3.3, §3.4, §9.6) ----------------------------------------------------

  private restartElectionTimer(): void {
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    const t = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeout = t + this.random.nextInt(t);
  }

  /** What every role change clears: leader-only state, votes, the reads waiting on this role. */
  private reset(
    term: number,
    timer: { readonly keepElectionTimer: boolean } = { keepElectionTimer: false },
  ): void {
    if (this.currentTerm !== term) {
      this.currentTerm = term;
      this.vote = null;
    }
    this.knownLeader = null;
    if (!timer.keepElectionTimer) this.restartElectionTimer();
    this.lease.reset();
    this.abortLeaderTransfer();
    this.tracker.resetVotes();
    this.tracker.resetProgress(this.log.lastIndex());
    this.failPendingReads(this.currentRole === 'leader' ? 'LeadershipLost' : 'NoLeader');
    this.uncommitted = 0;
    this.unsentProposals = false;
  }

  /**
   * `keepElectionTimer` leaves the election timer running: a higher-term RequestVote that we may
   * reject is neither a leader nor a granted vote, the only events that restart it (Figure 3.1). If
   * it did restart it, a candidate with a stale log could keep the up-to-date nodes from ever timing
   * out, stalling elections without PreVote.
   */
  becomeFollower(
    term: number,
    leaderId: NodeId | null,
    why: string,
    timer: { readonly keepElectionTimer: boolean } = { keepElectionTimer: false },
  ): void {
    const wasLeader = this.currentRole === 'leader';
    this.reset(term, { keepElectionTimer: timer.keepElectionTimer && !wasLeader });
    this.currentRole = 'follower';
    this.knownLeader = leaderId;
    if (wasLeader) this.emit('info', 'lost leadership', { why });
  }

  becomePreCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader cannot become a pre-candidate');
    // §9.6: no term change and no vote: a pre-candidate that loses disturbs nobody.
    this.tracker.resetVotes();
    this.restartElectionTimer();
    this.currentRole = 'precandidate';
    this.knownLeader = null;
  }

  becomeCandidate(): void {
    assert(this.currentRole !== 'leader', 'a leader cannot become a candidate');
    this.reset(this.currentTerm + 1);
    this.vote = this.id;
    this.currentRole = 'candidate';
  }

  /**
   * Won the election: every follower starts in probe state at our last index + 1 (§3.5), and a
   * no-op of the new term is appended — committing it commits everything before it and lets
   * reads start (§3.6.2, §6.4). The caller broadcasts it.
   */
  becomeLeader(): void {
    assert(
      this.currentRole === 'candidate',
      () => `only a candidate becomes leader, not a ${this.currentRole}`,
    );
    this.reset(this.currentTerm);
    this.currentRole = 'leader';
    this.knownLeader = this.id;
    const self = this.tracker.get(this.id);
    // Entries not yet on this node's disk do not count toward a quorum until advance() (§10.2.1).
    if (self) {
      self.becomeReplicate();
      self.maybeUpdate(this.log.lastStableIndex());
    }
    this.tracker.markAllActive();
    this.reads.restartRounds();
    this.log.append([
      { term: this.currentTerm, index: this.log.lastIndex() + 1, type: 'noop', data: new Uint8Array(0) },
    ]);
    this.emit('info', 'became leader', { lastIndex: this.log.lastIndex() });
  }

  // --- Membership (chapter 4) ---------------------------------------------------------------

  /**
   * The log's configuration changed (an append, which may have cut off a suffix, or a snapshot):
   * the latest configuration in it is in force from now on (§4.1), for elections, commitment and
   * replication alike. The log calls this; no role has to remember to.
   */
  private adoptLogMembership(): void {
    const membership = this.log.membership.current();
    if (membership === this.tracker.membership) return;
    this.tracker.setMembership(membership, this.log.lastIndex());
    this.emit('info', 'membership in force', {
      voters: membership.voters.join(','),
      outgoingVoters: membership.outgoingVoters.join(','),
      learners: membership.learners.join(','),
      index: this.log.membership.currentIndex(),
    });
  }

  // --- Timers ---------------------------------------------------------------------------------

  /**
   * One tick of this node's clock: advances the timers of its role and says which ran out. A
   * follower's election timer fires only if it may campaign.
   */
  advanceTimers(): ExpiredTimers {
    this.ticksSinceStart++;
    this.electionElapsed++;
    if (this.currentRole !== 'leader') {
      const election = this.electionElapsed >= this.randomizedElectionTimeout && this.promotable();
      if (election) this.electionElapsed = 0;
      return { election, heartbeat: false };
    }
    this.heartbeatElapsed++;
    const election = this.electionElapsed >= this.config.electionTimeoutTicks;
    if (election) this.electionElapsed = 0;
    const heartbeat = this.heartbeatElapsed >= this.config.heartbeatIntervalTicks;
    if (heartbeat) this.heartbeatElapsed = 0;
    return { election, heartbeat };
  }

  /** A message from the leader of our term: its election timer starts over (Figure 3.1). */
  heardFromLeader(): void {
    this.electionElapsed = 0;
  }

  /** §3.4: one vote per term; granting it restarts the election timer (Figure 3.1). */
  grantVote(to: NodeId): void {
    assert(
      this.vote === null || this.vote === to,
      () => `already voted for ${this.vote} in term ${this.currentTerm}`,
    );
    this.vote = to;
    this.electionElapsed = 0;
  }

  // --- Leader bookkeeping ---------------------------------------------------------------------

  /** §3.10: hand over to `to`; the transfer must finish within one election timeout. */
  beginLeaderTransfer(to: NodeId): void {
    assert(this.currentRole === 'leader', 'only a leader transfers leadership');
    this.transferee = to;
    this.electionElapsed = 0;
  }

  abortLeaderTransfer(): void {
    this.transferee = null;
  }

  /** A proposal of `bytes` joined the log; it goes out with the next broadcast (flushProposals). */
  admitProposal(bytes: number): void {
    assert(this.currentRole === 'leader', 'only a leader admits proposals');
    this.uncommitted += bytes;
    this.unsentProposals = true;
  }

  /** Whether proposals wait to be broadcast; they no longer do once this returns. */
  takeUnsentProposals(): boolean {
    const pending = this.unsentProposals;
    this.unsentProposals = false;
    return pending;
  }

  /** Applied entries of this term no longer count toward the uncommitted-bytes bound. */
  releaseUncommitted(bytes: number): void {
    this.uncommitted = Math.max(0, this.uncommitted - bytes);
  }

  // --- Reads (§6.4) ---------------------------------------------------------------------------

  /** A read may be served once the state machine has applied `readIndex`. */
  releaseRead(context: string, readIndex: number): void {
    this.readStates.push({ context, readIndex });
  }

  failRead(context: string, reason: ReadFailure['reason']): void {
    this.readFailures.push({ context, reason });
  }

  /** Leadership ended (or a new role began): every waiting read fails, relayed ones by an answer. */
  failPendingReads(reason: ReadFailure['reason']): void {
    for (const r of this.reads.drain()) {
      if (r.from === this.id) this.failRead(r.context, reason);
      else this.send({ type: 'ReadIndexResponse', to: r.from, context: r.context, readIndex: 0 });
    }
  }
}
