// Elections (§3.4) with the PreVote phase (§9.6): a node first asks whether it could win, and
// only then increments its term, so a node that cannot win never inflates the cluster's term.

import type { Raft } from '../raft.js';
import type { PreVoteResponse, RequestVoteResponse } from '../types.js';

export function startPreVote(r: Raft): void {
  r.becomePreCandidate();
  r.emit('info', 'starting pre-vote', { forTerm: r.term + 1 });
  requestVotes(r, 'PreVote', false);
}

export function campaign(r: Raft, transfer: boolean): void {
  r.becomeCandidate();
  r.emit('info', 'starting election', { transfer });
  requestVotes(r, 'RequestVote', transfer);
}

function requestVotes(r: Raft, kind: 'PreVote' | 'RequestVote', transfer: boolean): void {
  r.tracker.recordVote(r.id, true);
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
    else r.send({ type: 'RequestVote', to: id, lastLogIndex, lastLogTerm, transfer });
  }
}

function onElectionWon(r: Raft, kind: 'PreVote' | 'RequestVote'): void {
  if (kind === 'PreVote') campaign(r, false);
  else r.becomeLeader();
}

export function onVoteResponse(r: Raft, m: RequestVoteResponse | PreVoteResponse): void {
  const expected = m.type === 'PreVoteResponse' ? 'precandidate' : 'candidate';
  if (r.role !== expected) return;
  // A granted PreVote answer carries the term we would campaign in.
  if (m.type === 'PreVoteResponse' && m.granted && m.term !== r.term + 1) return;
  r.tracker.recordVote(m.from, m.granted);
  const result = r.tracker.tallyVotes();
  if (result === 'won') {
    onElectionWon(r, m.type === 'PreVoteResponse' ? 'PreVote' : 'RequestVote');
  } else if (result === 'lost') {
    // §3.4: wait for the next timeout (or a leader's message) as a follower.
    r.becomeFollower(r.term, null, 'lost election');
  }
}
