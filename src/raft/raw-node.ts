// The core's driver-facing API (after etcd-io/raft's RawNode): feed it ticks, messages and
// proposals; take a Ready, carry it out in the documented order (see Ready in types.ts), then
// call advance(). It does no I/O and keeps no clock: one seed and one input sequence always
// produce the same outputs.

import { assert, present } from '../assert.js';
import {
  type Logger,
  type RaftConfig,
  type Random,
  type ReadMode,
  silentLogger,
  validateConfig,
} from './config.js';
import { Raft } from './raft.js';
import type { LogStorage } from './storage.js';
import type {
  ClusterMembership,
  HardState,
  MemberChange,
  MembershipChangeResult,
  Message,
  NodeId,
  ProposeResult,
  Ready,
  Role,
  SoftState,
  TransferResult,
} from './types.js';

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: 'probe' | 'replicate' | 'snapshot';
  readonly recentActive: boolean;
}

export interface Status {
  readonly id: NodeId;
  readonly role: Role;
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly leaderId: NodeId | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  readonly lastIndex: number;
  readonly firstIndex: number;
  /** Voters of either set while joint (who is asked for votes). */
  readonly voters: readonly NodeId[];
  /** The membership in force: the log's latest configuration (§4.1), committed or not. */
  readonly membership: ClusterMembership;
  /** Index of the entry holding `membership` (the snapshot's if none is above it). */
  readonly membershipIndex: number;
  /** Leader only: the leader's view of every member (learners included). */
  readonly progress: Readonly<Record<NodeId, ProgressStatus>> | null;
}

export class RawNode {
  private readonly raft: Raft;
  private prevSoftState: SoftState;
  /** What the driver has made durable (or was loaded from storage). */
  private prevHardState: HardState;
  /** The Ready handed out and not yet advanced; ready() and advance() must alternate. */
  private outstanding: Ready | null = null;
  // Monotonicity witnesses for checkInvariants().
  private seenTerm = 0;
  private seenCommit = 0;

  constructor(config: RaftConfig, storage: LogStorage, random: Random, logger: Logger = silentLogger) {
    validateConfig(config);
    this.raft = new Raft(config, storage, random, logger);
    this.prevSoftState = this.raft.softState();
    this.prevHardState = storage.initialState().hardState;
  }

  /**
   * One heartbeat interval of time has passed. Hand over every interval that really passed before
   * any other input — the lease (readMode 'lease') and the election rules count ticks as time, and
   * a driver that counts its timer's callbacks loses the time its process was stopped (the node's
   * driver derives ticks from a monotonic clock: src/node/elapsed-ticks.ts).
   */
  tick(): void {
    this.raft.tick();
  }

  step(message: Message): void {
    if (message.to !== this.raft.id) return;
    this.raft.step(message);
  }

  propose(data: Uint8Array): ProposeResult {
    return this.raft.propose(data);
  }

  /**
   * Starts a linearizable read identified by `context` (unique among pending reads). The outcome
   * arrives in a later Ready: a ReadState (serve once applied ≥ readIndex) or a ReadFailure. A read
   * relayed to the leader may be lost with its message: the driver keeps a deadline.
   */
  readIndex(context: string, mode?: ReadMode): void {
    this.raft.readIndex(context, mode);
  }

  transferLeadership(to: NodeId): TransferResult {
    return this.raft.transferLeadership(to);
  }

  /**
   * Changes the membership (chapter 4): the changes are made atomically, in one configuration
   * entry (two with joint consensus, the second appended by the core once the first commits).
   * Accepted: in force at once, committed once its index is; the driver watches status().
   */
  proposeMembership(changes: readonly MemberChange[]): MembershipChangeResult {
    return this.raft.proposeMembership(changes);
  }

  /**
   * The membership in force (the log's latest configuration, §4.1) and the one the commit index
   * has reached — the same object unless a change is in flight. Cheap: for every Ready.
   */
  membership(): { readonly current: ClusterMembership; readonly committed: ClusterMembership } {
    const r = this.raft;
    const current = r.tracker.membership;
    if (r.log.membershipCommitted()) return { current, committed: current };
    return { current, committed: r.log.membership.at(r.log.commitIndex) };
  }

  /** Index of the configuration entry in force once the log ends at `index`. */
  membershipIndexAt(index: number): number {
    return this.raft.log.membership.indexAt(index);
  }

  /** The membership a snapshot at `index` (≤ the applied index) records. */
  membershipAt(index: number): ClusterMembership {
    return this.raft.log.membership.at(index);
  }

  /**
   * A leader gives up leadership at once, staying in its term as a follower: pending reads fail
   * and proposals are refused, and the followers elect a new leader when their timers run out.
   * For a driver whose disk has stalled (a leader that cannot persist should not hold the
   * cluster); returns false if this node was not leader.
   */
  stepDown(why: string): boolean {
    return this.raft.stepDown(why);
  }

  /**
   * Takes the messages that may be sent before persistence (Ready.messages) without waiting for
   * the outstanding Ready's advance(). A driver blocked on a slow fsync uses it to hand
   * leadership over (TimeoutNow and the AppendEntries that catch the target up).
   */
  takeEarlyMessages(): Message[] {
    return this.raft.takeEarlyMessages();
  }

  /**
   * The driver's transport could not reach `id`: a leader stops pipelining to it (replicate →
   * probe), so at most one AppendEntries waits in the transport's queue until the peer answers
   * (etcd-io/raft's ReportUnreachable). Without this, a window of stale AppendEntries queued for
   * a dead peer is delivered when it returns, instead of the snapshot it may really need.
   */
  reportUnreachable(id: NodeId): void {
    this.raft.onPeerUnreachable(id);
  }

  /** Starts an election now (e.g. an operator's request), as an election timeout would. */
  campaign(): void {
    this.raft.startElection();
  }

  hasReady(): boolean {
    const r = this.raft;
    if (this.outstanding !== null) return false;
    return (
      r.proposalsPending ||
      r.hasOutput() ||
      r.log.unstable.entries.length > 0 ||
      r.log.unstable.snapshot !== null ||
      r.log.hasNextCommittedEntries(this.applyLimit()) ||
      r.readRoundDue() ||
      !sameHardState(r.hardState(), this.prevHardState) ||
      !sameSoftState(r.softState(), this.prevSoftState)
    );
  }

  /** Takes everything the driver must do now. Call advance() with it before the next ready(). */
  ready(): Ready {
    assert(this.outstanding === null, 'ready() called again before advance()');
    const r = this.raft;
    r.flushOutput();
    const hardState = r.hardState();
    const softState = r.softState();
    const entries = r.log.unstable.entries.slice();
    const snapshot = r.log.unstable.snapshot;
    const hardChanged = !sameHardState(hardState, this.prevHardState);
    const ready: Ready = {
      softState: sameSoftState(softState, this.prevSoftState) ? null : softState,
      hardState: hardChanged ? hardState : null,
      entries,
      snapshot,
      messages: r.takeMessages(),
      messagesAfterPersist: r.takeMessagesAfterPersist(),
      committedEntries: r.log.nextCommittedEntries(r.config.committedBytesPerReadyMax, this.applyLimit()),
      readStates: r.takeReadStates(),
      readFailures: r.takeReadFailures(),
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hardState.term !== this.prevHardState.term ||
        hardState.votedFor !== this.prevHardState.votedFor,
    };
    if (ready.softState) this.prevSoftState = ready.softState;
    this.outstanding = ready;
    return ready;
  }

  /** The driver has carried out `ready` (persisted, sent, applied). */
  advance(ready: Ready): void {
    assert(this.outstanding === ready, 'advance() must be given the Ready from the last ready()');
    this.outstanding = null;
    const r = this.raft;
    if (ready.hardState) this.prevHardState = ready.hardState;
    if (ready.snapshot) r.onSnapshotPersisted(ready.snapshot.meta.index);
    if (ready.entries.length > 0)
      r.onEntriesPersisted(present(ready.entries.at(-1), 'the last persisted entry'));
    if (ready.committedEntries.length > 0) r.onApplied(ready.committedEntries);
  }

  /** The leader this node knows (itself while it leads), or null: status().leaderId, for the hot paths. */
  leaderId(): NodeId | null {
    return this.raft.leaderId;
  }

  status(): Status {
    const r = this.raft;
    let progress: Record<NodeId, ProgressStatus> | null = null;
    if (r.role === 'leader') {
      progress = {};
      for (const [id, follower] of r.tracker.progress) {
        progress[id] = {
          match: follower.match,
          next: follower.next,
          state: follower.state,
          recentActive: follower.recentActive,
        };
      }
    }
    return {
      id: r.id,
      role: r.role,
      term: r.term,
      votedFor: r.votedFor,
      leaderId: r.leaderId,
      commitIndex: r.log.commitIndex,
      lastApplied: r.log.lastApplied,
      lastIndex: r.log.lastIndex(),
      firstIndex: r.log.firstIndex(),
      voters: r.tracker.voters,
      membership: r.tracker.membership,
      membershipIndex: r.log.membership.currentIndex(),
      progress,
    };
  }

  /** Structural invariants of this node; the tests and the simulator call it after every input. */
  checkInvariants(): void {
    const r = this.raft;
    const log = r.log;
    assert(r.term >= this.seenTerm, () => `term went back from ${this.seenTerm} to ${r.term}`);
    assert(
      log.commitIndex >= this.seenCommit,
      () => `commit went back from ${this.seenCommit} to ${log.commitIndex}`,
    );
    this.seenTerm = r.term;
    this.seenCommit = log.commitIndex;
    assert(
      log.commitIndex <= log.lastIndex(),
      () => `commit ${log.commitIndex} beyond last index ${log.lastIndex()}`,
    );
    assert(
      log.lastApplied <= log.commitIndex || r.config.mutations.applyBeforeCommit === true,
      () => `applied ${log.lastApplied} beyond commit ${log.commitIndex}`,
    );
    assert(log.firstIndex() >= 1, 'first index below 1');
    assert(log.term(log.lastIndex()) !== null, 'last entry has no term');
    if (r.role === 'leader') {
      assert(r.leaderId === r.id, 'a leader must know itself as leader');
      assert(r.votedFor === r.id, 'a leader voted for itself in its term');
      for (const [id, follower] of r.tracker.progress) {
        assert(
          follower.match < follower.next,
          () => `progress of ${id}: match ${follower.match} ≥ next ${follower.next}`,
        );
        assert(
          follower.match <= log.lastIndex(),
          () => `progress of ${id}: match ${follower.match} beyond last index`,
        );
        assert(
          follower.inflights.count() <= r.config.inflightMessagesMax,
          () => `progress of ${id}: ${follower.inflights.count()} messages in flight, above the bound`,
        );
        assert(
          follower.state !== 'snapshot' || follower.pendingSnapshot > 0,
          () => `progress of ${id}: in snapshot state without a pending snapshot`,
        );
      }
    } else {
      // Leader-only state must not outlive leadership.
      assert(r.transferTarget === null, () => `a ${r.role} has a leadership transfer in progress`);
      assert(r.uncommittedBytes === 0, () => `a ${r.role} counts uncommitted bytes`);
      assert(!r.proposalsPending, () => `a ${r.role} has proposals pending`);
    }
    if (r.role === 'candidate') assert(r.votedFor === r.id, 'a candidate voted for itself');
    // Membership (chapter 4): decisions follow the log's latest configuration; learners are not
    // voters; a configuration is joint only with an outgoing set; one change in flight at a time.
    const membership = r.tracker.membership;
    assert(membership === log.membership.current(), 'decisions do not follow the log’s latest configuration');
    for (const id of membership.learners) {
      assert(
        !membership.voters.includes(id) && !membership.outgoingVoters.includes(id),
        () => `${id} is a learner and a voter`,
      );
    }
    if (r.role === 'leader') {
      assert(r.tracker.isVoter(r.id) || !log.membershipCommitted(), 'a leader outside the committed voters');
      assert(
        log.membership.changesAfter(log.commitIndex, r.term) <= 1 ||
          r.config.mutations.concurrentChanges === true,
        'this leader has more than one membership change in flight',
      );
    }
  }

  /** Mutation applyBeforeCommit: hand out entries as soon as they are in the log. */
  private applyLimit(): number {
    const r = this.raft;
    return r.config.mutations.applyBeforeCommit ? r.log.lastStableIndex() : r.log.commitIndex;
  }
}

function sameHardState(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.votedFor === b.votedFor && a.commitIndex === b.commitIndex;
}

function sameSoftState(a: SoftState, b: SoftState): boolean {
  return a.role === b.role && a.leaderId === b.leaderId;
}
