// Goal: named, step-by-step scenarios in the spirit of the MIT 6.824 Raft tests, each one a
// story from the thesis told on the simulated cluster: elections (§3.4), commitment (§3.5, §3.6),
// Figure 3.7, the single-server membership bug of 2015 (§4.2), crashes and persistence
// (Figure 3.1), snapshots (chapter 5), PreVote (§9.6), CheckQuorum (§6.2), leadership transfer
// (§3.10), lease reads (§6.4.1) and disk stalls (the node's disk-stall guard). The safety checker
// runs underneath every step of every scenario; time is ticks.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../src/random.js';
import { SafetyViolation } from './checker.js';
import { SimCluster } from './cluster.js';
import { figure37 } from './figure-3-7.js';
import {
  appliedEverywhere,
  assertConverged,
  commitWrite,
  electionTimeout,
  term,
  waitLeader,
} from './helpers.js';
import { singleServerBug } from './single-server-bug.js';

const ET = 10; // defaultRaftConfig.electionTimeoutTicks

test('initial election: one leader, known to all, stable while nothing fails (§3.4)', () => {
  const c = new SimCluster({ seed: 1, size: 3 });
  const leader = waitLeader(c, 10 * ET);
  c.run(2 * ET);
  const t = term(c, leader);
  for (const id of c.ids) {
    assert.equal(c.status(id)!.leaderId, leader, `${id} knows the leader`);
    assert.equal(term(c, id), t, `${id} is in the leader's term`);
  }
  c.run(50 * ET);
  assert.equal(c.leader(), leader, 'no election without a failure');
  assert.equal(c.maxTerm(), t, 'no term change without a failure');
});

test('re-election after leader loss, and the old leaders rejoin as followers (§3.4)', () => {
  const c = new SimCluster({ seed: 2, size: 5 });
  commitWrite(c, 'a');
  const l1 = c.leader()!;
  const t1 = term(c, l1);
  c.crash(l1);
  const l2 = waitLeader(c, 10 * ET, (l) => l !== l1);
  assert.ok(term(c, l2) > t1);
  commitWrite(c, 'b');
  c.crash(l2);
  const l3 = waitLeader(c, 10 * ET, (l) => l !== l2);
  commitWrite(c, 'c');
  c.restart(l1);
  c.restart(l2);
  const last = commitWrite(c, 'd');
  assert.equal(c.leader(), l3, 'rejoining nodes do not take over');
  assert.ok(appliedEverywhere(c, last.index));
  assertConverged(c);
});

test('no commit without a quorum: a leader with 2 of 5 nodes commits nothing (§3.5)', () => {
  const c = new SimCluster({ seed: 3, size: 5 });
  commitWrite(c, 'a');
  const leader = c.leader()!;
  const followers = c.ids.filter((id) => id !== leader);
  for (const id of followers.slice(0, 3)) c.crash(id);
  const res = c.propose(leader, 'b');
  assert.ok(res?.kind === 'accepted');
  c.run(10 * ET);
  assert.ok(c.status(leader)!.commitIndex < res.index, 'not committed');
  assert.equal(c.checker.appliedAt(res.index), undefined, 'not applied anywhere');
  for (const id of followers.slice(0, 3)) c.restart(id);
  commitWrite(c, 'c');
});

test('a partitioned old leader rejoins: its uncommitted entries are overwritten (§3.5)', () => {
  const c = new SimCluster({ seed: 4, size: 5 });
  commitWrite(c, 'a');
  const old = c.leader()!;
  const oldTerm = term(c, old);
  const [buddy, ...majority] = c.ids.filter((id) => id !== old);
  c.net.partition([[old, buddy!], majority]);
  const stale = [c.propose(old, 'x'), c.propose(old, 'y'), c.propose(old, 'z')];
  for (const r of stale) assert.ok(r?.kind === 'accepted', 'the cut-off leader still accepts proposals');
  const fresh = waitLeader(c, 20 * ET, (l) => majority.includes(l));
  assert.ok(term(c, fresh) > oldTerm);
  const w1 = commitWrite(c, 'b', 20 * ET, majority);
  c.net.heal();
  const w2 = commitWrite(c, 'c');
  assert.ok(c.runUntil(() => appliedEverywhere(c, w2.index), 20 * ET) !== null);
  for (const r of stale) {
    if (r?.kind !== 'accepted') continue;
    assert.notEqual(c.checker.appliedAt(r.index)?.term, oldTerm, `stale entry ${r.index} never commits`);
    assert.notEqual(
      c.storage(old).term(r.index),
      oldTerm,
      `stale entry ${r.index} is gone from the old leader`,
    );
  }
  assert.ok(c.clients.stats.lost >= 3, 'the stale proposals were reported lost, not acknowledged');
  assert.ok(w1.index <= w2.index);
  assertConverged(c);
});

test('Figure 3.7: an old-term entry on a majority is not committed by counting (§3.6.2)', () => {
  figure37('d');
});

test('Figure 3.7 (e): an entry of the current term on a majority commits the older ones', () => {
  figure37('e');
});

test('Figure 3.7 with commit-by-counting re-introduced: the checker reports the lost entry', () => {
  assert.throws(
    () => figure37('d', { commitOldTermByCounting: true }),
    (e: unknown) => e instanceof SafetyViolation && e.property !== 'liveness',
  );
});

test('the single-server change bug of 2015: no membership change before an entry of the leader’s term commits (§4.2)', () => {
  singleServerBug();
});

test('the 2015 bug with changeBeforeTermCommit re-introduced: the checker reports majorities that do not meet', () => {
  assert.throws(
    () => singleServerBug({ changeBeforeTermCommit: true }),
    (e: unknown) => e instanceof SafetyViolation && e.property === 'quorum intersection',
  );
});

test('unreliable network and many crashes: acknowledged writes survive, liveness returns', () => {
  const c = new SimCluster({
    seed: 6,
    size: 5,
    links: { minDelay: 1, maxDelay: 5, dropRate: 0.1, dupRate: 0.05 },
    persist: { min: 0, max: 2 },
  });
  const rng = new Prng(66);
  const downUntil = new Map<string, number>();
  for (let t = 0; t < 1500; t++) {
    for (const [id, at] of downUntil) {
      if (at <= c.now) {
        downUntil.delete(id);
        c.restart(id);
      }
    }
    if (rng.chance(0.03) && downUntil.size < 3) {
      const leader = c.leader();
      const victim = leader !== null && rng.chance(0.5) ? leader : rng.pick(c.liveIds());
      c.crash(victim);
      downUntil.set(victim, c.now + rng.int(1, 4 * ET));
    }
    const leader = c.leader();
    if (leader !== null && rng.chance(0.5)) c.propose(leader, `k${rng.int(1, 3)}`);
    c.tick();
  }
  for (const id of c.ids) c.restart(id);
  c.net.faults = { minDelay: 1, maxDelay: 2, dropRate: 0, dupRate: 0 };
  commitWrite(c, 'final', 10 * ET + 20);
  assert.ok(c.clients.acked.length > 50, `only ${c.clients.acked.length} writes acknowledged`);
  for (const w of c.clients.acked) {
    const e = c.checker.appliedAt(w.index);
    assert.ok(
      e !== undefined && appliedEverywhere(c, w.index),
      `acknowledged write ${w.value} is everywhere`,
    );
  }
  assertConverged(c);
});

test('persist and restart: all nodes crash at once, mid-replication, and recover everything acknowledged', () => {
  const c = new SimCluster({ seed: 7, size: 3, persist: { min: 0, max: 3 } });
  for (let i = 0; i < 10; i++) commitWrite(c, `k${i % 3}`);
  const leader = c.leader()!;
  for (let i = 0; i < 5; i++) c.propose(leader, 'late'); // in flight when the power fails
  c.tick();
  const before = new Map(c.ids.map((id) => [id, c.storage(id).initialState().hardState]));
  const acked = c.clients.acked.length;
  for (const id of c.ids) c.crash(id);
  for (const id of c.ids) {
    c.restart(id);
    const s = c.status(id)!;
    const hs = before.get(id)!;
    assert.equal(s.term, hs.term, `${id} restarts in its durable term`);
    assert.equal(s.votedFor, hs.votedFor, `${id} remembers its vote`);
  }
  const last = commitWrite(c, 'after');
  assert.ok(appliedEverywhere(c, last.index));
  // Rebuilt from their logs, the state machines re-applied exactly what they had applied before.
  for (const id of c.ids) {
    const h = c.appliedHistory(id);
    const restart = h.findIndex((e, i) => i > 0 && e.index <= h[i - 1]!.index);
    assert.ok(restart > 0, `${id} re-applied its log after the restart`);
    for (const e of h.slice(restart)) {
      const before = h.find((x) => x.index === e.index);
      if (before !== undefined && before !== e)
        assert.equal(e.term, before.term, `${id} re-applied ${e.index}`);
    }
  }
  for (const w of c.clients.acked.slice(0, acked)) {
    assert.ok(c.checker.appliedAt(w.index) !== undefined, `acknowledged ${w.value} survived`);
  }
  assertConverged(c);
});

test('snapshot install: a follower that missed compacted entries catches up by InstallSnapshot (ch. 5)', () => {
  const c = new SimCluster({ seed: 8, size: 3, snapshots: { every: 5, keep: 0 } });
  commitWrite(c, 'a');
  const lagging = c.ids.find((id) => id !== c.leader())!;
  c.crash(lagging);
  for (let i = 0; i < 30; i++) commitWrite(c, `k${i % 4}`);
  const leader = c.leader()!;
  assert.ok(c.storage(leader).firstIndex() > 2, 'the leader compacted its log');
  c.restart(lagging);
  const last = commitWrite(c, 'b');
  assert.ok(c.stats.snapshotsInstalled >= 1, 'the follower installed a snapshot');
  assert.ok(c.storage(lagging).snapshot().meta.index > 0);
  assert.ok(appliedEverywhere(c, last.index));
  assertConverged(c);
});

test('PreVote: a rejoining node does not depose a healthy leader; without it, it does (§9.6)', () => {
  for (const preVote of [true, false]) {
    const c = new SimCluster({ seed: 9, size: 5, raft: { preVote, checkQuorum: false } });
    commitWrite(c, 'a');
    const leader = c.leader()!;
    const t = term(c, leader);
    const loner = c.ids.find((id) => id !== leader)!;
    c.net.isolate(loner, c.ids);
    c.run(10 * ET);
    c.net.heal();
    c.run(5 * ET);
    commitWrite(c, 'b');
    if (preVote) {
      assert.equal(term(c, loner), c.maxTerm(), 'the loner rejoined');
      assert.equal(c.maxTerm(), t, 'with PreVote the cluster term does not increase');
      assert.equal(c.leader(), leader, 'with PreVote the leader stays');
    } else {
      assert.ok(c.maxTerm() > t, 'without PreVote the loner forces a new term');
    }
  }
});

test('CheckQuorum: an isolated leader steps down within two election timeouts; without it, never (§6.2)', () => {
  for (const checkQuorum of [true, false]) {
    const c = new SimCluster({ seed: 10, size: 5, raft: { checkQuorum } });
    commitWrite(c, 'a');
    const leader = c.leader()!;
    c.net.isolate(leader, c.ids);
    const took = c.runUntil(() => c.status(leader)!.role !== 'leader', 10 * ET);
    if (checkQuorum) {
      assert.ok(took !== null && took <= 2 * ET, `stepped down after ${took} ticks`);
      waitLeader(c, 10 * ET, (l) => l !== leader);
    } else {
      assert.equal(took, null, 'without CheckQuorum the cut-off leader keeps its role');
    }
  }
});

test('leadership transfer to an up-to-date follower (§3.10)', () => {
  const c = new SimCluster({ seed: 11, size: 3 });
  commitWrite(c, 'a');
  const from = c.leader()!;
  const to = c.ids.find((id) => id !== from)!;
  const t = term(c, from);
  assert.equal(c.transferLeadership(from, to)?.kind, 'started');
  const took = c.runUntil(() => c.leader() === to, electionTimeout(c));
  assert.ok(took !== null, 'the target took over within one election timeout');
  assert.equal(term(c, to), t + 1, 'by a single election');
  assert.equal(c.status(from)!.role, 'follower');
  commitWrite(c, 'b');
  assertConverged(c);
});

test('lease reads (§6.4.1): a leader cut off from the majority serves no stale read', () => {
  // A stale read needs the cut-off leader to still lead after the new leader acknowledged a
  // write; whether that window opens depends on the randomized timeouts, so several seeds run.
  let windows = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const c = new SimCluster({
      seed,
      size: 3,
      raft: { readMode: 'lease', checkQuorum: true, electionTimeoutTicks: 20 },
    });
    commitWrite(c, 'k');
    const old = c.leader()!;
    c.net.isolate(old, c.ids);
    const fresh = waitLeader(c, 40 * ET, (l) => l !== old);
    const w = c.propose(fresh, 'k');
    assert.ok(w?.kind === 'accepted');
    c.runUntil(() => (c.stateMachine(fresh)?.applied ?? 0) >= w.index, 2 * ET);
    if (c.status(old)?.role !== 'leader') continue;
    windows++;
    c.read(old, 'k'); // the checker fails the test if this returns the old value
    c.run(ET);
  }
  assert.ok(windows > 0, 'no seed opened the window this test is about');
});

/** What happened while the leader's disk was stalled under steady client load (ticks from the stall's start). */
interface StallRun {
  readonly c: SimCluster;
  readonly stalled: string;
  readonly stallTicks: number;
  /** First tick another node led; first tick a write was acknowledged; first tick the stalled node did not lead. */
  readonly otherLeaderAt: number | null;
  readonly ackAt: number | null;
  readonly stalledDeposedAt: number | null;
  /** Whether the stalled node's write was still held when the first write was acknowledged. */
  readonly ackedDuringStall: boolean;
}

/**
 * Commits a first write, then stalls the leader's disk for `stallTicks` while a client sends one
 * write per tick to whichever node leads. Persistence takes 1–2 ticks when the disk is healthy.
 */
function stallLeaderUnderLoad(
  seed: number,
  size: number,
  opts: { guard: boolean; pipeline: boolean; stallTicks: number },
): StallRun {
  const c = new SimCluster({
    seed,
    size,
    persist: { min: 1, max: 2 },
    diskStallBound: opts.guard ? ET : null,
    pipeline: opts.pipeline,
  });
  commitWrite(c, 'warmup');
  const stalled = c.leader()!;
  const start = c.now;
  c.stallDisk(stalled, opts.stallTicks);
  const acked = c.clients.acked.length;
  let otherLeaderAt: number | null = null;
  let ackAt: number | null = null;
  let stalledDeposedAt: number | null = null;
  let ackedDuringStall = false;
  while (c.now < start + opts.stallTicks) {
    const leader = c.leader();
    if (leader !== null) c.propose(leader, 'k');
    c.tick();
    const now = c.now - start;
    if (otherLeaderAt === null && c.ids.some((id) => id !== stalled && c.roleOf(id) === 'leader')) {
      otherLeaderAt = now;
    }
    if (stalledDeposedAt === null && c.roleOf(stalled) !== 'leader') stalledDeposedAt = now;
    if (ackAt === null && c.clients.acked.length > acked) {
      ackAt = now;
      ackedDuringStall = c.stalledUntil(stalled) > c.now && c.status(stalled)?.role !== 'leader';
    }
  }
  return {
    c,
    stalled,
    stallTicks: opts.stallTicks,
    otherLeaderAt,
    ackAt,
    stalledDeposedAt,
    ackedDuringStall,
  };
}

/** After the stall: writes commit again, every acknowledged write is everywhere, the nodes agree. */
function assertRecovers(run: StallRun): void {
  const { c } = run;
  const last = commitWrite(c, 'after');
  assert.ok(c.runUntil(() => appliedEverywhere(c, last.index), 20 * ET) !== null);
  for (const w of c.clients.acked) {
    assert.ok(appliedEverywhere(c, w.index), `acknowledged write ${w.value} is everywhere`);
  }
  assertConverged(c);
}

test('disk stall (storage issue): a leader whose fsync stalls hands leadership over', (t) => {
  // The drivers pipeline: while a write is in flight they keep sending what the core may send
  // before persistence, so the stalled leader goes on heartbeating and replicating. Its followers
  // therefore never time out, and it can acknowledge nothing: its own write never completes.
  // Stall: 10·ET = 100 ticks. Guard bound: ET. Stated bound, from the stall's start: another node
  // leads within 4·ET (the guard acts at ET, the transfer needs a catch-up round trip, TimeoutNow
  // and one election, each step a message delay plus a 1–2 tick persist), and a client write is
  // acknowledged within 5·ET — half the stall. (Had the guard stepped down instead — it does when
  // CheckQuorum has just cleared every follower's recentActive — the followers would elect by
  // timeout, often with split votes: slower, and not what this bound is about.)
  const stallTicks = 10 * ET;
  const seen: string[] = [];
  for (const size of [3, 5]) {
    for (let seed = 1; seed <= 5; seed++) {
      const run = stallLeaderUnderLoad(seed, size, { guard: true, pipeline: true, stallTicks });
      const where = `seed ${seed}, ${size} nodes`;
      assert.equal(run.c.stats.stallTransfers, 1, `${where}: the guard handed leadership over`);
      assert.ok(
        run.otherLeaderAt !== null && run.otherLeaderAt <= 4 * ET,
        `${where}: new leader at ${run.otherLeaderAt}`,
      );
      assert.ok(
        run.ackAt !== null && run.ackAt <= 5 * ET,
        `${where}: first acknowledged write at ${run.ackAt}`,
      );
      assert.ok(
        run.ackedDuringStall,
        `${where}: acknowledged while the stalled node's write was held, by another leader`,
      );
      assert.ok(run.stalledDeposedAt !== null && run.stalledDeposedAt <= run.otherLeaderAt);
      assert.notEqual(run.c.roleOf(run.stalled), 'leader', `${where}: the stalled node does not lead again`);
      seen.push(`${size}n/s${seed}: leader ${run.otherLeaderAt} ack ${run.ackAt}`);
      assertRecovers(run);
    }
  }
  t.diagnostic(`stall ${stallTicks} ticks, ticks from its start: ${seen.join(', ')}`);

  // Counter-test, same runs without the guard: the stalled leader holds the cluster for the whole
  // stall — no other leader, no acknowledged write — and writes flow again once its disk recovers.
  // (Its followers form a quorum without it, so its entries do commit and reach their state
  // machines; but only the leader that accepted a write answers its client, and it applies nothing.)
  for (const size of [3, 5]) {
    for (let seed = 1; seed <= 5; seed++) {
      const run = stallLeaderUnderLoad(seed, size, { guard: false, pipeline: true, stallTicks });
      const where = `seed ${seed}, ${size} nodes, no guard`;
      assert.equal(run.otherLeaderAt, null, `${where}: no other leader during the stall`);
      assert.equal(run.ackAt, null, `${where}: no write acknowledged during the stall`);
      assert.equal(run.c.roleOf(run.stalled), 'leader', `${where}: the stalled node still leads`);
      assertRecovers(run);
    }
  }
});

test('disk stall without pipelining: the stalled leader falls silent and is replaced by an election', () => {
  // A driver that sends nothing while its write is in flight (one Ready at a time, as
  // src/node/driver.ts does) stops heartbeating as soon as its disk stalls: its followers time out
  // and elect a leader that can commit, guard or not. Without the guard, within 8·ET of a 10·ET stall.
  for (let seed = 1; seed <= 5; seed++) {
    const run = stallLeaderUnderLoad(seed, 3, { guard: false, pipeline: false, stallTicks: 10 * ET });
    const where = `seed ${seed}`;
    assert.ok(
      run.otherLeaderAt !== null && run.otherLeaderAt <= 8 * ET,
      `${where}: new leader at ${run.otherLeaderAt}`,
    );
    assert.ok(
      run.ackAt !== null && run.ackedDuringStall,
      `${where}: a write was acknowledged during the stall`,
    );
    assert.ok(run.stalledDeposedAt !== null, `${where}: the stalled node was deposed`);
    assertRecovers(run);
  }
});
