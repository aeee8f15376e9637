// Goal: the fault injector of a scenario (Jepsen calls it the nemesis). Two kinds of faults, all
// drawn from the scenario's seed:
//  - background faults at random times: crashes (often of the leader), network partitions —
//    symmetric splits, one-way cuts, random broken links — that start and heal, disk stalls
//    (often of the leader: its fsync hangs for several election timeouts), and process pauses
//    (SIGSTOP, a long GC, a descheduled VM: the node's timers, sockets, disk completions and
//    clients all wait while its clock and the rest of the cluster run on; messages sent to it
//    wait in its socket buffer or are lost). A pause tests that a node's sense of time survives
//    being stopped, which matters where the core trusts time: the leader lease (§6.4.1). So
//    pauses often hit the leader, and some of those are stale leader episodes (below);
//  - faults at "crash points", the moments right after a node took a decision it has not yet
//    propagated: it made a new term or vote durable, became leader, advanced its commit index
//    as leader, or accepted a membership change as leader. Crashing or isolating a node exactly
//    there is what turns a forgotten vote (Figure 3.1) or an old-term entry committed by counting
//    (Figure 3.7) into an observable violation; random timing alone reaches those windows only
//    rarely. A leader's commit is also
//    where a stale leader episode most often starts: a majority has just answered the leader, so
//    its lease is fresh, and a lease that survives the pause unspent is what the episode exposes.
// A stale leader episode pauses the leader and cuts it off from its peers (not from its clients)
// until a while after another leader acknowledged a write, and keeps it cut off for a while
// after it wakes. A leader that wakes believing its lease still runs then serves stale reads to
// the clients it can still reach — held reads at once, new ones until the lease it remembers
// ends. No other fault starts while an episode plays out: it means something only if the rest
// of the cluster can elect a leader and commit meanwhile, and random faults stop that too often.
// A cut-off leader episode (lease seeds) exposes a lease that outlives its time without any
// pause: the leader is cut off from its peers (not from its clients) right after its CheckQuorum
// round has counted a majority, so it stays leader for almost two election timeouts more, while
// the majority side can elect a new leader after one (§6.4.1: the lease must end before that).
// The rest of the network is healthy meanwhile (one tick a message, nothing lost), a follower
// campaigns as soon as its timer may fire — one election timeout after the cut, the shortest
// randomized timeout — and the majority side's clients write to the new leader, while the old
// leader's clients read what they wrote: a lease still honoured then answers them stale. The
// cut heals a little after the old leader steps down. No other fault starts meanwhile either.

import type { NodeId } from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import type { SimCluster } from './cluster.js';
import type { LinkFaults } from './network.js';
import type { Tracer } from './trace.js';

export interface FaultPlan {
  /** Per tick: probability that one node crashes; `leaderBias` of these crashes hit the leader. */
  readonly crashRate: number;
  readonly leaderBias: number;
  /** Per crash point: probability that the node crashes right there. */
  readonly crashPointRate: number;
  /**
   * Per election won or commit advanced: probability that the leader is cut off (both ways)
   * right there — messages already in flight are cut too, so its news never leaves.
   */
  readonly isolatePointRate: number;
  /** Share of crashed nodes that come back within 1–3 ticks (a supervisor restart). */
  readonly bounceRate: number;
  readonly downTicks: readonly [number, number];
  /** Per tick while no background partition is active: probability that one starts. */
  readonly partitionRate: number;
  /** Duration of a partition or an isolation. */
  readonly partitionTicks: readonly [number, number];
  /** Per tick while no disk is stalled: probability that one stalls; `stallLeaderBias` of these hit the leader. */
  readonly stallRate: number;
  readonly stallLeaderBias: number;
  /** Duration of a disk stall. */
  readonly stallTicks: readonly [number, number];
  /** Per tick while no process is paused: probability that one pauses; `pauseLeaderBias` of these hit the leader. */
  readonly pauseRate: number;
  readonly pauseLeaderBias: number;
  /** Duration of a pause. */
  readonly pauseTicks: readonly [number, number];
  /**
   * Share of the leader's pauses that are a "stale leader episode": the leader is also cut off
   * from its peers, both ways (not from its clients). It stays paused until `lingerTicks` after
   * another leader's first acknowledged write, but at least `isolatedPauseTicks[0]` (longer than
   * an election timeout) and at most `isolatedPauseTicks[1]`; it stays cut off for
   * `isolatedAfterTicks` after it resumes, so it wakes up alone while its clients ask it for reads.
   */
  readonly pauseIsolateRate: number;
  /**
   * Per commit the leader advanced (a crash point), while no process is paused: probability that
   * a stale leader episode starts right there. A majority has just answered the leader, so its
   * lease is most likely fresh: the moment a leader that forgets the pause is most dangerous.
   */
  readonly pausePointRate: number;
  readonly isolatedPauseTicks: readonly [number, number];
  readonly lingerTicks: readonly [number, number];
  readonly isolatedAfterTicks: readonly [number, number];
  /** Share of pauses during which messages to the node wait for its resume (the rest are lost). */
  readonly pauseHoldRate: number;
  /**
   * Per CheckQuorum round of the leader that has counted a majority again (at most
   * `leaderCutWindow` ticks after the round began), while no episode plays out and no process is
   * paused: probability that a cut-off leader episode starts (see the top of this file).
   */
  readonly leaderCutRate: number;
  readonly leaderCutWindow: number;
  /** Ticks after the cut at which a follower campaigns (the shortest randomized election timeout). */
  readonly leaderCutCampaignAfter: number;
  /** The cut heals this long after the old leader stepped down... */
  readonly leaderCutLingerTicks: readonly [number, number];
  /** ...or this long after it began, whichever comes first. */
  readonly leaderCutMaxTicks: number;
}

export const noFaults: FaultPlan = {
  crashRate: 0,
  leaderBias: 0,
  crashPointRate: 0,
  isolatePointRate: 0,
  bounceRate: 0,
  downTicks: [1, 1],
  partitionRate: 0,
  partitionTicks: [1, 1],
  stallRate: 0,
  stallLeaderBias: 0,
  stallTicks: [1, 1],
  pauseRate: 0,
  pauseLeaderBias: 0,
  pauseTicks: [1, 1],
  pauseIsolateRate: 0,
  pausePointRate: 0,
  isolatedPauseTicks: [1, 1],
  lingerTicks: [0, 0],
  isolatedAfterTicks: [1, 1],
  pauseHoldRate: 0,
  leaderCutRate: 0,
  leaderCutWindow: 0,
  leaderCutCampaignAfter: 0,
  leaderCutLingerTicks: [0, 0],
  leaderCutMaxTicks: 0,
};

export function describeFaults(f: FaultPlan): string {
  return (
    `crash=${f.crashRate} (leader ${f.leaderBias}, bounce ${f.bounceRate}, down ${f.downTicks[0]}..${f.downTicks[1]}) ` +
    `crashPoint=${f.crashPointRate} isolatePoint=${f.isolatePointRate} ` +
    `partition=${f.partitionRate} (${f.partitionTicks[0]}..${f.partitionTicks[1]})` +
    (f.stallRate > 0
      ? ` diskStall=${f.stallRate} (leader ${f.stallLeaderBias}, ${f.stallTicks[0]}..${f.stallTicks[1]})`
      : '') +
    (f.pauseRate > 0
      ? ` pause=${f.pauseRate} (leader ${f.pauseLeaderBias}, ${f.pauseTicks[0]}..${f.pauseTicks[1]}, ` +
        `hold ${f.pauseHoldRate}; episodes ${f.pauseIsolateRate} of the leader's, at commits ${f.pausePointRate}, ` +
        `${f.isolatedPauseTicks[0]}..${f.isolatedPauseTicks[1]} linger ${f.lingerTicks[0]}..${f.lingerTicks[1]} ` +
        `after ${f.isolatedAfterTicks[0]}..${f.isolatedAfterTicks[1]})`
      : '') +
    (f.leaderCutRate > 0
      ? ` leaderCut=${f.leaderCutRate} (campaign after ${f.leaderCutCampaignAfter}, linger ` +
        `${f.leaderCutLingerTicks[0]}..${f.leaderCutLingerTicks[1]}, at most ${f.leaderCutMaxTicks})`
      : '')
  );
}

/** A set of cut directed links that heals at a given tick. Cuts may overlap. */
interface Cut {
  readonly links: readonly (readonly [NodeId, NodeId])[];
  /** A stale leader episode's cut is set to heal only once its leader has resumed. */
  healAt: number;
  readonly background: boolean;
}

/** A stale leader episode in progress (see FaultPlan.pauseIsolateRate). */
interface Episode {
  readonly id: NodeId;
  readonly cut: Cut;
  /** Acknowledged writes when it began: one more means another leader acknowledged a write. */
  readonly acked: number;
  readonly earliest: number;
  readonly latest: number;
  readonly linger: number;
  readonly after: number;
  /** Set once another leader acknowledged a write. */
  resumeAt: number | null;
}

/** A cut-off leader episode in progress (see FaultPlan.leaderCutRate). */
interface LeaderCut {
  readonly id: NodeId;
  readonly term: number;
  readonly cut: Cut;
  /** The leader's commit index when cut off. */
  readonly commit: number;
  readonly at: number;
  readonly linger: number;
  /** The links as they were before the episode made the rest of the network healthy. */
  readonly links: LinkFaults;
  /** Acknowledged writes looked at so far. */
  scanned: number;
  /** The key of the latest write another leader acknowledged: the old leader's clients read it. */
  key: string | null;
  campaigned: boolean;
  /** Set once the old leader no longer leads (stepped down, or crashed). */
  deposedAt: number | null;
}

/** A CheckQuorum round of the leader that has just begun: nobody but the leader counted yet. */
interface QuorumRound {
  readonly id: NodeId;
  readonly term: number;
  readonly at: number;
}

export class Nemesis {
  partitions = 0;
  isolations = 0;
  crashPointCrashes = 0;
  /** Stale leader episodes (a leader paused and cut off from its peers). */
  pauseIsolations = 0;
  /** Cut-off leader episodes (a leader cut off from its peers right after its CheckQuorum round). */
  leaderCuts = 0;
  /** Of those, the ones in which another leader acknowledged a write while the old one still led. */
  leaderCutOverlaps = 0;
  /** No new stall starts before this tick (one stalled disk at a time). */
  private stallOverAt = 0;
  /** No new pause starts before this tick (one paused process at a time). */
  private pauseOverAt = 0;
  /**
   * While a stale leader episode plays out, no other fault starts: the rest of the cluster must
   * be able to elect a leader and acknowledge writes for it to mean anything.
   */
  private episode: Episode | null = null;
  private leaderCut: LeaderCut | null = null;
  private round: QuorumRound | null = null;
  private readonly restartAt = new Map<NodeId, number>();
  private readonly resumeAt = new Map<NodeId, number>();
  private cuts: Cut[] = [];

  constructor(
    private readonly c: SimCluster,
    private readonly f: FaultPlan,
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    /** Disk stalls draw from their own stream: the other faults of a seed do not move when they are on. */
    private readonly stallRng: Prng = rng,
    /** So do pauses. */
    private readonly pauseRng: Prng = rng,
    /** And cut-off leader episodes. */
    private readonly cutRng: Prng = rng,
  ) {}

  /** Runs at the start of every tick of the fault phase. */
  step(): void {
    const { c, f, rng } = this;
    for (const [id, at] of this.restartAt) {
      if (at <= c.now) {
        this.restartAt.delete(id);
        c.restart(id);
      }
    }
    // A node crashed while paused is no longer paused: its resume is a no-op.
    for (const [id, at] of this.resumeAt) {
      if (at <= c.now) {
        this.resumeAt.delete(id);
        c.resume(id);
      }
    }
    this.stepEpisode();
    if (f.leaderCutRate > 0) this.stepLeaderCut();
    const healed = this.cuts.filter((cut) => cut.healAt <= c.now);
    if (healed.length > 0) {
      this.cuts = this.cuts.filter((cut) => cut.healAt > c.now);
      this.applyCuts();
      if (this.tracer.on) this.tracer.event('heal', `links now cut: ${c.net.describePartition() || 'none'}`);
    }
    // During an episode the draws go on, so that the stream stays the same, but no fault starts.
    const quiet = this.episode !== null || this.leaderCut !== null;
    if (f.crashRate > 0 && rng.chance(f.crashRate) && !quiet) {
      const live = c.liveIds();
      const leader = c.leader();
      if (leader !== null && rng.chance(f.leaderBias)) this.crash(leader);
      else if (live.length > 0) this.crash(rng.pick(live));
    }
    if (f.crashPointRate > 0 || f.isolatePointRate > 0) {
      for (const { id, kind } of c.crashPoints()) {
        const r = rng.next();
        if (quiet) continue;
        if (r < f.crashPointRate) {
          this.crashPointCrashes++;
          this.crash(id);
        } else if (kind !== 'vote' && r < f.crashPointRate + f.isolatePointRate) {
          this.isolations++;
          const links: [NodeId, NodeId][] = [];
          for (const other of c.activeIds()) if (other !== id) links.push([id, other], [other, id]);
          this.cut(links, false, `isolate ${id}`);
        }
      }
    }
    if (
      f.partitionRate > 0 &&
      !this.cuts.some((cut) => cut.background) &&
      rng.chance(f.partitionRate) &&
      !quiet
    ) {
      this.startPartition();
    }
    if (f.stallRate > 0 && c.now >= this.stallOverAt && this.stallRng.chance(f.stallRate) && !quiet) {
      this.stallDisk();
    }
    if (f.pausePointRate > 0 && c.now >= this.pauseOverAt) {
      for (const { id, kind } of c.crashPoints()) {
        if (kind !== 'commit' || c.roleOf(id) !== 'leader' || c.isPaused(id)) continue;
        if (this.pauseRng.chance(f.pausePointRate)) {
          this.pause(id);
          break;
        }
      }
    }
    if (f.pauseRate > 0 && c.now >= this.pauseOverAt && this.pauseRng.chance(f.pauseRate)) this.pause(null);
  }

  /**
   * Pauses a node drawn here (often the leader; some of the leader's pauses are stale leader
   * episodes), or starts an episode of `pointed` (a leader at a commit).
   */
  private pause(pointed: NodeId | null): void {
    const { c, f, pauseRng } = this;
    const leader = pointed ?? c.leader();
    const live = c.liveIds().filter((id) => !c.isPaused(id));
    if (live.length === 0) return;
    // Every draw is made whatever the outcome, so one choice does not shift the next ones.
    const atLeader = (pauseRng.chance(f.pauseLeaderBias) || pointed !== null) && leader !== null;
    const other = pauseRng.pick(live);
    const isolate = (pauseRng.chance(f.pauseIsolateRate) || pointed !== null) && atLeader;
    const hold = pauseRng.chance(f.pauseHoldRate);
    const plain = pauseRng.int(f.pauseTicks[0], f.pauseTicks[1]);
    const linger = pauseRng.int(f.lingerTicks[0], f.lingerTicks[1]);
    const after = pauseRng.int(f.isolatedAfterTicks[0], f.isolatedAfterTicks[1]);
    const id = atLeader ? leader : other;
    c.pause(id, hold);
    if (!isolate) {
      this.pauseOverAt = c.now + plain;
      this.resumeAt.set(id, c.now + plain);
      return;
    }
    // Cut off from its peers only: its clients still reach it, before and after it wakes.
    this.pauseIsolations++;
    const links: [NodeId, NodeId][] = [];
    for (const x of c.activeIds()) if (x !== id) links.push([id, x], [x, id]);
    const cut: Cut = { links, healAt: Number.POSITIVE_INFINITY, background: false };
    this.cuts.push(cut);
    this.applyCuts();
    this.pauseOverAt = Number.POSITIVE_INFINITY;
    this.episode = {
      id,
      cut,
      acked: c.clients.acked.length,
      earliest: c.now + f.isolatedPauseTicks[0],
      latest: c.now + f.isolatedPauseTicks[1],
      linger,
      after,
      resumeAt: null,
    };
    if (this.tracer.on) {
      this.tracer.event(
        'partition',
        `stale leader episode${pointed !== null ? ' (at a commit)' : ''}: ${id} paused and cut off from its peers ` +
          `until it resumes (by t=${this.episode.latest}) and ${after} ticks more`,
      );
    }
  }

  /** Resumes an episode's leader when its time has come, and ends the episode when its cut heals. */
  private stepEpisode(): void {
    const { c } = this;
    const e = this.episode;
    if (e === null) return;
    if (!c.isPaused(e.id)) {
      // Resumed (below), or crashed meanwhile (by a test): over once the cut heals.
      if (e.cut.healAt === Number.POSITIVE_INFINITY) e.cut.healAt = c.now + e.after;
      if (e.cut.healAt <= c.now) this.episode = null;
      return;
    }
    if (e.resumeAt === null && c.clients.acked.length > e.acked) e.resumeAt = c.now + e.linger;
    const at = Math.min(e.latest, Math.max(e.earliest, e.resumeAt ?? e.latest));
    if (c.now < at) return;
    c.resume(e.id);
    e.cut.healAt = c.now + e.after;
    this.pauseOverAt = e.cut.healAt;
  }

  /**
   * Plays a cut-off leader episode, or starts one: when the leader's CheckQuorum round that just
   * began has counted a majority, the leader will pass its next check without hearing from
   * anyone, so it leads for almost two election timeouts after the cut.
   */
  private stepLeaderCut(): void {
    const { c, f } = this;
    if (this.leaderCut !== null) {
      this.playLeaderCut(this.leaderCut);
      return;
    }
    if (this.episode !== null || c.now < this.pauseOverAt) return;
    const id = c.leader();
    const s = id === null || c.isPaused(id) ? null : c.status(id);
    if (id === null || s === null || s.progress === null) {
      this.round = null;
      return;
    }
    const { voters, outgoingVoters } = s.membership;
    const counted = (v: NodeId): boolean => v === id || s.progress?.[v]?.recentActive === true;
    const others = [...new Set([...voters, ...outgoingVoters])].filter((v) => v !== id);
    if (others.length === 0) return;
    if (!others.some(counted)) {
      this.round = { id, term: s.term, at: c.now };
      return;
    }
    const r = this.round;
    if (r === null || r.id !== id || r.term !== s.term) return;
    const majority = (set: readonly NodeId[]): boolean =>
      set.length === 0 || 2 * set.filter(counted).length > set.length;
    if (!majority(voters) || !majority(outgoingVoters)) return;
    this.round = null;
    if (this.cutRng.chance(f.leaderCutRate) && c.now - r.at <= f.leaderCutWindow) this.startLeaderCut(id, s);
  }

  private startLeaderCut(id: NodeId, s: { readonly term: number; readonly commitIndex: number }): void {
    const { c, f } = this;
    this.leaderCuts++;
    const links: [NodeId, NodeId][] = [];
    for (const x of c.activeIds()) if (x !== id) links.push([id, x], [x, id]);
    const cut: Cut = { links, healAt: Number.POSITIVE_INFINITY, background: false };
    this.cuts.push(cut);
    this.applyCuts();
    this.pauseOverAt = Number.POSITIVE_INFINITY;
    const before = c.net.faults;
    c.net.faults = { minDelay: 1, maxDelay: 1, dropRate: 0, dupRate: 0 };
    this.leaderCut = {
      id,
      term: s.term,
      cut,
      commit: s.commitIndex,
      at: c.now,
      linger: this.cutRng.int(f.leaderCutLingerTicks[0], f.leaderCutLingerTicks[1]),
      links: before,
      scanned: c.clients.acked.length,
      key: null,
      campaigned: false,
      deposedAt: null,
    };
    if (this.tracer.on) {
      this.tracer.event(
        'partition',
        `cut-off leader episode: ${id} (t${s.term}, commit ${s.commitIndex}) cut off from its peers, ` +
          `right after its CheckQuorum round counted a majority`,
      );
    }
  }

  private playLeaderCut(e: LeaderCut): void {
    const { c, f } = this;
    const acked = c.clients.acked;
    for (; e.scanned < acked.length; e.scanned++) {
      const a = acked[e.scanned]!;
      // Above the old leader's commit index and of a later term: committed by another leader
      // (the old one may still commit what a majority held before the cut, once on its disk).
      if (a.index <= e.commit || (c.checker.appliedAt(a.index)?.term ?? 0) <= e.term) continue;
      if (e.key === null && e.deposedAt === null) this.leaderCutOverlaps++;
      e.key = a.key;
    }
    const s = c.isUp(e.id) ? c.status(e.id) : null;
    const leads = s !== null && s.role === 'leader' && s.term === e.term;
    if (!leads && e.deposedAt === null) e.deposedAt = c.now;
    const healAt = Math.min(e.at + f.leaderCutMaxTicks, (e.deposedAt ?? Number.POSITIVE_INFINITY) + e.linger);
    if (c.now >= healAt) {
      e.cut.healAt = c.now;
      c.net.faults = { ...e.links };
      this.pauseOverAt = c.now;
      this.leaderCut = null;
      if (this.tracer.on) this.tracer.event('partition', `cut-off leader episode of ${e.id} ends`);
      return;
    }
    const leader = c.leader();
    const other = leader !== null && leader !== e.id ? leader : null;
    if (other === null && !e.campaigned && c.now >= e.at + f.leaderCutCampaignAfter) {
      e.campaigned = true;
      const voters = s?.membership.voters ?? c.activeIds();
      const ready = voters.filter((v) => v !== e.id && c.isUp(v) && !c.isPaused(v));
      const best = ready.sort((a, b) => (c.status(b)?.lastIndex ?? 0) - (c.status(a)?.lastIndex ?? 0))[0];
      if (best !== undefined) c.campaign(best);
    }
    // The majority side's clients write until another leader acknowledged a write; the old
    // leader's clients read what was written there for as long as it still leads.
    if (other !== null && e.key === null) c.propose(other, 'k1');
    if (leads && e.key !== null) c.read(e.id, e.key);
  }

  private stallDisk(): void {
    const { c, f, stallRng } = this;
    const leader = c.leader();
    const live = c.liveIds();
    const id =
      leader !== null && stallRng.chance(f.stallLeaderBias)
        ? leader
        : stallRng.pick(live.length > 0 ? live : c.activeIds());
    const ticks = stallRng.int(f.stallTicks[0], f.stallTicks[1]);
    this.stallOverAt = c.now + ticks;
    c.stallDisk(id, ticks);
  }

  /**
   * Faults stop: heal every link and disk, resume every paused node, and bring back all nodes
   * but `stayDown` of the crashed ones.
   */
  stop(stayDown: number): void {
    this.cuts = [];
    this.c.net.heal();
    this.c.unstallDisks();
    for (const id of this.c.ids) this.c.resume(id);
    this.resumeAt.clear();
    this.episode = null;
    // The links a cut-off leader episode made healthy stay as the runner set them for the quiet
    // phase (scenario.ts sets them before this).
    this.leaderCut = null;
    this.round = null;
    const down = this.rng.shuffle(this.c.activeIds().filter((id) => !this.c.isUp(id)));
    for (const id of down.slice(stayDown)) this.c.restart(id);
    this.restartAt.clear();
  }

  /**
   * Cuts `id` off from every other node, both ways (messages in flight too), for `ticks` (the
   * operator's faults during a membership change use it; their timing comes from its own stream).
   */
  isolateFor(id: NodeId, ticks: number, why: string): void {
    const links: [NodeId, NodeId][] = [];
    for (const other of this.c.activeIds()) if (other !== id) links.push([id, other], [other, id]);
    const healAt = this.c.now + ticks;
    this.cuts.push({ links, healAt, background: false });
    this.applyCuts();
    if (this.tracer.on)
      this.tracer.event(
        'partition',
        `${why}: isolate ${id} until t=${healAt}: ${this.c.net.describePartition()}`,
      );
  }

  /**
   * Crashes `id` now and restarts it after `downTicks` (the operator's faults during a membership
   * change use it; their timing comes from the operator's own stream).
   */
  crashFor(id: NodeId, downTicks: number): void {
    this.c.crash(id);
    this.restartAt.set(id, this.c.now + downTicks);
  }

  private crash(id: NodeId): void {
    const { c, f, rng } = this;
    c.crash(id);
    const down = rng.chance(f.bounceRate) ? rng.int(1, 3) : rng.int(f.downTicks[0], f.downTicks[1]);
    this.restartAt.set(id, c.now + down);
  }

  private cut(links: [NodeId, NodeId][], background: boolean, what: string): void {
    const healAt = this.c.now + this.rng.int(this.f.partitionTicks[0], this.f.partitionTicks[1]);
    this.cuts.push({ links, healAt, background });
    this.applyCuts();
    if (this.tracer.on)
      this.tracer.event('partition', `${what} until t=${healAt}: ${this.c.net.describePartition()}`);
  }

  /** The network's blocked set is the union of the active cuts (links checked on delivery too). */
  private applyCuts(): void {
    this.c.net.heal();
    for (const cut of this.cuts) for (const [a, b] of cut.links) this.c.net.block(a, b);
  }

  private startPartition(): void {
    const { c, rng } = this;
    const ids = c.activeIds();
    // A cluster shrunk to one node (membership changes) has no link to cut.
    if (ids.length < 2) return;
    const leader = c.leader();
    const kind = rng.int(0, 3);
    const links: [NodeId, NodeId][] = [];
    this.partitions++;
    if (kind <= 1) {
      // Symmetric split; half the time the leader is on the minority side (§6.2: it must step
      // down or at least stop committing, and a new leader must emerge on the majority side).
      const shuffled = rng.shuffle(ids.slice());
      if (leader !== null && rng.chance(0.5)) {
        shuffled.splice(shuffled.indexOf(leader), 1);
        shuffled.unshift(leader);
      }
      const k = rng.int(1, Math.floor(ids.length / 2));
      const minority = shuffled.slice(0, k);
      for (const x of minority) for (const y of shuffled.slice(k)) links.push([x, y], [y, x]);
      this.cut(links, true, `split {${minority.join(',')}} from the rest`);
    } else if (kind === 2) {
      // One-way: a node (often the leader) can only send, or only receive.
      const x = leader !== null && rng.chance(0.5) ? leader : rng.pick(ids);
      const inbound = rng.chance(0.5);
      for (const y of ids) if (y !== x) links.push(inbound ? [y, x] : [x, y]);
      this.cut(links, true, `${x} ${inbound ? 'deaf' : 'mute'}`);
    } else {
      for (const x of ids) for (const y of ids) if (x !== y && rng.chance(0.3)) links.push([x, y]);
      this.cut(links, true, 'random links');
    }
  }
}
