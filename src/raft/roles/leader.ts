// The leader: proposals, replication with flow control (§3.5, §10.2), commitment by counting
// replicas of current-term entries only (§3.6.2), heartbeats, CheckQuorum (§6.2), ReadIndex
// (§6.4) and leadership transfer (§3.10).

import { present } from '../assert.js';
import type { Raft } from '../raft.js';
import type {
  AppendEntriesResponse,
  Entry,
  HeartbeatResponse,
  Message,
  NodeId,
  ProposeResult,
  ReadIndexRequest,
  TransferResult,
} from '../types.js';

/** A snapshot transfer not acknowledged after this many election timeouts is presumed lost. */
const snapshotTimeoutElections = 4;

export function tickLeader(r: Raft): void {
  r.heartbeatElapsed++;
  r.electionElapsed++;
  if (r.electionElapsed >= r.config.electionTimeoutTicks) {
    r.electionElapsed = 0;
    if (r.config.checkQuorum) {
      const self = r.tracker.get(r.id);
      if (self) self.recentActive = true;
      if (!r.tracker.quorumActive()) {
        r.emit('warn', 'stepping down: no majority heard from within an election timeout');
        r.becomeFollower(r.term, null, 'check quorum failed');
        return;
      }
      for (const [id, pr] of r.tracker.progress) pr.recentActive = id === r.id;
    }
    if (r.leadTransferee !== null) {
      r.emit('warn', 'leadership transfer aborted: target did not take over in time', {
        to: r.leadTransferee,
      });
      r.abortLeaderTransfer();
    }
  }
  if (r.heartbeatElapsed >= r.config.heartbeatIntervalTicks) {
    r.heartbeatElapsed = 0;
    bcastHeartbeat(r);
  }
}

/**
 * §10.2.1: the leader's own entries count toward a quorum only once they are on its disk; the
 * driver reports that after the fsync, which may commit what the followers already hold.
 */
export function onOwnEntriesPersisted(r: Raft, last: Entry): void {
  const self = r.tracker.get(r.id);
  if (self && r.log.matchTerm(last.index, last.term) && self.maybeUpdate(last.index) && maybeCommit(r)) {
    bcastAppend(r);
  }
}

/** Applied entries of this term no longer count toward the uncommitted-bytes bound. */
export function releaseUncommittedBytes(r: Raft, applied: readonly Entry[]): void {
  let bytes = 0;
  for (const e of applied) if (e.term === r.term) bytes += e.data.byteLength;
  r.uncommittedBytes = Math.max(0, r.uncommittedBytes - bytes);
}

/**
 * The driver's transport could not reach `id`: stop pipelining to it (replicate → probe), so at
 * most one AppendEntries waits in the transport's queue until the peer answers.
 */
export function onPeerUnreachable(r: Raft, id: NodeId): void {
  const pr = r.tracker.get(id);
  if (pr && pr.state === 'replicate') pr.becomeProbe();
}

export function propose(r: Raft, data: Uint8Array): ProposeResult {
  if (r.role !== 'leader') return { kind: 'rejected', reason: 'NotLeader', leaderId: r.leaderId };
  if (r.leadTransferee !== null) return { kind: 'rejected', reason: 'TransferInProgress', leaderId: r.id };
  if (data.byteLength > r.config.uncommittedBytesMax)
    return { kind: 'rejected', reason: 'TooLarge', leaderId: r.id };
  if (r.uncommittedBytes > 0 && r.uncommittedBytes + data.byteLength > r.config.uncommittedBytesMax) {
    return { kind: 'rejected', reason: 'Busy', leaderId: r.id };
  }
  const index = r.log.lastIndex() + 1;
  r.log.append([{ term: r.term, index, type: 'command', data }]);
  r.uncommittedBytes += data.byteLength;
  // Proposals made before the driver next takes messages go out together, in one AppendEntries
  // per follower (see flushProposals).
  r.proposalsPending = true;
  return { kind: 'accepted', index, term: r.term };
}

/** Sends the entries proposed since the last flush: one batch per follower, not one per proposal. */
export function flushProposals(r: Raft): void {
  if (!r.proposalsPending) return;
  r.proposalsPending = false;
  if (r.role === 'leader') bcastAppend(r);
}

export function bcastAppend(r: Raft): void {
  for (const id of r.tracker.voters) if (id !== r.id) sendAppend(r, id);
}

export function bcastHeartbeat(r: Raft): void {
  const lease = r.config.readMode === 'lease';
  // In lease mode every broadcast is a round, so each heartbeat's answers can renew the lease.
  const round = lease ? r.reads.startRound() : (r.reads.startRoundIfNeeded() ?? r.reads.round);
  if (lease) r.lease.roundSent(round, r.ticks);
  const self = r.tracker.get(r.id);
  if (self) self.ackedReadRound = round;
  for (const id of r.tracker.voters) {
    if (id === r.id) continue;
    const pr = present(r.tracker.get(id), "a voter's progress");
    r.send({ type: 'Heartbeat', to: id, commit: Math.min(pr.match, r.log.committed), readRound: round });
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
  const pr = r.tracker.get(to);
  if (!pr || pr.isPaused()) return false;
  const prevLogIndex = pr.next - 1;
  const prevLogTerm = r.log.term(prevLogIndex);
  const entries = prevLogTerm === null ? null : r.log.entriesFrom(pr.next, r.config.maxMessageBytes);
  if (prevLogTerm === null || entries === null) return sendSnapshot(r, to);
  if (entries.length === 0 && when === 'only-entries') return false;
  let bytes = 0;
  for (const e of entries) bytes += e.data.byteLength;
  r.send({ type: 'AppendEntries', to, prevLogIndex, prevLogTerm, entries, leaderCommit: r.log.committed });
  pr.sentEntries(prevLogIndex + entries.length, bytes, entries.length);
  return true;
}

function sendSnapshot(r: Raft, to: NodeId): boolean {
  const pr = present(r.tracker.get(to), "the target's progress");
  // A follower we have not heard from recently is probably down: do not ship it a snapshot.
  if (!pr.recentActive) return false;
  const snapshot = r.log.snapshot();
  if (snapshot.meta.index === 0) return false;
  pr.becomeSnapshot(snapshot.meta.index, r.ticks);
  r.emit('info', 'sending snapshot to lagging follower', { to, index: snapshot.meta.index });
  r.send({ type: 'InstallSnapshot', to, snapshot });
  return true;
}

/** §3.6.2: commit the majority-replicated index only if its entry is from the current term. */
export function maybeCommit(r: Raft): boolean {
  const index = r.tracker.committed();
  if (index <= r.log.committed) return false;
  if (r.log.term(index) !== r.term && !r.config.mutations.commitOldTermByCounting) return false;
  r.log.commitTo(index);
  r.onCommitAdvanced();
  return true;
}

export function onLeaderMessage(r: Raft, m: Message): void {
  switch (m.type) {
    case 'AppendEntriesResponse':
      onAppendEntriesResponse(r, m);
      return;
    case 'HeartbeatResponse':
      onHeartbeatResponse(r, m);
      return;
    case 'ReadIndexRequest':
      onReadIndexRequest(r, m);
      return;
    default:
      // AppendEntries, InstallSnapshot or Heartbeat at our own term would mean two leaders.
      r.emit('warn', `ignored ${m.type}: this node is the leader`, { from: m.from });
  }
}

function onAppendEntriesResponse(r: Raft, m: AppendEntriesResponse): void {
  const pr = r.tracker.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  if (!m.success) {
    // Skip the follower's whole conflicting term: probe after the last entry whose term ≤ the
    // follower's hint term (the optimisation at the end of §3.5, as refined in etcd-io/raft).
    const probeFrom = m.hintTerm > 0 ? r.log.findConflictByTerm(m.hintIndex, m.hintTerm).index : m.hintIndex;
    if (pr.maybeDecrTo(m.rejectedIndex, probeFrom)) {
      if (pr.state === 'replicate') pr.becomeProbe();
      sendAppend(r, m.from);
    }
    return;
  }
  const wasPaused = pr.isPaused();
  if (!pr.maybeUpdate(m.matchIndex)) {
    if (wasPaused && !pr.isPaused()) sendNewEntries(r, m.from);
    return;
  }
  if (pr.state === 'probe') pr.becomeReplicate();
  else if (pr.state === 'snapshot' && pr.match >= pr.pendingSnapshot) {
    pr.becomeProbe();
    pr.becomeReplicate();
  } else if (pr.state === 'replicate') pr.inflights.freeLE(m.matchIndex);

  if (maybeCommit(r)) bcastAppend(r);
  else sendNewEntries(r, m.from);
  // Fill the pipeline.
  while (sendNewEntries(r, m.from)) {}
  if (m.from === r.leadTransferee && pr.match === r.log.lastIndex()) {
    r.emit('info', 'leadership transfer: target caught up, sending TimeoutNow', { to: m.from });
    sendTimeoutNow(r, m.from);
  }
}

function onHeartbeatResponse(r: Raft, m: HeartbeatResponse): void {
  const pr = r.tracker.get(m.from);
  if (!pr) return;
  pr.recentActive = true;
  pr.probeSent = false;
  // AppendEntries may have been lost: let one more through so replication cannot stall.
  if (pr.state === 'replicate' && pr.inflights.full()) pr.inflights.freeFirstOne();
  if (
    pr.state === 'snapshot' &&
    r.ticks - pr.snapshotSentAtTick >= snapshotTimeoutElections * r.config.electionTimeoutTicks
  ) {
    r.emit('warn', 'snapshot transfer presumed lost, probing again', { to: m.from });
    pr.becomeProbe();
  }
  if (pr.match < r.log.lastIndex()) sendAppend(r, m.from);
  if (m.readRound > pr.ackedReadRound) {
    pr.ackedReadRound = m.readRound;
    if (r.config.readMode === 'lease') r.lease.roundConfirmed(r.tracker.confirmedReadRound());
    releaseReads(r);
  }
}

function releaseReads(r: Raft): void {
  for (const read of r.reads.releaseConfirmed((round) => r.tracker.readRoundConfirmed(round))) {
    if (read.from === r.id) r.releaseRead(read.context, read.index);
    else r.send({ type: 'ReadIndexResponse', to: read.from, context: read.context, readIndex: read.index });
  }
}

function onReadIndexRequest(r: Raft, m: ReadIndexRequest): void {
  readIndexAtLeader(r, m.context, m.from);
}

/** §6.4: record the commit index, then confirm leadership with a heartbeat round. */
export function readIndexAtLeader(r: Raft, context: string, from: NodeId): void {
  const answer = (readIndex: number): void => {
    if (from === r.id) {
      if (readIndex > 0) r.releaseRead(context, readIndex);
      else r.failRead(context, 'Busy');
    } else r.send({ type: 'ReadIndexResponse', to: from, context, readIndex });
  };
  if (r.config.mutations.readIndexWithoutHeartbeat) {
    answer(r.log.committed);
    return;
  }
  if (r.reads.size() >= r.config.pendingReadsMax) {
    answer(0);
    return;
  }
  if (r.log.term(r.log.committed) !== r.term) {
    // Our commit index may lag the cluster's until an entry of our term commits.
    r.reads.deferUntilTermCommit(context, from);
    return;
  }
  if (r.tracker.voters.length === 1) {
    // One voter is its own majority.
    answer(r.log.committed);
    return;
  }
  if (r.config.readMode === 'lease' && r.lease.valid(r.ticks)) {
    // §6.4.1: no other leader can exist before the lease ends; no round needed.
    answer(r.log.committed);
    return;
  }
  r.reads.add(context, from, r.log.committed);
}

export function transferLeadership(r: Raft, to: NodeId): TransferResult {
  if (r.role !== 'leader') return { kind: 'rejected', reason: 'NotLeader' };
  if (to === r.id) return { kind: 'rejected', reason: 'TargetIsSelf' };
  const pr = r.tracker.get(to);
  if (!pr) return { kind: 'rejected', reason: 'UnknownTarget' };
  if (r.leadTransferee !== null) {
    if (r.leadTransferee === to) return { kind: 'started' };
    return { kind: 'rejected', reason: 'TransferInProgress' };
  }
  // A target that is unreachable or needs a snapshot cannot catch up within one election timeout.
  if (!pr.recentActive || pr.state === 'snapshot') return { kind: 'rejected', reason: 'TargetLagging' };
  // The transfer must finish within one election timeout, or it is aborted (tickLeader).
  r.beginLeaderTransfer(to);
  r.emit('info', 'leadership transfer started', { to });
  if (pr.match === r.log.lastIndex()) sendTimeoutNow(r, to);
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
