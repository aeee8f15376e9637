// Goal: a deterministic in-memory cluster of real RawNode cores, each driven by a SimNode (see
// driver.ts) over the simulated network, with crashes, restarts and process pauses. One tick
// delivers the messages due, completes due durable writes and ticks every live core; a paused
// node takes no part in any of it, and client requests addressed to it wait for its resume.
// Scenario tests use its methods directly (propose, read, crash, pause, partition via `net`,
// runUntil) to build a history step by step; the random runner (scenario.ts) uses the same
// methods.
// The node set grows at run time: addNode starts a brand-new node with empty storage (no log, no
// membership: it waits to hear from a leader that has added it), and retire stops a node for good
// (an operator decommissions a removed member). The bootstrap nodes n1..nK start with the
// configuration of all K as voters; every node ever created stays known to the checker.

import type { DriverMutations } from '../../src/node/driver.js';
import {
  decodeMembership,
  defaultRaftConfig,
  initialMembership,
  type MemberChange,
  type MembershipChangeResult,
  MemoryLogStorage,
  type NodeId,
  type ProposeResult,
  type RawNode,
  type Role,
  type TransferResult,
} from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';
import { SafetyChecker } from './checker.js';
import { Clients } from './clients.js';
import {
  type ClusterStats,
  type CrashPointKind,
  type DriverEnv,
  type PersistLatency,
  SimNode,
  type SimRaftConfig,
  type SnapshotPolicy,
} from './driver.js';
import { describeMembership, encodePut, type KvStateMachine } from './kv.js';
import { type LinkFaults, reliableLinks, SimNetwork } from './network.js';
import { silentTracer, type Tracer } from './trace.js';

export type { ClusterStats, CrashPointKind, PersistLatency, SimRaftConfig, SnapshotPolicy };
export type NodeStatus = ReturnType<RawNode['status']>;

export interface ClusterOptions {
  readonly seed: number;
  readonly size: number;
  readonly raft?: Partial<SimRaftConfig>;
  readonly links?: LinkFaults;
  readonly persist?: PersistLatency;
  readonly snapshots?: SnapshotPolicy | null;
  /**
   * The disk-stall guard's bound in ticks (see src/node/disk-stall.ts); null turns the guard off.
   * Default: the election timeout, as the real node's default (diskStallMs = electionTimeoutMs).
   */
  readonly diskStallBound?: number | null;
  /**
   * While a node's write is in flight, send the messages its core may send before persistence
   * after every call, instead of with its next Ready (see driver.ts). Default false.
   */
  readonly pipeline?: boolean;
  /** Deliberately broken driver behaviour (see driver.ts); default none. */
  readonly driverMutations?: DriverMutations;
  readonly tracer?: Tracer;
  readonly traceCore?: boolean;
  /** Seeds the cluster's random streams; defaults to `seed`. */
  readonly streamSeed?: number;
  /** How to reproduce this run; quoted in every violation. */
  readonly replay?: string;
}

export class SimCluster implements DriverEnv {
  readonly net: SimNetwork;
  readonly checker: SafetyChecker;
  readonly clients: Clients;
  readonly tracer: Tracer;
  readonly config: SimRaftConfig;
  private readsIssued = 0;
  readonly stats: ClusterStats = {
    crashes: 0,
    restarts: 0,
    snapshotsTaken: 0,
    snapshotsInstalled: 0,
    diskStalls: 0,
    pauses: 0,
    pauseHeld: 0,
    pauseLost: 0,
    pauseRequests: 0,
    catchUps: 0,
    stallTransfers: 0,
    stallStepDowns: 0,
  };
  readonly traceCore: boolean;
  readonly driverRng: Prng;
  readonly driverMutations: DriverMutations;
  persist: PersistLatency;
  snapshots: SnapshotPolicy | null;
  diskStallBound: number | null;
  pipeline: boolean;
  now = 0;
  /** True while tick() delivers messages and completes writes: the nodes' clocks read now − ½. */
  private arriving = false;
  private readonly nodes = new Map<NodeId, SimNode>();
  /** Every node ever created, in order of creation (the bootstrap nodes first). */
  private readonly allIds: NodeId[];
  /** Nodes stopped for good (decommissioned); never restarted. */
  private readonly retired = new Set<NodeId>();
  private readonly storages = new Map<NodeId, MemoryLogStorage>();
  private readonly tickRng: Prng;
  /** Forks each joining node's stream (after the bootstrap nodes', so theirs do not move). */
  private readonly root: Prng;

  constructor(opts: ClusterOptions) {
    const root = new Prng(opts.streamSeed ?? opts.seed);
    this.root = root;
    this.tickRng = root.fork();
    this.driverRng = this.tickRng;
    this.tracer = opts.tracer ?? silentTracer;
    this.traceCore = opts.traceCore ?? false;
    this.config = { ...defaultRaftConfig, ...opts.raft };
    this.persist = opts.persist ?? { min: 0, max: 0 };
    this.snapshots = opts.snapshots ?? null;
    this.diskStallBound =
      opts.diskStallBound === undefined ? this.config.electionTimeoutTicks : opts.diskStallBound;
    this.pipeline = opts.pipeline ?? false;
    this.driverMutations = opts.driverMutations ?? {};
    this.net = new SimNetwork(root.fork(), this.tracer, opts.links ?? reliableLinks);
    this.allIds = Array.from({ length: opts.size }, (_, i) => `n${i + 1}`);
    const membership = initialMembership(this.allIds);
    for (const id of this.allIds) {
      this.nodes.set(id, new SimNode(id, new MemoryLogStorage(membership), root.fork(), this));
    }
    for (const [id, n] of this.nodes) this.storages.set(id, n.storage);
    const clock = (): number => this.now;
    this.checker = new SafetyChecker(
      opts.seed,
      clock,
      this.storages,
      opts.replay ?? `seed ${opts.seed}`,
      membership,
    );
    this.clients = new Clients(this.checker, this.tracer, clock);
    for (const n of this.nodes.values()) n.start();
  }

  /** Every node ever created (retired ones included), the bootstrap nodes first. */
  get ids(): readonly NodeId[] {
    return this.allIds;
  }

  isNode(id: NodeId): boolean {
    return this.nodes.has(id);
  }

  /** Nodes not retired (up or down). */
  activeIds(): NodeId[] {
    return this.retired.size === 0 ? [...this.allIds] : this.allIds.filter((id) => !this.retired.has(id));
  }

  isRetired(id: NodeId): boolean {
    return this.retired.has(id);
  }

  /**
   * A brand-new node starts with empty storage — no log, no membership — as a fresh process an
   * operator starts before asking the leader to add it: it never campaigns, and it learns the
   * log (and the membership that makes it a member) from a leader.
   */
  addNode(id: NodeId): void {
    if (this.nodes.has(id)) throw new Error(`node ${id} exists`);
    const n = new SimNode(id, new MemoryLogStorage(initialMembership([])), this.root.fork(), this);
    this.nodes.set(id, n);
    this.storages.set(id, n.storage);
    this.allIds.push(id);
    if (this.tracer.on) this.tracer.event('join', `${id} starts with empty storage`);
    n.start();
  }

  /** The node is stopped for good (its storage stays, for the checker). */
  retire(id: NodeId): void {
    const n = this.node(id);
    if (this.retired.has(id)) return;
    if (n.raw) n.crash();
    this.retired.add(id);
    if (this.tracer.on) this.tracer.event('retire', `${id} is stopped for good`);
  }

  /**
   * The configuration in force on the node: its core's, or, while it is down, the latest in its
   * durable log (else its snapshot's).
   */
  membershipOf(id: NodeId): { membership: NodeStatus['membership']; index: number } {
    const s = this.status(id);
    if (s !== null) return { membership: s.membership, index: s.membershipIndex };
    const storage = this.storage(id);
    for (let i = storage.lastIndex(); i >= storage.firstIndex(); i--) {
      const e = storage.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!;
      if (e.type === 'config') return { membership: decodeMembership(e.data), index: i };
    }
    const snap = storage.snapshot().meta;
    return { membership: snap.membership, index: snap.index };
  }

  /** See DriverEnv.nodeClock. */
  get nodeClock(): number {
    return this.arriving ? this.now - 0.5 : this.now;
  }

  // -- Observation -------------------------------------------------------------------------

  /** Up: the process exists (it may be paused). */
  isUp(id: NodeId): boolean {
    return this.node(id).raw !== null;
  }

  isPaused(id: NodeId): boolean {
    return this.node(id).isPaused;
  }

  liveIds(): NodeId[] {
    return this.ids.filter((id) => this.isUp(id));
  }

  /** Live nodes that reached a crash point (see SimNode.crashPoint) during the last tick. */
  crashPoints(): { id: NodeId; kind: CrashPointKind }[] {
    const out: { id: NodeId; kind: CrashPointKind }[] = [];
    for (const id of this.liveIds()) {
      const p = this.node(id).crashPoint;
      if (p !== null && p.at === this.now) out.push({ id, kind: p.kind });
    }
    return out;
  }

  /** The role the node reported after the last call into it (no call into the core). */
  roleOf(id: NodeId): Role | null {
    return this.node(id).last?.role ?? null;
  }

  status(id: NodeId): NodeStatus | null {
    const n = this.node(id);
    return n.raw ? n.call('status', (r) => r.status()) : null;
  }

  /** The live node that believes it leads the highest term, if any. */
  leader(): NodeId | null {
    let best: NodeStatus | null = null;
    for (const id of this.ids) {
      const s = this.status(id);
      if (s?.role === 'leader' && (best === null || s.term > best.term)) best = s;
    }
    return best?.id ?? null;
  }

  /**
   * The highest term a live node believes it leads, as of the last call into each node (no call
   * into the cores: cheap enough for every tick), or 0.
   */
  leaderTerm(): number {
    let t = 0;
    for (const n of this.nodes.values()) {
      const s = n.raw ? n.last : null;
      if (s !== null && s.role === 'leader' && s.term > t) t = s.term;
    }
    return t;
  }

  storage(id: NodeId): MemoryLogStorage {
    return this.node(id).storage;
  }

  /** The (index, term, data) of every entry the node applied, across restarts. */
  appliedHistory(id: NodeId): SimNode['history'] {
    return this.node(id).history;
  }

  stateMachine(id: NodeId): KvStateMachine | null {
    return this.node(id).sm;
  }

  /** Highest term any live node is in. */
  maxTerm(): number {
    let t = 0;
    for (const id of this.liveIds()) t = Math.max(t, this.status(id)!.term);
    return t;
  }

  // -- Time --------------------------------------------------------------------------------

  /**
   * One tick: deliver due messages, complete due writes, tick every live core (and its stall
   * guard). A paused node is skipped: what reaches it waits for its resume (or is lost).
   */
  tick(): void {
    this.now++;
    this.tracer.tick = this.now;
    this.arriving = true;
    try {
      for (const m of this.net.takeDue(this.now)) {
        const n = this.nodes.get(m.to);
        if (!n) this.checker.fail('message integrity', `message to unknown node ${m.to}`);
        if (n.raw === null) {
          if (this.tracer.on) this.tracer.event('drop', `${m.from}->${m.to} ${m.type} (${m.to} is down)`);
        } else if (n.isPaused) n.arriveWhilePaused(m);
        else n.deliver(m);
      }
      for (const n of this.nodes.values()) if (n.raw) n.completePersistIfDue();
    } finally {
      this.arriving = false;
    }
    for (const id of this.tickRng.shuffle(this.liveIds())) {
      const n = this.node(id);
      if (n.raw && !n.isPaused) n.tick();
    }
    // Each call already ran the called core's checkInvariants() (no other core changes on it);
    // once per tick every live core is checked too, whatever touched it.
    for (const n of this.nodes.values()) if (n.raw) n.call('checkInvariants', (r) => r.checkInvariants());
  }

  run(ticks: number): void {
    for (let i = 0; i < ticks; i++) this.tick();
  }

  /** Ticks until `done()` holds; returns the ticks it took, or null after `maxTicks`. */
  runUntil(done: () => boolean, maxTicks: number): number | null {
    for (let i = 0; i <= maxTicks; i++) {
      if (done()) return i;
      if (i < maxTicks) this.tick();
    }
    return null;
  }

  // -- Client operations --------------------------------------------------------------------

  /**
   * Proposes `put key <fresh value>` at `id`; null if the node is down, or paused: then the
   * proposal waits for its resume.
   */
  propose(id: NodeId, key: string): ProposeResult | null {
    const n = this.node(id);
    if (!n.raw) return null;
    const value = this.clients.nextValue();
    if (n.isPaused) {
      n.holdRequest(`propose ${key}=${value}`, () => this.proposeNow(n, key, value));
      return null;
    }
    return this.proposeNow(n, key, value);
  }

  private proposeNow(n: SimNode, key: string, value: string): ProposeResult {
    const { id } = n;
    const res = n.input('propose', (r) => r.propose(encodePut(key, value)));
    if (res.kind === 'accepted') {
      this.clients.onAccepted(id, key, value, res.index, res.term);
      if (this.tracer.on)
        this.tracer.event('propose', `${id} ${key}=${value} accepted at ${res.index}/t${res.term}`);
    } else {
      this.clients.onRejected();
      if (this.tracer.on) this.tracer.event('propose', `${id} ${key}=${value} rejected: ${res.reason}`);
    }
    n.settle();
    return res;
  }

  /**
   * Starts a ReadIndex read of `key` at `id`; returns its context, or null if the node is down.
   * A paused node starts it on resume; the checker judges it by when it was issued, now.
   */
  read(id: NodeId, key: string): string | null {
    const n = this.node(id);
    if (!n.raw) return null;
    const ctx = this.clients.beginRead(id, key);
    // With leaseReads, every other read asks for the leader lease, whatever the read mode.
    const mode = this.config.leaseReads && this.readsIssued++ % 2 === 0 ? ('lease' as const) : undefined;
    if (this.tracer.on)
      this.tracer.event('read', `${id} ${ctx} of ${key} issued${mode === 'lease' ? ' (lease)' : ''}`);
    if (n.isPaused) n.holdRequest(`read ${ctx}`, () => n.drive('readIndex', (r) => r.readIndex(ctx, mode)));
    else n.drive('readIndex', (r) => r.readIndex(ctx, mode));
    return ctx;
  }

  /**
   * An operator's membership change (chapter 4) sent to `id`; null if the node is down or paused
   * (the request times out). Accepted: a crash point (the leader decided, nobody knows yet).
   */
  proposeMembership(id: NodeId, changes: readonly MemberChange[]): MembershipChangeResult | null {
    const n = this.node(id);
    if (!n.raw || n.isPaused) return null;
    const res = n.drive('proposeMembership', (r) => r.proposeMembership(changes));
    if (res.kind === 'accepted') n.crashPoint = { at: this.now, kind: 'change' };
    if (this.tracer.on) {
      const what = changes.map((ch) => `${ch.kind} ${ch.id}`).join(', ');
      const outcome =
        res.kind === 'accepted'
          ? `accepted at ${res.index}/t${res.term}: ${describeMembership(res.membership)}`
          : res.kind === 'rejected'
            ? `rejected: ${res.reason}`
            : `refused: ${Object.values(res.refusal).join(' ')}`;
      this.tracer.event('member', `${id} ${what}: ${outcome}`);
    }
    return res;
  }

  /**
   * The node starts an election now, as its election timer would (a no-op if it is down or
   * paused). The nemesis uses it for a timer that draws the shortest randomized timeout.
   */
  campaign(id: NodeId): void {
    const n = this.node(id);
    if (!n.raw || n.isPaused) return;
    if (this.tracer.on) this.tracer.event('campaign', `${id} campaigns`);
    n.drive('campaign', (r) => r.campaign());
  }

  /** Null if the node is down or paused (an operator's request to a stopped process times out). */
  transferLeadership(id: NodeId, to: NodeId): TransferResult | null {
    const n = this.node(id);
    if (!n.raw || n.isPaused) return null;
    const res = n.drive('transferLeadership', (r) => r.transferLeadership(to));
    if (this.tracer.on) this.tracer.event('transfer', `${id} -> ${to}: ${res.kind}`);
    return res;
  }

  // -- Faults ------------------------------------------------------------------------------

  /** The process dies: the core, the state machine and any write not yet durable are lost. */
  crash(id: NodeId): void {
    const n = this.node(id);
    if (n.raw) n.crash();
  }

  /**
   * The node's disk stalls for `ticks`: every write that must be synced (and any such write in
   * flight) completes only once the stall is over. The disk, not the process, is stalled: the
   * stall outlives a crash. A stall already in progress is extended, never shortened.
   */
  stallDisk(id: NodeId, ticks: number): void {
    const n = this.node(id);
    const until = Math.max(n.stalledUntil, this.now + ticks);
    n.stalledUntil = until;
    this.stats.diskStalls++;
    if (this.tracer.on) this.tracer.event('stall', `${id}'s disk stalls until t=${until}`);
  }

  /** Tick until which the node's disk is stalled (≤ now: not stalled). */
  stalledUntil(id: NodeId): number {
    return this.node(id).stalledUntil;
  }

  /** Every stalled disk recovers now; writes held by a stall complete on the next tick. */
  unstallDisks(): void {
    for (const n of this.nodes.values()) n.stalledUntil = Math.min(n.stalledUntil, this.now);
  }

  /**
   * The node's process stops (see SimNode.pause): no ticks, deliveries, write completions or
   * client requests until resume(id); its clock runs on. `hold`: messages addressed to it wait
   * for the resume; otherwise they are lost. A crash ends the pause (and loses what waited).
   */
  pause(id: NodeId, hold: boolean): void {
    this.node(id).pause(hold);
  }

  /** The paused process continues: what it missed is handled now (see SimNode.resume). */
  resume(id: NodeId): void {
    this.node(id).resume();
  }

  /** Rebuilds the node from its durable storage, as a real process restart would. */
  restart(id: NodeId): void {
    const n = this.node(id);
    if (n.raw || this.retired.has(id)) return;
    this.stats.restarts++;
    n.start();
  }

  private node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`unknown node ${id}`);
    return n;
  }
}
