// The follower: a leader's traffic — the AppendEntries consistency check with a conflict hint
// (§3.5), heartbeats, snapshot installation (chapter 5) — TimeoutNow (§3.10) and the answers to
// the reads it relayed (§6.4). Candidates hand what is not theirs to it (candidate.ts).

import { assert } from '../../assert.js';
import type { RaftState as Raft } from '../raft-state.js';
import type { AppendEntries, Heartbeat, InstallSnapshot, Message } from '../types.js';

/** A message in the follower's term (the term rules of raft.ts have run). */
export function onFollowerMessage(r: Raft, m: Message): void {
  assert(r.role === 'follower', () => `follower handler called for a ${r.role}`);
  assert(m.term === r.term, () => `message of term ${m.term} reached the follower handler in term ${r.term}`);
  switch (m.type) {
    case 'AppendEntries':
    case 'Heartbeat':
    case 'InstallSnapshot':
      // The sender leads this term (at most one leader per term): learn it once.
      if (r.leaderId !== m.from) r.becomeFollower(m.term, m.from, 'heard from leader');
      r.heardFromLeader();
      if (m.type === 'AppendEntries') onAppendEntries(r, m);
      else if (m.type === 'Heartbeat') onHeartbeat(r, m);
      else onInstallSnapshot(r, m);
      return;
    default:
      onNotLeaderMessage(r, m);
  }
}

/**
 * What a follower or a candidate does with the rest: a transfer's TimeoutNow campaigns at once
 * (§3.10, past the others' leader stickiness); the leader's answer to a read we relayed serves it
 * once applied that far, or fails it (§6.4); a read relayed to us is refused — we do not lead.
 */
export function onNotLeaderMessage(r: Raft, m: Message): void {
  assert(r.role !== 'leader', 'the leader handed a message to the not-leader handler');
  switch (m.type) {
    case 'TimeoutNow':
      r.emit('info', 'leadership transfer: campaigning now', { from: m.from });
      r.campaignForTransfer();
      return;
    case 'ReadIndexResponse':
      if (m.readIndex > 0) r.releaseRead(m.context, m.readIndex);
      else r.failRead(m.context, 'NotLeader');
      return;
    case 'ReadIndexRequest':
    case 'LeaseReadIndexRequest':
      r.send({ type: 'ReadIndexResponse', to: m.from, context: m.context, readIndex: 0 });
      return;
    default:
      r.emit('debug', `ignored ${m.type}: not leader`, { from: m.from });
  }
}

function onAppendEntries(r: Raft, m: AppendEntries): void {
  const reply = { type: 'AppendEntriesResponse', to: m.from } as const;
  if (m.prevLogIndex < r.log.commitIndex) {
    // Everything up to our commit index already matches the leader (Log Matching).
    r.send({
      ...reply,
      success: true,
      matchIndex: r.log.commitIndex,
      rejectedIndex: 0,
      hintIndex: 0,
      hintTerm: 0,
    });
    return;
  }
  const lastNew = r.log.maybeAppend(m.prevLogIndex, m.prevLogTerm, m.leaderCommit, m.entries);
  if (lastNew !== null) {
    r.send({ ...reply, success: true, matchIndex: lastNew, rejectedIndex: 0, hintIndex: 0, hintTerm: 0 });
    return;
  }
  // Our entry at prevLogIndex is missing or has another term: tell the leader where we could
  // agree, so it skips a whole term at a time instead of one entry per round trip.
  const hint = r.log.findConflictByTerm(m.prevLogIndex, m.prevLogTerm);
  r.emit('debug', 'rejected AppendEntries: log mismatch', {
    prevLogIndex: m.prevLogIndex,
    hintIndex: hint.index,
  });
  r.send({
    ...reply,
    success: false,
    matchIndex: 0,
    rejectedIndex: m.prevLogIndex,
    hintIndex: hint.index,
    hintTerm: hint.term,
  });
}

function onHeartbeat(r: Raft, m: Heartbeat): void {
  // The leader sends min(our match, its commit), so this never passes what we hold.
  r.log.commitTo(Math.min(m.leaderCommit, r.log.lastIndex()));
  r.send({ type: 'HeartbeatResponse', to: m.from, readRound: m.readRound });
}

function onInstallSnapshot(r: Raft, m: InstallSnapshot): void {
  const { index, term } = m.snapshot.meta;
  assert(index > 0, 'a leader sent an empty snapshot');
  const reply = {
    type: 'AppendEntriesResponse',
    to: m.from,
    success: true,
    rejectedIndex: 0,
    hintIndex: 0,
    hintTerm: 0,
  } as const;
  if (index <= r.log.commitIndex) {
    r.send({ ...reply, matchIndex: r.log.commitIndex });
    return;
  }
  if (r.log.matchTerm(index, term)) {
    // We already hold the entries it covers: just learn that they are committed.
    r.log.commitTo(index);
    r.send({ ...reply, matchIndex: r.log.commitIndex });
    return;
  }
  r.log.restore(m.snapshot);
  r.emit('info', 'installing snapshot from leader', { index, snapshotTerm: term, from: m.from });
  r.send({ ...reply, matchIndex: r.log.lastIndex() });
}
