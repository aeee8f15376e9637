// Goal: the thesis's Figure 3.7 (§3.6.2), built step by step on a five-node simulated cluster:
// why a leader must not commit an entry of an older term by counting replicas. S1..S5 are
// assigned once the first leader is known (S1 is that leader). Pre-vote and CheckQuorum are off,
// as in the figure, and one entry travels per AppendEntries, so an old entry can reach a
// majority while the new leader's own entry does not.
//  (a) S1 leads term A and replicates entry X (index i) to S2 only.
//  (b) S1 crashes; S5 is elected with votes from S3, S4 and itself (term B) and appends its own
//      entry Y at index i, which no one else receives.
//  (c) S5 crashes; S1 restarts and is elected (term C); it replicates X to S3, so X is on a
//      majority, but no entry of term C is. X must NOT be committed now.
//  (d) S1 crashes; S5 restarts and is elected by S2, S3, S4 (their last term A < B) and replaces
//      X with Y everywhere — harmless only because X was never committed.
//  (e) Alternatively, S1 first replicates an entry of term C to a majority: that commits X, and
//      S5 can no longer win an election.

import assert from 'node:assert/strict';
import type { Message, Mutations, NodeId } from '../../src/raft/index.js';
import { SimCluster } from './cluster.js';
import { appliedEverywhere, commitWrite, onlyCandidate, term, waitLeader } from './helpers.js';

export interface Figure37Outcome {
  readonly cluster: SimCluster;
  readonly s: readonly NodeId[];
  /** X's index and term. */
  readonly x: { readonly index: number; readonly term: number };
  readonly termB: number;
  readonly termC: number;
}

const MAX = 400;

export function figure37(ending: 'd' | 'e', mutations: Mutations = {}): Figure37Outcome {
  const c = new SimCluster({
    seed: 37,
    size: 5,
    raft: { preVote: false, checkQuorum: false, messageBytesMax: 1, mutations },
  });
  commitWrite(c, 'k');
  const s1 = waitLeader(c, MAX);
  const [s2, s3, s4, s5] = c.ids.filter((id) => id !== s1) as [NodeId, NodeId, NodeId, NodeId];
  const holds = (id: NodeId, index: number, t: number): boolean => c.storage(id).term(index) === t;

  // (a) S1 replicates X to S2 only.
  for (const to of [s3, s4, s5]) c.net.block(s1, to);
  const res = c.propose(s1, 'x');
  assert.ok(res?.kind === 'accepted');
  const x = { index: res.index, term: res.term };
  assert.ok(c.runUntil(() => holds(s2, x.index, x.term), 10) !== null, '(a) S2 got X');
  assert.ok(c.status(s1)!.commitIndex < x.index, '(a) X is on two of five nodes: not committed');

  // (b) S1 crashes; S5 is elected without S2 and appends Y at index i, which it keeps to itself.
  c.crash(s1);
  c.net.heal();
  c.net.isolate(s2, c.ids);
  c.net.filter = onlyCandidate(s5);
  waitLeader(c, MAX, (l) => l === s5);
  c.net.isolate(s5, c.ids); // its AppendEntries, in flight, are cut too
  const termB = term(c, s5);
  c.run(2);
  assert.ok(holds(s5, x.index, termB), '(b) S5 holds its own entry Y at index i');
  for (const id of [s3, s4])
    assert.equal(c.storage(id).lastIndex(), x.index - 1, `(b) ${id} has nothing at i`);

  // (c) S5 crashes; S1 restarts and is elected. X may reach S3 and S4, entries of term C may not:
  // an AppendEntries carrying one is lost whenever the receiver would accept it.
  c.crash(s5);
  c.net.heal();
  c.restart(s1);
  const vote = onlyCandidate(s1);
  const holdBackTermC = (m: Message): boolean => {
    if (!vote(m)) return false;
    // Every entry newer than term B is one of S1's term-C entries.
    if (m.type !== 'AppendEntries' || !m.entries.some((e) => e.term > termB)) return true;
    return c.storage(m.to).term(m.prevLogIndex) !== m.prevLogTerm; // it would be rejected anyway
  };
  c.net.filter = holdBackTermC;
  waitLeader(c, MAX, (l) => l === s1);
  const termC = term(c, s1);
  assert.ok(termC > termB);
  assert.ok(c.runUntil(() => holds(s3, x.index, x.term), MAX) !== null, '(c) X reached S3');
  c.run(5);
  if (!mutations.commitOldTermByCounting) {
    assert.ok(
      c.status(s1)!.commitIndex < x.index,
      '(c) X is on a majority but must not be committed (§3.6.2)',
    );
    assert.equal(c.checker.appliedAt(x.index), undefined, '(c) nobody applied X');
  }

  if (ending === 'd') {
    // (d) S1 crashes; S5 restarts, is elected by S2, S3, S4 and overwrites X.
    c.crash(s1);
    c.restart(s5);
    c.net.filter = onlyCandidate(s5);
    waitLeader(c, MAX, (l) => l === s5);
    c.net.filter = null;
    assert.ok(
      c.runUntil(() => appliedEverywhere(c, x.index), MAX) !== null,
      '(d) index i applied everywhere',
    );
    assert.equal(c.checker.appliedAt(x.index)!.term, termB, '(d) Y, not X, is committed at index i');
  } else {
    // (e) S1 replicates its term-C entry to a majority, which commits X with it.
    c.net.filter = vote;
    const done = (): boolean =>
      c.checker.appliedAt(x.index) !== undefined &&
      holds(s2, x.index + 1, termC) &&
      holds(s3, x.index + 1, termC);
    assert.ok(c.runUntil(done, MAX) !== null, '(e) the term-C entry reached S2 and S3');
    assert.equal(c.checker.appliedAt(x.index)!.term, x.term, '(e) X is committed');
    c.crash(s1);
    c.restart(s5);
    c.net.filter = onlyCandidate(s5);
    assert.equal(
      c.runUntil(() => c.leader() === s5, MAX),
      null,
      '(e) S5 cannot win: S2 and S3 hold a newer log',
    );
    c.net.filter = null;
    waitLeader(c, MAX);
    assert.ok(c.runUntil(() => appliedEverywhere(c, x.index), MAX) !== null);
    assert.equal(c.checker.appliedAt(x.index)!.term, x.term, '(e) X stays committed');
  }
  return { cluster: c, s: [s1, s2, s3, s4, s5], x, termB, termC };
}
