// Goal: the single-server membership change bug found in 2015 (thesis §4.2 and its errata), built
// step by step on the simulated cluster: why a leader may change the membership only once it has
// committed an entry of its own term. Four voters S1..S4 (S1 the first leader) and a new node S5;
// pre-vote and CheckQuorum are off, as in the errata's example.
//  (a) S1 leads term A and adds S5 as a voter: the configuration C1 = {S1..S5}, in force at once
//      on S1, reaches only S5 (S2..S4 are cut off).
//  (b) S2 is elected in term B by S3 and S4; its entries reach S3, not S4. Before its own no-op
//      has committed, the operator asks it to remove S1, which it cannot reach:
//      C2 = {S2,S3,S4}. With the rule, S2 refuses (NotReadyForChange) and, S4 out of reach,
//      commits nothing. Without it (mutation changeBeforeTermCommit), C2 is in force on S2 at
//      once and S2 and S3 — a majority of C2 — commit it: a majority that does not meet
//      {S1,S4,S5}, a majority of C1 whose logs are all no more up-to-date than S1's. The checker
//      reports it there (quorum intersection).
//  (c) With the rule the story goes on: S1 wins term C with S4 and S5 (a majority of C1), commits
//      C1, and once the network heals every node takes S1's log — what S2 appended in term B is
//      overwritten, and none of it had been committed.

import assert from 'node:assert/strict';
import type { Message, Mutations, NodeId } from '../../src/raft/index.js';
import { SimCluster } from './cluster.js';
import { appliedEverywhere, commitWrite, onlyCandidate, term, waitLeader } from './helpers.js';

export interface SingleServerBugOutcome {
  readonly cluster: SimCluster;
  readonly s: readonly NodeId[];
  /** Where C1 was appended (in term A); S2's no-op of term B went to the same index. */
  readonly c1: { readonly index: number; readonly term: number };
}

const MAX = 400;

export function singleServerBug(mutations: Mutations = {}): SingleServerBugOutcome {
  const c = new SimCluster({
    seed: 2015,
    size: 4,
    raft: { preVote: false, checkQuorum: false, mutations },
  });
  commitWrite(c, 'k');
  const s1 = waitLeader(c, MAX);
  const [s2, s3, s4] = c.ids.filter((id) => id !== s1) as [NodeId, NodeId, NodeId];
  const s5 = 'n5';
  c.addNode(s5);
  const holds = (id: NodeId, index: number, t: number): boolean => c.storage(id).term(index) === t;

  // (a) S1 adds S5; only S5 hears of it.
  c.net.partition([
    [s1, s5],
    [s2, s3, s4],
  ]);
  const add = c.proposeMembership(s1, [{ kind: 'addVoter', id: s5, address: `sim://${s5}` }]);
  assert.ok(add?.kind === 'accepted', `(a) S1 accepts adding S5: ${JSON.stringify(add)}`);
  const c1 = { index: add.index, term: add.term };
  assert.equal(add.membership.voters.length, 5);
  assert.ok(c.runUntil(() => holds(s5, c1.index, c1.term), MAX) !== null, '(a) S5 got C1');
  for (const id of [s2, s3, s4]) assert.equal(c.storage(id).lastIndex(), c1.index - 1, `(a) ${id} has no C1`);

  // (b) S2 is elected by S3 and S4; its AppendEntries reach S3 only.
  const vote = onlyCandidate(s2);
  const notToS4 = (m: Message): boolean => vote(m) && !(m.type === 'AppendEntries' && m.to === s4);
  c.net.filter = notToS4;
  waitLeader(c, MAX, (l) => l === s2);
  const termB = term(c, s2);
  assert.ok(termB > c1.term);
  const remove = c.proposeMembership(s2, [{ kind: 'remove', id: s1 }]);
  assert.ok(remove !== null);
  if (!mutations.changeBeforeTermCommit) {
    assert.equal(
      remove.kind === 'rejected' && remove.reason,
      'NotReadyForChange',
      '(b) S2 refuses the change',
    );
  } else {
    assert.equal(remove.kind, 'accepted', '(b) without the rule S2 takes the change');
  }
  // Without the rule the checker throws here, at S2's commit.
  c.run(20);
  assert.equal(c.status(s2)!.commitIndex, c1.index - 1, '(b) S2 committed nothing of term B');
  assert.equal(c.checker.appliedAt(c1.index), undefined, '(b) nothing is committed at C1’s index');

  // (c) S1 wins term C with S4 and S5 — a majority of C1 — and commits C1.
  c.net.filter = null;
  c.net.heal();
  c.net.partition([
    [s1, s4, s5],
    [s2, s3],
  ]);
  c.net.filter = onlyCandidate(s1);
  waitLeader(c, MAX, (l) => l === s1 && term(c, l) > termB);
  assert.ok(c.runUntil(() => c.checker.appliedAt(c1.index) !== undefined, MAX) !== null, '(c) C1 committed');
  assert.equal(c.checker.appliedAt(c1.index)!.term, c1.term, '(c) C1, not S2’s no-op, is committed');
  c.net.filter = null;
  c.net.heal();
  const last = commitWrite(c, 'after');
  assert.ok(c.runUntil(() => appliedEverywhere(c, last.index), MAX) !== null);
  for (const id of [s1, s2, s3, s4, s5]) {
    assert.equal(c.storage(id).term(c1.index), c1.term, `(c) ${id} holds C1`);
    assert.equal(c.status(id)!.membership.voters.length, 5, `(c) ${id} has the five voters of C1`);
  }
  return { cluster: c, s: [s1, s2, s3, s4, s5], c1 };
}
