// Goal: the fault schedule of one run, drawn from the seed. At seeded intervals it picks a fault:
//  - crash: power loss on a node (any state: up, recovering, stopping), restarted later — and
//    now and then crashed again while it recovers from its disk;
//  - crash mid-fsync: the node's disk stalls, then the node crashes with its batch unsynced, so
//    the crash tears the WAL's tail (the leader is the usual victim: its fsync overlaps
//    replication, §10.2.1);
//  - partitions: a random split, the leader cut off, or one direction of one link;
//  - disk stall: a node's fsyncs stop completing for a while (the stall guard should move
//    leadership away from a stalled leader);
//  - I/O error: the node's next fsync or append fails (it must stop, and recover on restart);
//  - graceful restart: hand leadership over, stop, start again;
//  - pause: a node's process stops (SIGSTOP, a long GC, a descheduled VM) for longer than an
//    election timeout, then runs on; the leader is the usual victim. The pointed variant is the
//    one that exposes a leader trusting a lease its stopped clock did not see run out: the leader
//    is paused and cut off from its peers at the same moment (clients still reach it), the others
//    elect a new leader and commit writes, the old one resumes still cut off — its clients' held
//    reads and new ones reach it — and only later do its links heal.
// Down nodes come back after a seeded delay; heal() ends every fault for the final checks.

import type { NodeId } from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import type { SimCluster } from './cluster.js';
import type { SimNetwork } from './network.js';
import type { Tracer } from './trace.js';
import { Domain, type Scheduler } from './virtual-clock.js';

export interface NemesisConfig {
  /** Pause between two faults: uniform in [gapMinMs, gapMaxMs]. */
  readonly gapMinMs: number;
  readonly gapMaxMs: number;
  /** Relative weights of the faults; 0 disables one. */
  readonly weights: Readonly<Record<FaultKind, number>>;
  /** How long a node stays down after a crash: uniform in [0, downMaxMs]. */
  readonly downMaxMs: number;
  /** How long a process stays paused: uniform in [pauseMinMs, pauseMaxMs]. */
  readonly pauseMinMs: number;
  readonly pauseMaxMs: number;
  /** Share of pauses that are the pointed variant (the leader paused and isolated). */
  readonly isolatedPauseRate: number;
}

export const FAULT_KINDS = [
  'crash',
  'crashMidSync',
  'partition',
  'stall',
  'eio',
  'graceful',
  'pause',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface NemesisStats {
  partitions: number;
  crashMidSync: number;
  /** Pointed pauses: the leader paused and isolated, resumed still isolated. */
  isolatedPauses: number;
}

export class Nemesis {
  readonly stats: NemesisStats = { partitions: 0, crashMidSync: 0, isolatedPauses: 0 };
  private readonly domain = new Domain('nemesis');
  /** No other fault starts before this virtual time: a pointed pause plays out undisturbed. */
  private quietUntil = 0;

  constructor(
    private readonly sched: Scheduler,
    private readonly cluster: SimCluster,
    private readonly net: SimNetwork,
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    private readonly config: NemesisConfig,
  ) {}

  /** Injects faults until virtual time `until`. */
  async run(until: number): Promise<void> {
    const total = FAULT_KINDS.reduce((s, k) => s + this.config.weights[k], 0);
    if (total === 0) return;
    for (;;) {
      await this.sched.sleep(this.rng.int(this.config.gapMinMs, this.config.gapMaxMs), this.domain);
      if (this.sched.now >= until || !this.domain.alive) return;
      if (this.sched.now < this.quietUntil) continue;
      let x = this.rng.next() * total;
      let kind: FaultKind = 'crash';
      for (const k of FAULT_KINDS) {
        x -= this.config.weights[k];
        if (x < 0) {
          kind = k;
          break;
        }
      }
      this.inject(kind);
    }
  }

  /**
   * Ends every fault: no more faults, the network heals, disks and paused processes resume, down
   * nodes restart.
   */
  heal(): void {
    this.domain.alive = false;
    this.net.heal();
    this.cluster.unstallAll();
    for (const id of this.cluster.ids) this.cluster.resume(id);
    for (const id of this.cluster.ids) if (this.cluster.state(id) === 'down') this.cluster.restart(id);
    this.tracer.event('heal', 'faults end: network healed, disks resumed, every node started');
  }

  private inject(kind: FaultKind): void {
    const c = this.cluster;
    const ids = c.ids;
    const leader = c.leader();
    const victim = (): NodeId => (leader !== null && this.rng.chance(0.5) ? leader : this.rng.pick(ids));
    switch (kind) {
      case 'crash': {
        const id = this.rng.pick(ids);
        if (c.state(id) === 'down') return;
        c.crash(id);
        this.restartLater(id);
        return;
      }
      case 'crashMidSync': {
        const id = victim();
        if (!c.node(id).up) return;
        this.stats.crashMidSync++;
        c.stall(id, 1000);
        this.sched.after(
          this.rng.int(1, 40),
          () => {
            if (c.state(id) === 'down') return;
            c.crash(id);
            this.restartLater(id);
          },
          this.domain,
        );
        return;
      }
      case 'partition': {
        this.stats.partitions++;
        const shape = this.rng.int(0, 2);
        if (shape === 0 && leader !== null) {
          this.net.partition([[leader], ids.filter((id) => id !== leader)]);
        } else if (shape === 1) {
          const a = this.rng.pick(ids);
          const b = this.rng.pick(ids.filter((id) => id !== a));
          this.net.block(a, b);
        } else {
          const shuffled = this.rng.shuffle([...ids]);
          const cut = this.rng.int(1, Math.floor(ids.length / 2));
          this.net.partition([shuffled.slice(0, cut), shuffled.slice(cut)]);
        }
        this.tracer.event('partition', this.net.describePartition());
        this.sched.after(
          this.rng.int(50, 600),
          () => {
            this.net.heal();
            this.tracer.event('heal', 'network');
          },
          this.domain,
        );
        return;
      }
      case 'stall':
        c.stall(victim(), this.rng.int(20, 500));
        return;
      case 'eio':
        c.injectEio(this.rng.pick(ids), this.rng.chance(0.7) ? 'sync' : 'append');
        return;
      case 'graceful':
        c.gracefulRestart(victim(), this.rng.int(0, this.config.downMaxMs));
        return;
      case 'pause':
        this.pause(leader);
        return;
    }
  }

  /** A process pause; the pointed variant isolates the paused leader until after it resumes. */
  private pause(leader: NodeId | null): void {
    const c = this.cluster;
    const ms = this.rng.int(this.config.pauseMinMs, this.config.pauseMaxMs);
    const loseMessages = this.rng.chance(0.5);
    if (leader !== null && this.rng.chance(this.config.isolatedPauseRate)) {
      if (!c.pause(leader, loseMessages)) return;
      this.stats.isolatedPauses++;
      const reconnect = this.net.isolate(leader, c.ids);
      this.tracer.event('partition', `${leader} isolated while paused for ${ms}ms`);
      this.sched.after(ms, () => c.resume(leader), this.domain);
      const reconnectAt =
        ms + this.rng.int(Math.floor(this.config.pauseMinMs / 2), Math.floor(this.config.pauseMaxMs / 2));
      // Another crash or pause meanwhile would mostly keep the majority from electing and
      // committing — the writes a stale read would miss.
      this.quietUntil = this.sched.now + reconnectAt;
      this.sched.after(
        reconnectAt,
        () => {
          reconnect();
          this.tracer.event('heal', `${leader} reconnected`);
        },
        this.domain,
      );
      return;
    }
    const id = leader !== null && this.rng.chance(0.7) ? leader : this.rng.pick(c.ids);
    if (!c.pause(id, loseMessages)) return;
    this.sched.after(ms, () => c.resume(id), this.domain);
  }

  /** Restarts a crashed node later; now and then crashes it again while it recovers. */
  private restartLater(id: NodeId): void {
    const interrupt = this.rng.chance(0.25);
    const after = this.rng.int(0, 6);
    this.sched.after(
      this.rng.int(0, this.config.downMaxMs),
      () => {
        this.cluster.restart(id);
        if (!interrupt) return;
        this.sched.after(
          after,
          () => {
            if (this.cluster.state(id) !== 'starting') return;
            this.cluster.crash(id);
            this.restartLater(id);
          },
          this.domain,
        );
      },
      this.domain,
    );
  }
}
