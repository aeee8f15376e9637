// Goal: the fault injector of a scenario (Jepsen calls it the nemesis). Two kinds of faults, all
// drawn from the scenario's seed:
//  - background faults at random times: crashes (often of the leader), network partitions —
//    symmetric splits, one-way cuts, random broken links — that start and heal, and disk stalls
//    (often of the leader: its fsync hangs for several election timeouts);
//  - faults at "crash points", the moments right after a node took a decision it has not yet
//    propagated: it made a new term or vote durable, became leader, or advanced its commit index
//    as leader. Crashing or isolating a node exactly there is what turns a forgotten vote
//    (Figure 3.1) or an old-term entry committed by counting (Figure 3.7) into an observable
//    violation; random timing alone reaches those windows only rarely.

import type { NodeId } from '../../src/raft/index.js';
import type { SimCluster } from './cluster.js';
import type { Prng } from './prng.js';
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
};

export function describeFaults(f: FaultPlan): string {
  return (
    `crash=${f.crashRate} (leader ${f.leaderBias}, bounce ${f.bounceRate}, down ${f.downTicks[0]}..${f.downTicks[1]}) ` +
    `crashPoint=${f.crashPointRate} isolatePoint=${f.isolatePointRate} ` +
    `partition=${f.partitionRate} (${f.partitionTicks[0]}..${f.partitionTicks[1]})` +
    (f.stallRate > 0
      ? ` diskStall=${f.stallRate} (leader ${f.stallLeaderBias}, ${f.stallTicks[0]}..${f.stallTicks[1]})`
      : '')
  );
}

/** A set of cut directed links that heals at a given tick. Cuts may overlap. */
interface Cut {
  readonly links: readonly (readonly [NodeId, NodeId])[];
  readonly healAt: number;
  readonly background: boolean;
}

export class Nemesis {
  partitions = 0;
  isolations = 0;
  crashPointCrashes = 0;
  /** No new stall starts before this tick (one stalled disk at a time). */
  private stallOverAt = 0;
  private readonly restartAt = new Map<NodeId, number>();
  private cuts: Cut[] = [];

  constructor(
    private readonly c: SimCluster,
    private readonly f: FaultPlan,
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    /** Disk stalls draw from their own stream: the other faults of a seed do not move when they are on. */
    private readonly stallRng: Prng = rng,
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
    const healed = this.cuts.filter((cut) => cut.healAt <= c.now);
    if (healed.length > 0) {
      this.cuts = this.cuts.filter((cut) => cut.healAt > c.now);
      this.applyCuts();
      if (this.tracer.on) this.tracer.event('heal', `links now cut: ${c.net.describePartition() || 'none'}`);
    }
    if (f.crashRate > 0 && rng.chance(f.crashRate)) {
      const live = c.liveIds();
      const leader = c.leader();
      if (leader !== null && rng.chance(f.leaderBias)) this.crash(leader);
      else if (live.length > 0) this.crash(rng.pick(live));
    }
    if (f.crashPointRate > 0 || f.isolatePointRate > 0) {
      for (const { id, kind } of c.crashPoints()) {
        const r = rng.float();
        if (r < f.crashPointRate) {
          this.crashPointCrashes++;
          this.crash(id);
        } else if (kind !== 'vote' && r < f.crashPointRate + f.isolatePointRate) {
          this.isolations++;
          const links: [NodeId, NodeId][] = [];
          for (const other of c.ids) if (other !== id) links.push([id, other], [other, id]);
          this.cut(links, false, `isolate ${id}`);
        }
      }
    }
    if (f.partitionRate > 0 && !this.cuts.some((cut) => cut.background) && rng.chance(f.partitionRate)) {
      this.startPartition();
    }
    if (f.stallRate > 0 && c.now >= this.stallOverAt && this.stallRng.chance(f.stallRate)) this.stallDisk();
  }

  private stallDisk(): void {
    const { c, f, stallRng } = this;
    const leader = c.leader();
    const live = c.liveIds();
    const id =
      leader !== null && stallRng.chance(f.stallLeaderBias)
        ? leader
        : stallRng.pick(live.length > 0 ? live : c.ids);
    const ticks = stallRng.int(f.stallTicks[0], f.stallTicks[1]);
    this.stallOverAt = c.now + ticks;
    c.stallDisk(id, ticks);
  }

  /** Faults stop: heal every link and disk, and bring back all nodes but `stayDown` of the crashed ones. */
  stop(stayDown: number): void {
    this.cuts = [];
    this.c.net.heal();
    this.c.unstallDisks();
    const down = this.rng.shuffle(this.c.ids.filter((id) => !this.c.isUp(id)));
    for (const id of down.slice(stayDown)) this.c.restart(id);
    this.restartAt.clear();
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
    const ids = [...c.ids];
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
