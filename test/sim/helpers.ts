// Goal: small building blocks for step-by-step scenario tests on a SimCluster: wait for a leader,
// commit a write and wait until it is applied, compare state machines. Every helper fails with a
// message saying what did not happen within how many ticks; the cluster's safety checker keeps
// running underneath, so any violation along the way throws a SafetyViolation. And for the tests
// that show a mutation is caught by a seed: the seed found, replayed, and passing without it.

import assert from 'node:assert/strict';
import type { Message, NodeId } from '../../src/raft/index.js';
import { SafetyViolation } from './checker.js';
import type { SimCluster } from './cluster.js';
import { parseSimArgs } from './options.js';
import { runScenario, type ScenarioOverrides } from './scenario.js';

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

/** How seed `seed`'s scenario ends: 'ok', or the message of the SafetyViolation it threw. */
export function outcome(seed: number, o: ScenarioOverrides): string {
  try {
    runScenario(seed, o);
    return 'ok';
  } catch (err) {
    if (!(err instanceof SafetyViolation)) throw err;
    return err.message;
  }
}

/**
 * The first of seeds 1..`seeds` whose scenario under `mutated` reports a stale linearizable read,
 * checked to be no accident: the same seed gives the same violation again, the replay command
 * printed with it reproduces it with the trace on (a trace that tells `traceTells`), and the seed
 * passes under `base`, the mutation off. `what` says what was looked for, should no seed catch it.
 */
export function seedCatching(o: {
  readonly base: ScenarioOverrides;
  readonly mutated: ScenarioOverrides;
  readonly seeds: number;
  readonly what: string;
  readonly traceTells: string;
}): { readonly seed: number; readonly message: string } {
  let caught: { seed: number; message: string } | null = null;
  for (let seed = 1; seed <= o.seeds && caught === null; seed++) {
    const m = outcome(seed, o.mutated);
    if (m !== 'ok') caught = { seed, message: m };
  }
  assert.ok(caught !== null, o.what);
  assert.match(caught.message, /linearizable read violated/);
  assert.equal(outcome(caught.seed, o.mutated), caught.message, 'same seed, same violation, same tick');
  // The replay command printed with the violation reproduces it (trace on: same draws).
  const replay = caught.message.split('replay with: npm run sim -- ')[1]!.trim().split(/\s+/);
  const parsed = parseSimArgs(replay);
  assert.deepEqual(parsed.seeds, [caught.seed]);
  const lines: string[] = [];
  const traced = outcome(caught.seed, { ...parsed.overrides, out: (l) => lines.push(l) });
  assert.equal(traced, caught.message, 'the replay command reproduces the violation');
  assert.ok(
    lines.some((l) => l.includes(o.traceTells)),
    'the trace tells the episode',
  );
  assert.equal(outcome(caught.seed, o.base), 'ok', 'the same seed passes without the mutation');
  return caught;
}
