// Goal: small building blocks for step-by-step scenario tests on a SimCluster: wait for a leader,
// commit a write and wait until it is applied, compare state machines. Every helper fails with a
// message saying what did not happen within how many ticks; the cluster's safety checker keeps
// running underneath, so any violation along the way throws a SafetyViolation.

import assert from 'node:assert/strict';
import type { Message, NodeId } from '../../src/raft/index.js';
import type { SimCluster } from './cluster.js';

export function electionTimeout(c: SimCluster): number {
  return c.config.electionTimeoutTicks;
}

/** Ticks until some live node leads (and, if given, until `pred(leader)`), or fails. */
export function waitLeader(
  c: SimCluster,
  maxTicks: number,
  pred: (id: NodeId) => boolean = () => true,
): NodeId {
  const took = c.runUntil(() => {
    const l = c.leader();
    return l !== null && pred(l);
  }, maxTicks);
  assert.ok(took !== null, `no suitable leader within ${maxTicks} ticks (tick ${c.now})`);
  return c.leader()!;
}

export function term(c: SimCluster, id: NodeId): number {
  const s = c.status(id);
  assert.ok(s !== null, `${id} is down`);
  return s.term;
}

/** True once every live node's state machine (or each of `ids`) has applied `index`. */
export function appliedEverywhere(
  c: SimCluster,
  index: number,
  ids: readonly NodeId[] = c.liveIds(),
): boolean {
  return ids.every((id) => (c.stateMachine(id)?.applied ?? 0) >= index);
}

/** Proposes `put key ...` at the leader and waits until every live node (or each of `ids`) applied it. */
export function commitWrite(
  c: SimCluster,
  key: string,
  maxTicks = 20 * electionTimeout(c),
  ids?: readonly NodeId[],
): { index: number; term: number } {
  const leader = waitLeader(c, maxTicks);
  const res = c.propose(leader, key);
  assert.ok(res !== null && res.kind === 'accepted', `leader ${leader} refused a proposal`);
  const took = c.runUntil(() => appliedEverywhere(c, res.index, ids), maxTicks);
  assert.ok(took !== null, `write at ${res.index} not applied everywhere within ${maxTicks} ticks`);
  assert.equal(c.checker.appliedAt(res.index)?.term, res.term, `write at ${res.index}/t${res.term} was lost`);
  return { index: res.index, term: res.term };
}

/** All live state machines are at the same index with the same history hash. */
export function assertConverged(c: SimCluster): void {
  const live = c.liveIds();
  const first = c.stateMachine(live[0]!)!;
  for (const id of live) {
    const sm = c.stateMachine(id)!;
    assert.equal(sm.applied, first.applied, `${id} applied ${sm.applied}, ${live[0]} ${first.applied}`);
    assert.equal(sm.chain, first.chain, `${id} and ${live[0]} applied different histories`);
  }
}

/** A network filter that lets only `candidate` win votes: other candidates reach only it. */
export function onlyCandidate(candidate: NodeId): (m: Message) => boolean {
  return (m) => !(m.type === 'RequestVote' && m.from !== candidate && m.to !== candidate);
}
