// Elections (§3.4) with the PreVote phase (§9.6): a node first asks whether it could win, and
// only then increments its term, so a node that cannot win never inflates the cluster's term.

import { assert } from '../../assert.js';
import type { RaftState as Raft } from '../raft-state.js';
import type { Message, PreVoteResponse, RequestVoteResponse } from '../types.js';
import { onFollowerMessage, onNotLeaderMessage } from './follower.js';
import { broadcastAppend } from './leader.js';

export function startPreVote(r: Raft): void {
  assert(r.role !== 'leader' && r.promotable(), () => `a ${r.role} outside the voters cannot campaign`);
  r.becomePreCandidate();
  r.emit('info', 'starting pre-vote', { forTerm: r.term + 1 });
  requestVotes(r, 'PreVote', { transfer: false });
}

/** Campaigns in a new term; `transfer` after TimeoutNow (§3.10) bypasses the voters' stickiness. */
export function campaign(r: Raft, why: { readonly transfer: boolean }): void {
  assert(r.role !== 'leader' && r.promotable(), () => `a ${r.role} outside the voters cannot campaign`);
  r.becomeCandidate();
  r.emit('info', 'starting election', { transfer: why.transfer });
  requestVotes(r, 'RequestVote', why);
}

function requestVotes(r: Raft, kind: 'PreVote' | 'RequestVote', why: { readonly transfer: boolean }): void {
  r.tracker.recordVote(r.id, { granted: true });
  if (r.tracker.tallyVotes() === 'won') {
    // A single-voter cluster wins at once.
    onElectionWon(r, kind);
    return;
  }
  const lastLogIndex = r.log.lastIndex();
  const lastLogTerm = r.log.lastTerm();
  for (const id of r.tracker.voters) {
    if (id === r.id) continue;
    if (kind === 'PreVote') r.send({ type: 'PreVote', to: id, lastLogIndex, lastLogTerm });
    else r.send({ type: 'RequestVote', to: id, lastLogIndex, lastLogTerm, transfer: why.transfer });
  }
}

function onElectionWon(r: Raft, kind: 'PreVote' | 'RequestVote'): void {
  if (kind === 'PreVote') {
    campaign(r, { transfer: false });
    return;
  }
  r.becomeLeader();
  broadcastAppend(r);
}

/**
 * A (pre-)candidate's messages other than vote answers, in its term. §3.4: a candidate that hears
 * from a leader of its own term steps back and handles the message as a follower (one of a newer
 * term has already made it a follower, raft.ts). A late answer to a read it relayed as a follower,
 * or a read relayed to it, is handled as a follower would; anything else is not for a candidate.
 */
export function onCandidateMessage(r: Raft, m: Message): void {
  assert(
    r.role === 'candidate' || r.role === 'precandidate',
    () => `candidate handler called for a ${r.role}`,
  );
  assert(
    m.term === r.term,
    () => `message of term ${m.term} reached the candidate handler in term ${r.term}`,
  );
  switch (m.type) {
    case 'AppendEntries':
    case 'Heartbeat':
    case 'InstallSnapshot':
      r.becomeFollower(m.term, m.from, 'heard from leader');
      onFollowerMessage(r, m);
      return;
    default:
      // As a follower would (a late answer to a read relayed before the election included).
      onNotLeaderMessage(r, m);
  }
}

export function onVoteResponse(r: Raft, m: RequestVoteResponse | PreVoteResponse): void {
  assert(
    m.term >= r.term,
    () => `a vote answer of stale term ${m.term} passed the term rules (term ${r.term})`,
  );
  const expected = m.type === 'PreVoteResponse' ? 'precandidate' : 'candidate';
  if (r.role !== expected) return;
  // A granted PreVote answer carries the term we would campaign in.
  if (m.type === 'PreVoteResponse' && m.granted && m.term !== r.term + 1) return;
  r.tracker.recordVote(m.from, m);
  const result = r.tracker.tallyVotes();
  if (result === 'won') {
    onElectionWon(r, m.type === 'PreVoteResponse' ? 'PreVote' : 'RequestVote');
  } else if (result === 'lost') {
    // §3.4: wait for the next timeout (or a leader's message) as a follower.
    r.becomeFollower(r.term, null, 'lost election');
  }
}
