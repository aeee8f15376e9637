// The leader: proposals, replication with flow control (§3.5, §10.2), commitment by counting
// replicas of current-term entries only (§3.6.2), heartbeats, CheckQuorum (§6.2), ReadIndex
// (§6.4) and leadership transfer (§3.10).

import { assert, present } from '../../assert.js';
import { keepsLease } from '../config.js';
import { changeMembership, encodeMembership, isJoint, leaveJoint } from '../membership.js';
import type { RaftState as Raft } from '../raft-state.js';
import type {
  AppendEntriesResponse,
  Entry,
  HeartbeatResponse,
  LeaseReadIndexRequest,
  MemberChange,
  MembershipChangeResult,
  Message,
  NodeId,
  ProposeResult,
  ReadIndexRequest,
  TransferResult,
} from '../types.js';

/** What every leader-only step assumes: this node leads its term. */
function assertLeader(r: Raft): void {
  assert(r.role === 'leader', () => `a leader's step taken by a ${r.role}`);
}

/** A snapshot transfer not acknowledged after this many election timeouts is presumed lost. */
const snapshotTimeoutElections = 4;

/**
 * Every election timeout a leader checks that a majority answered it since the last check, or
 * steps down (CheckQuorum, §6.2), and gives up a leadership transfer that did not finish (§3.10).
 */
export function onLeaderElectionTimeout(r: Raft): void {
  assertLeader(r);
  if (r.config.checkQuorum) {
    r.tracker.get(r.id)?.markActive();
    if (!r.tracker.quorumActive()) {
      r.emit('warn', 'stepping down: no majority heard from within an election timeout');
      r.becomeFollower(r.term, null, 'check quorum failed');
      return;
    }
    r.tracker.beginActivityRound(r.id);
  }
  if (r.transferTarget !== null) {
    r.emit('warn', 'leadership transfer aborted: target did not take over in time', {
      to: r.transferTarget,
    });
    r.abortLeaderTransfer();
  }
}

/**
 * §10.2.1: the leader's own entries count toward a quorum only once they are on its disk; the
 * driver reports that after the fsync, which may commit what the followers already hold.
 */
export function onOwnEntriesPersisted(r: Raft, last: Entry): void {
  assertLeader(r);
  const self = r.tracker.get(r.id);
  if (self && r.log.matchTerm(last.index, last.term) && self.maybeUpdate(last.index) && maybeCommit(r)) {
    broadcastAppend(r);
    stepDownIfRemoved(r);
  }
}

/** Applied entries of this term no longer count toward the uncommitted-bytes bound. */
export function releaseUncommittedBytes(r: Raft, applied: readonly Entry[]): void {
  assertLeader(r);
  let bytes = 0;
  for (const e of applied) if (e.term === r.term) bytes += e.data.byteLength;
  r.releaseUncommitted(bytes);
}

/**
 * The driver's transport could not reach `id`: stop pipelining to it (replicate → probe), so at
 * most one AppendEntries waits in the transport's queue until the peer answers.
 */
export function onPeerUnreachable(r: Raft, id: NodeId): void {
  assertLeader(r);
  const progress = r.tracker.get(id);
  if (progress && progress.state === 'replicate') progress.becomeProbe();
}

/** Appends an entry of this term; it leaves with the next flush (flushProposals). */
function appendOwnEntry(r: Raft, type: 'command' | 'config', data: Uint8Array): number {
  const index = r.log.lastIndex() + 1;
  r.log.append([{ term: r.term, index, type, data }]);
  // Proposals made before the driver next takes messages go out together, in one AppendEntries
  // per follower (see flushProposals).
  r.admitProposal(data.byteLength);
  return index;
}

export function propose(r: Raft, data: Uint8Array): ProposeResult {
  if (r.role !== 'leader') return { kind: 'rejected', reason: 'NotLeader', leaderId: r.leaderId };
  if (r.transferTarget !== null) return { kind: 'rejected', reason: 'TransferInProgress', leaderId: r.id };
  if (data.byteLength > r.config.uncommittedBytesMax)
    return { kind: 'rejected', reason: 'TooLarge', leaderId: r.id };
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + data.byteLength > r.config.uncommittedBytesMax) {
    return { kind: 'rejected', reason: 'Busy', leaderId: r.id };
  }
  const index = appendOwnEntry(r, 'command', data);
  return { kind: 'accepted', index, term: r.term };
}

/**
 * Chapter 4: a change of membership, as one configuration entry in force from its append. Two
 * rules keep changes from deciding apart: one change at a time — the last configuration entry
 * must be committed (and a joint one left) before another is appended — and none before this
 * leader has committed an entry of its own term: otherwise a change appended by an earlier
 * leader and never committed, and this one, could each be committed by majorities that do not
 * meet (the single-server bug found in 2015; the thesis's errata).
 */
export function proposeMembership(r: Raft, changes: readonly MemberChange[]): MembershipChangeResult {
  if (r.role !== 'leader') return { kind: 'rejected', reason: 'NotLeader', leaderId: r.leaderId };
  if (r.transferTarget !== null) return { kind: 'rejected', reason: 'TransferInProgress', leaderId: r.id };
  const { mutations } = r.config;
  if (r.log.term(r.log.commitIndex) !== r.term && !mutations.changeBeforeTermCommit) {
    return { kind: 'rejected', reason: 'NotReadyForChange', leaderId: r.id };
  }
  const current = r.tracker.membership;
  const uncommitted = !r.log.membershipCommitted();
  if (isJoint(current) || (uncommitted && !mutations.concurrentChanges)) {
    return { kind: 'rejected', reason: 'ChangeInProgress', leaderId: r.id };
  }
  const changed = changeMembership(current, changes);
  if ('refused' in changed) return { kind: 'refused', refusal: changed.refused };
  const index = appendOwnEntry(r, 'config', encodeMembership(changed.membership));
  r.emit('info', 'membership change appended', { index });
  return { kind: 'accepted', index, term: r.term, membership: changed.membership };
}

/**
 * Members removed by the configuration in force keep receiving the log until that configuration
 * has committed and they hold it; then each is told the commit index once more — so a removed
 * node learns its removal is final and can stop — and gets no more messages.
 */
function tellDepartedTheyLeft(r: Raft): void {
  if (!r.tracker.hasDeparting() || !r.log.membershipCommitted()) return;
  for (const id of r.tracker.takeDepartedThrough(r.log.membership.currentIndex())) {
    // A leader that removed itself learns it from its own log.
    if (id === r.id) continue;
    r.send({ type: 'Heartbeat', to: id, leaderCommit: r.log.commitIndex, readRound: r.reads.round });
  }
}

/**
 * After the commit index moved: a committed joint configuration is left at once (§4.3, the
 * second entry), by the leader that sees it committed.
 */
function leaveCommittedJoint(r: Raft): void {
  const current = r.tracker.membership;
  if (!isJoint(current) || !r.log.membershipCommitted()) return;
  const index = appendOwnEntry(r, 'config', encodeMembership(leaveJoint(current)));
  r.emit('info', 'leaving the joint configuration', { index });
}

/**
 * §4.2.2: a leader that is not a voter of the committed configuration steps down — after handing
 * over, if a voter of it holds its whole log, so the cluster need not wait out an election
 * timeout. Until then it kept leading, replicating and committing without counting itself.
 */
function stepDownIfRemoved(r: Raft): void {
  if (r.role !== 'leader' || r.tracker.isVoter(r.id)) return;
  if (!r.log.membershipCommitted()) return;
  let heir: NodeId | null = null;
  for (const id of r.tracker.voters) {
    const progress = r.tracker.get(id);
    if (progress?.recentActive && progress.match === r.log.lastIndex()) heir = heir ?? id;
  }
  if (heir !== null) sendTimeoutNow(r, heir);
  r.becomeFollower(r.term, null, 'removed from the configuration');
}

/** Sends the entries proposed since the last flush: one batch per follower, not one per proposal. */
export function flushProposals(r: Raft): void {
  if (r.takeUnsentProposals() && r.role === 'leader') broadcastAppend(r);
}

export function broadcastAppend(r: Raft): void {
  assertLeader(r);
  for (const id of r.tracker.recipients) if (id !== r.id) sendAppend(r, id);
}

export function broadcastHeartbeat(r: Raft): void {
  assertLeader(r);
  // Where the lease is kept every broadcast is a round, so each heartbeat's answers can renew it.
  const lease = keepsLease(r.config);
  const round = lease ? r.reads.startRound() : (r.reads.startRoundIfNeeded() ?? r.reads.round);
  if (lease) r.lease.roundSent(round, r.ticks);
  r.tracker.get(r.id)?.acknowledgeReadRound(round);
  for (const id of r.tracker.recipients) {
    if (id === r.id) continue;
    const progress = present(r.tracker.get(id), "a member's progress");
    r.send({
      type: 'Heartbeat',
      to: id,
      leaderCommit: Math.min(progress.match, r.log.commitIndex),
      readRound: round,
    });
  }
  releaseReads(r);
}

/**
 * Sends the follower what it is missing, if flow control allows — an empty AppendEntries when
 * nothing is missing (a probe, or a new commit index to carry). Returns whether a message left.
 */
export function sendAppend(r: Raft, to: NodeId): boolean {
  return appendTo(r, to, 'even-if-empty');
}

/** Sends the follower entries it is missing, if there are any and flow control allows. */
function sendNewEntries(r: Raft, to: NodeId): boolean {
  return appendTo(r, to, 'only-entries');
}

function appendTo(r: Raft, to: NodeId, when: 'even-if-empty' | 'only-entries'): boolean {
  const progress = r.tracker.get(to);
  if (!progress || progress.isPaused()) return false;
  const prevLogIndex = progress.next - 1;
  const prevLogTerm = r.log.term(prevLogIndex);
  const entries = prevLogTerm === null ? null : r.log.entriesFrom(progress.next, r.config.messageBytesMax);
  if (prevLogTerm === null || entries === null) return sendSnapshot(r, to);
  if (entries.length === 0 && when === 'only-entries') return false;
  let bytes = 0;
  for (const e of entries) bytes += e.data.byteLength;
  r.send({ type: 'AppendEntries', to, prevLogIndex, prevLogTerm, entries, leaderCommit: r.log.commitIndex });
  progress.sentEntries(prevLogIndex + entries.length, bytes, entries.length);
  return true;
}

function sendSnapshot(r: Raft, to: NodeId): boolean {
  const progress = present(r.tracker.get(to), "the target's progress");
  // A follower we have not heard from recently is probably down: do not ship it a snapshot.
  if (!progress.recentActive) return false;
  const snapshot = r.log.snapshot();
  if (snapshot.meta.index === 0) return false;
  progress.becomeSnapshot(snapshot.meta.index, r.ticks);
  r.emit('info', 'sending snapshot to lagging follower', { to, index: snapshot.meta.index });
  r.send({ type: 'InstallSnapshot', to, snapshot });
  return true;
}

/** §3.6.2: commit the majority-replicated index only if its entry is from the current term. */
export function maybeCommit(r: Raft): boolean {
  assertLeader(r);
  const index = r.tracker.committed();
  if (index <= r.log.commitIndex) return false;
  if (r.log.term(index) !== r.term && !r.config.mutations.commitOldTermByCounting) return false;
  r.log.commitTo(index);
  releaseReadsDeferredToTermCommit(r);
  if (r.log.membershipCommitted()) {
    tellDepartedTheyLeft(r);
    leaveCommittedJoint(r);
  }
  return true;
}

/**
 * §6.4 step 1: reads that arrived before this leader committed an entry of its term waited,
 * since its commit index might lag the cluster's; now it may record them.
 */
function releaseReadsDeferredToTermCommit(r: Raft): void {
  if (r.log.term(r.log.commitIndex) !== r.term) return;
  for (const read of r.reads.takeDeferred()) r.reads.add(read.context, read.from, r.log.commitIndex);
  if (r.reads.size() > 0) broadcastHeartbeat(r);
}

export function onLeaderMessage(r: Raft, m: Message): void {
  assertLeader(r);
  assert(m.term === r.term, () => `message of term ${m.term} reached the leader handler in term ${r.term}`);
  switch (m.type) {
    case 'AppendEntriesResponse':
      // Last: the handler still sends as the leader.
      if (onAppendEntriesResponse(r, m)) stepDownIfRemoved(r);
      return;
    case 'HeartbeatResponse':
      onHeartbeatResponse(r, m);
      return;
    case 'ReadIndexRequest':
    case 'LeaseReadIndexRequest':
      onReadIndexRequest(r, m);
      return;
    default:
      // AppendEntries, InstallSnapshot or Heartbeat at our own term would mean two leaders.
      r.emit('warn', `ignored ${m.type}: this node is the leader`, { from: m.from });
  }
}

/** Returns whether the commit index moved. */
function onAppendEntriesResponse(r: Raft, m: AppendEntriesResponse): boolean {
  const progress = r.tracker.get(m.from);
  if (!progress) return false;
  progress.markActive();
  if (!m.success) {
    const probeFrom = r.log.probeIndexFromHint(m.hintIndex, m.hintTerm);
    if (progress.onRejected(m.rejectedIndex, probeFrom)) {
      if (progress.state === 'replicate') progress.becomeProbe();
      sendAppend(r, m.from);
    }
    return false;
  }
  const wasPaused = progress.isPaused();
  if (!progress.maybeUpdate(m.matchIndex)) {
    if (wasPaused && !progress.isPaused()) sendNewEntries(r, m.from);
    return false;
  }
  if (progress.state === 'probe') progress.becomeReplicate();
  else if (progress.state === 'snapshot' && progress.match >= progress.pendingSnapshot) {
    progress.becomeProbe();
    progress.becomeReplicate();
  } else if (progress.state === 'replicate') progress.inflights.freeThrough(m.matchIndex);

  const committed = maybeCommit(r);
  if (committed) broadcastAppend(r);
  else sendNewEntries(r, m.from);
  // A member the committed configuration removed may just have acknowledged it.
  tellDepartedTheyLeft(r);
  // Fill the pipeline.
  while (sendNewEntries(r, m.from)) {}
  if (m.from === r.transferTarget && progress.match === r.log.lastIndex()) {
    r.emit('info', 'leadership transfer: target caught up, sending TimeoutNow', { to: m.from });
    sendTimeoutNow(r, m.from);
  }
  return committed;
}

function onHeartbeatResponse(r: Raft, m: HeartbeatResponse): void {
  const progress = r.tracker.get(m.from);
  if (!progress) return;
  progress.heartbeatAnswered();
  if (
    progress.state === 'snapshot' &&
    r.ticks - progress.snapshotSentAtTick >= snapshotTimeoutElections * r.config.electionTimeoutTicks
  ) {
    r.emit('warn', 'snapshot transfer presumed lost, probing again', { to: m.from });
    progress.becomeProbe();
  }
  if (progress.match < r.log.lastIndex()) sendAppend(r, m.from);
  if (progress.acknowledgeReadRound(m.readRound)) {
    if (keepsLease(r.config)) r.lease.roundConfirmed(r.tracker.confirmedReadRound());
    releaseReads(r);
  }
}

function releaseReads(r: Raft): void {
  for (const read of r.reads.releaseConfirmed((round) => r.tracker.readRoundConfirmed(round))) {
    if (read.from === r.id) r.releaseRead(read.context, read.index);
    else r.send({ type: 'ReadIndexResponse', to: read.from, context: read.context, readIndex: read.index });
  }
}

function onReadIndexRequest(r: Raft, m: ReadIndexRequest | LeaseReadIndexRequest): void {
  // The leader's own config decides whether a lease exists (checkQuorum); the read, whether to use it.
  readIndexAtLeader(r, m.context, m.from, m.type === 'LeaseReadIndexRequest' && keepsLease(r.config));
}

/**
 * §6.4: record the commit index, then confirm leadership with a heartbeat round — or, for a
 * read that may use it, answer at once while the leader lease holds (§6.4.1).
 */
export function readIndexAtLeader(r: Raft, context: string, from: NodeId, lease: boolean): void {
  assertLeader(r);
  const answer = (readIndex: number): void => {
    if (from === r.id) {
      if (readIndex > 0) r.releaseRead(context, readIndex);
      else r.failRead(context, 'Busy');
    } else r.send({ type: 'ReadIndexResponse', to: from, context, readIndex });
  };
  if (r.config.mutations.readIndexWithoutHeartbeat) {
    answer(r.log.commitIndex);
    return;
  }
  if (r.reads.size() >= r.config.pendingReadsMax) {
    answer(0);
    return;
  }
  if (r.log.term(r.log.commitIndex) !== r.term) {
    // Our commit index may lag the cluster's until an entry of our term commits.
    r.reads.deferUntilTermCommit(context, from);
    return;
  }
  if (r.tracker.isQuorumAlone(r.id)) {
    // One voter is its own majority.
    answer(r.log.commitIndex);
    return;
  }
  if (lease && r.lease.valid(r.ticks)) {
    // §6.4.1: no other leader can exist before the lease ends; no round needed.
    answer(r.log.commitIndex);
    return;
  }
  r.reads.add(context, from, r.log.commitIndex);
}

export function transferLeadership(r: Raft, to: NodeId): TransferResult {
  if (r.role !== 'leader') return { kind: 'rejected', reason: 'NotLeader' };
  if (to === r.id) return { kind: 'rejected', reason: 'TargetIsSelf' };
  const progress = r.tracker.get(to);
  if (!progress) return { kind: 'rejected', reason: 'UnknownTarget' };
  // Only a voter of the configuration being entered can take over (a learner cannot be elected).
  if (!r.tracker.membership.voters.includes(to)) return { kind: 'rejected', reason: 'TargetNotVoter' };
  if (r.transferTarget !== null) {
    if (r.transferTarget === to) return { kind: 'started' };
    return { kind: 'rejected', reason: 'TransferInProgress' };
  }
  // A target that is unreachable or needs a snapshot cannot catch up within one election timeout.
  if (!progress.recentActive || progress.state === 'snapshot')
    return { kind: 'rejected', reason: 'TargetLagging' };
  // The transfer must finish within one election timeout, or it is aborted (tickLeader).
  r.beginLeaderTransfer(to);
  r.emit('info', 'leadership transfer started', { to });
  if (progress.match === r.log.lastIndex()) sendTimeoutNow(r, to);
  else sendAppend(r, to);
  return { kind: 'started' };
}

/**
 * TimeoutNow makes its target campaign past the followers' lease check (§3.10), so once one has
 * been sent — even if the transfer is later aborted, the message may still arrive — this
 * leader's lease can no longer be trusted for the rest of its term.
 */
function sendTimeoutNow(r: Raft, to: NodeId): void {
  r.lease.revoke();
  r.send({ type: 'TimeoutNow', to });
}
