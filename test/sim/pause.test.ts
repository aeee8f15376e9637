// Goal: the process pause (SIGSTOP, a long GC, a descheduled VM) against the leader lease
// (§6.4.1), told step by step on the simulated cluster, and the same fault found by the seeds.
// A leader is paused and cut off from its peers at once (its clients still reach it); the others
// elect a new leader, which acknowledges a write; the old leader resumes while still cut off and
// is asked for a read. A driver that hands the core the ticks owed for the pause (the fix, in
// src/node/driver.ts and mirrored in SimNode) lets the lease run out first: the read is not
// served stale. With the driver mutation forgetPausedTime (one tick per timer callback, no
// catch-up: the old driver) the lease looks as fresh as when the process stopped, and the
// checker must report the stale read — for a read issued after the write was acknowledged, and
// not for one issued before it, even though both are answered only after the resume: a read is
// judged by when it was issued.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { NodeId } from '../../src/raft/index.js';
import { SafetyViolation } from './checker.js';
import { SimCluster } from './cluster.js';
import { appliedEverywhere, assertConverged, commitWrite, seedCatching, waitLeader } from './helpers.js';
import type { ScenarioOverrides } from './scenario.js';

const ET = 20;

interface Episode {
  readonly c: SimCluster;
  readonly old: NodeId;
  readonly fresh: NodeId;
  /** Reads issued to the paused old leader, before and after the new leader's acknowledged write. */
  readonly before: string | null;
  readonly after: string | null;
}

/**
 * A lease cluster of `size`. Its leader, the lease just renewed (heartbeats every tick over
 * one-tick links), is paused and cut off from its peers; the others elect a new leader, which
 * acknowledges a write. With `reads`, one read is issued to the paused leader right after the
 * pause and one after the acknowledgement. Returns before the resume, two election timeouts or
 * more after the pause.
 */
function pauseIsolatedLeader(
  seed: number,
  size: number,
  opts: { readonly forgetPausedTime: boolean; readonly hold: boolean; readonly reads: boolean },
): Episode {
  const c = new SimCluster({
    seed,
    size,
    raft: { readMode: 'lease', checkQuorum: true, electionTimeoutTicks: ET, heartbeatIntervalTicks: 1 },
    driverMutations: { forgetPausedTime: opts.forgetPausedTime },
  });
  commitWrite(c, 'k');
  c.run(3);
  const old = c.leader()!;
  const pausedAt = c.now;
  c.pause(old, opts.hold);
  c.net.isolate(old, c.ids);
  const before = opts.reads ? c.read(old, 'k') : null;
  const fresh = waitLeader(c, 10 * ET, (l) => l !== old);
  const w = c.propose(fresh, 'k');
  assert.ok(w?.kind === 'accepted', `${fresh} accepts a write`);
  const acked = c.runUntil(() => c.clients.acked.some((a) => a.index === w.index), 2 * ET);
  assert.ok(acked !== null, `${fresh} acknowledges the write at ${w.index}`);
  const after = opts.reads ? c.read(old, 'k') : null;
  c.runUntil(() => c.now - pausedAt >= 2 * ET, 2 * ET);
  assert.ok(c.isPaused(old), `${old} is still paused`);
  assert.equal(c.status(old)!.role, 'leader', `${old} still believes it leads: nothing reached its core`);
  assert.equal(c.clients.stats.readsServed, 0, 'no read served yet');
  return { c, old, fresh, before, after };
}

/** The checker's verdict on read `ctx`: stale. */
function staleRead(ctx: string | null): (err: unknown) => boolean {
  return (err) =>
    err instanceof SafetyViolation &&
    err.property === 'linearizable read' &&
    err.detail.startsWith(`read ${ctx} issued`);
}

for (const size of [3, 5]) {
  test(`a paused, cut-off leader (${size} nodes): stale lease reads with forgetPausedTime, none with the fix`, () => {
    for (let seed = 1; seed <= 3; seed++) {
      const hold = seed !== 2;
      const where = `seed ${seed}`;
      // The old driver: the core's clock stopped with the process. Both reads held during the
      // pause are served from the lease on resume; the one issued before the new leader's write
      // was acknowledged is correct, the one issued after it is stale.
      {
        const e = pauseIsolatedLeader(seed, size, { forgetPausedTime: true, hold, reads: true });
        assert.throws(() => e.c.resume(e.old), staleRead(e.after), `${where}: held read judged stale`);
        assert.equal(e.c.clients.stats.readsServed, 2, `${where}: both held reads were served`);
      }
      // The old driver, a read issued after the resume while the node is still cut off.
      {
        const e = pauseIsolatedLeader(seed, size, { forgetPausedTime: true, hold, reads: false });
        e.c.resume(e.old);
        const ctx = `r${e.c.clients.stats.readsIssued + 1}`;
        assert.throws(
          () => e.c.read(e.old, 'k'),
          staleRead(ctx),
          `${where}: read after the resume judged stale`,
        );
      }
      // The fix: the resume's first input pays the ticks owed. The lease has run out, and
      // CheckQuorum deposes the leader that heard from no one for the whole pause.
      {
        const e = pauseIsolatedLeader(seed, size, { forgetPausedTime: false, hold, reads: true });
        const { c, old } = e;
        c.resume(old);
        assert.equal(c.clients.stats.readsServed, 0, `${where}: no held read served from the lease`);
        assert.notEqual(c.status(old)!.role, 'leader', `${where}: ${old} knows its time ran out`);
        assert.ok(c.read(old, 'k') !== null);
        c.run(ET);
        assert.equal(c.clients.stats.readsServed, 0, `${where}: nothing served while it is cut off`);
        c.net.heal();
        const last = commitWrite(c, 'k');
        assert.ok(appliedEverywhere(c, last.index));
        assert.notEqual(c.leader(), old, `${where}: the old leader does not come back`);
        assertConverged(c);
      }
    }
  });
}

test('without a pause the fix and forgetPausedTime drive the cores alike: one tick per tick', () => {
  // Paying owed ticks before every input changes nothing while the process runs: same history.
  const runs = [false, true].map((forgetPausedTime) => {
    const c = new SimCluster({
      seed: 7,
      size: 3,
      raft: { readMode: 'lease', checkQuorum: true },
      links: { minDelay: 1, maxDelay: 3, dropRate: 0.05, dupRate: 0.05 },
      driverMutations: { forgetPausedTime },
    });
    for (let i = 0; i < 300; i++) {
      const l = c.leader();
      if (l !== null && i % 3 === 0) c.propose(l, `k${i % 4}`);
      if (l !== null && i % 5 === 0) c.read(l, `k${i % 4}`);
      c.tick();
    }
    return { acked: c.clients.acked.map((a) => `${a.key}=${a.value}@${a.index}`), stats: c.stats };
  });
  assert.deepEqual(runs[0], runs[1]);
  assert.equal(runs[0]!.stats.catchUps, 0, 'no catch-up without a pause');
});

test('a paused follower: messages held or lost, its write completes on resume, its time catches up', () => {
  for (const hold of [true, false]) {
    const c = new SimCluster({
      seed: 11,
      size: 3,
      raft: { readMode: 'lease', checkQuorum: true, electionTimeoutTicks: ET },
      persist: { min: 2, max: 2 },
    });
    commitWrite(c, 'a');
    const leader = c.leader()!;
    const follower = c.ids.find((id) => id !== leader)!;
    const w = c.propose(leader, 'b');
    assert.ok(w?.kind === 'accepted');
    // Pause the follower while its write of the new entry is in flight.
    const inFlight = (): boolean =>
      c.status(follower)!.lastIndex >= w.index && c.storage(follower).lastIndex() < w.index;
    assert.ok(c.runUntil(inFlight, 5) !== null, 'the follower is writing the new entry');
    c.pause(follower, hold);
    const before = { ...c.stats };
    c.run(3 * ET);
    assert.ok(c.storage(follower).lastIndex() < w.index, 'its write did not complete while it was stopped');
    assert.ok(c.stateMachine(follower)!.applied < w.index, 'it applied nothing while it was stopped');
    const moved = hold ? c.stats.pauseHeld - before.pauseHeld : c.stats.pauseLost - before.pauseLost;
    assert.ok(moved > 0, `messages to it were ${hold ? 'held' : 'lost'}`);
    assert.equal(c.leader(), leader, 'a follower pause does not disturb the leader');
    c.resume(follower);
    assert.ok(c.storage(follower).lastIndex() >= w.index, 'it learns on resume that its write completed');
    assert.equal(c.stats.catchUps, before.catchUps + 1, 'its core was handed the missed ticks at once');
    const last = commitWrite(c, 'c');
    assert.ok(appliedEverywhere(c, last.index));
    assertConverged(c);
  }
});

test('a seed that catches forgetPausedTime replays exactly, and passes with the fix', () => {
  // Lease seeds of the crashes profile: episodes of a paused, cut-off leader are frequent there.
  const base: ScenarioOverrides = { readMode: 'lease', profile: 'crashes' };
  seedCatching({
    base,
    mutated: { ...base, driverMutations: { forgetPausedTime: true } },
    seeds: 40,
    what: 'some lease seed of the crashes profile catches forgetPausedTime',
    traceTells: 'stale leader episode',
  });
});
