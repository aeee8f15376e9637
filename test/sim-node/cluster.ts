// Goal: a cluster of real raftkv node runtimes on virtual time. Each node has its own SimDisk and
// is wired as startNode wires it — openStorage, recoverCore (snapshot, entries, hard state into
// the core's log view; the state machine restored), Driver, NodeKvService — with the scheduler's
// clock and the simulated network in place of timers and sockets. What it adds is the lifecycle
// a test needs: crash (the process and the machine stop at once: the incarnation's timers and
// messages die, SimDisk.crash tears the unsynced tail), restart (recover from what the disk kept),
// graceful restart, disk stalls (every fsync is held by the disk and released after a seeded
// latency; a stall stops releasing for a while), injected I/O errors (the node stops on its
// fatal path and is restarted like a supervisor would) and process pauses (SIGSTOP, a long GC, a
// descheduled VM: the machine, its disk and the network go on, the process runs nothing; what
// came for it — timers, peer messages, client requests, disk completions — waits for the resume,
// see virtual-clock.ts; peer messages may be lost instead, see network.ts).
//
// Node-level invariants checked here, recorded as violations:
//  - recovery never fails on a crashed disk (a torn tail must be truncated, not reported as
//    corruption) and never goes back on what was durable: the term and vote, and every log entry
//    the node had fsynced (unless the disk also kept a later, higher-term replacement of it);
//  - at most one leader per term, across incarnations;
//  - every node applies the same entry (by term) at each index;
//  - the core's own structural invariants (RawNode.checkInvariants) hold between events;
//  - no node stops on an unexpected fatal error (only injected I/O errors may stop one).

import { ShuttingDownError } from '../../src/api/errors.js';
import { Driver } from '../../src/node/driver.js';
import { NodeKvService } from '../../src/node/kv-service.js';
import type { LogFields, NodeLogLevel } from '../../src/node/logger.js';
import { type ResolvedNodeOptions, resolveNodeOptions } from '../../src/node/options.js';
import { recoverCore } from '../../src/node/recover.js';
import type { MemoryLogStorage, NodeId, ReadMode } from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';
import { openStorage, type RecoveredState, SimDisk, type Storage } from '../../src/storage/index.js';
import { GatedDisk } from './gated-disk.js';
import type { SimNetwork } from './network.js';
import { SimEventLog, type Tracer } from './trace.js';
import { Domain, type Scheduler } from './virtual-clock.js';

export interface ClusterConfig {
  readonly size: number;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
  readonly snapshotEvery: number;
  readonly snapshotCatchUpEntries: number;
  readonly segmentSize: number;
  readonly readMode: ReadMode;
  /** Upper bound of the seeded fsync latency, in virtual ms. */
  readonly fsyncLatencyMs: number;
  /** Test-only: file syncs resolve before the data is durable. */
  readonly lyingFsync: boolean;
  /** Test-only: the driver ticks once per timer callback, blind to the time a pause took. */
  readonly forgetPausedTime?: boolean;
  /** Test-only: a new leader counts every lease's TTL from its election (etcd#9395). */
  readonly resetLeasesOnElection?: boolean;
}

export type NodeState = 'starting' | 'up' | 'stopping';

export type CallResult<T> =
  | { readonly kind: 'ok'; readonly value: T }
  | { readonly kind: 'error'; readonly error: unknown }
  /** The node was not serving: the request was never sent. */
  | { readonly kind: 'refused' }
  /** The node crashed or stopped with the request in flight. */
  | { readonly kind: 'crashed' }
  /** The client gave up waiting. */
  | { readonly kind: 'timeout' };

interface Incarnation {
  readonly n: number;
  readonly domain: Domain;
  state: NodeState;
  driver: Driver | null;
  service: NodeKvService | null;
  log: MemoryLogStorage | null;
  storage: Storage | null;
  readonly calls: Set<(r: CallResult<never>) => void>;
  /** Highest index checked against the cluster's applied entries. */
  checkedApplied: number;
}

/** What a node had made durable, as its driver knew it, when it last went down. */
interface DurableView {
  readonly term: number;
  readonly votedFor: NodeId | null;
  readonly snapIndex: number;
  readonly snapTerm: number;
  /** Terms of entries snapIndex+1 … */
  readonly terms: readonly number[];
}

export interface ClusterStats {
  crashes: number;
  crashesWithUnsynced: number;
  /** Crashes that hit a node while it was recovering from its disk. */
  crashesInRecovery: number;
  restarts: number;
  gracefulRestarts: number;
  tornTails: number;
  discardedSnapshots: number;
  stalls: number;
  eioInjected: number;
  fatalStops: number;
  pauses: number;
  events: Record<string, number>;
}

class SimNode {
  readonly disk: SimDisk;
  inc: Incarnation | null = null;
  incarnations = 0;
  stalled = false;
  private unstallWaiters: (() => void)[] = [];
  durable: DurableView | null = null;

  constructor(
    readonly id: NodeId,
    readonly options: ResolvedNodeOptions,
    diskSeed: number,
  ) {
    this.disk = new SimDisk(new Prng(diskSeed));
  }

  get up(): boolean {
    return this.inc?.state === 'up';
  }

  unstall(): void {
    this.stalled = false;
    for (const w of this.unstallWaiters.splice(0)) w();
  }

  whenUnstalled(): Promise<void> {
    if (!this.stalled) return Promise.resolve();
    return new Promise((r) => this.unstallWaiters.push(r));
  }
}

const DATA_DIR = 'data';
const IDENTITY = { clusterId: 'raftkv-sim' };

export class SimCluster {
  readonly ids: readonly NodeId[];
  readonly violations: string[] = [];
  readonly stats: ClusterStats = {
    crashes: 0,
    crashesWithUnsynced: 0,
    crashesInRecovery: 0,
    restarts: 0,
    gracefulRestarts: 0,
    tornTails: 0,
    discardedSnapshots: 0,
    stalls: 0,
    eioInjected: 0,
    fatalStops: 0,
    pauses: 0,
    events: {},
  };
  /** Set at the end: the disk releasers and restart timers stop. */
  private readonly system = new Domain('cluster');
  private readonly nodes = new Map<NodeId, SimNode>();
  private readonly byAddress = new Map<string, NodeId>();
  private readonly leaderOfTerm = new Map<number, NodeId>();
  private readonly appliedTerms: number[] = [0];
  /** A test's own listener for every node event (all incarnations), told as it is logged. */
  nodeEvents: ((node: NodeId, event: string, fields: LogFields) => void) | null = null;
  /** Indices below this were compacted everywhere they were checked; kept small in memory. */
  private readonly rngCore: Prng;
  private readonly rngDisk: Prng;

  constructor(
    private readonly sched: Scheduler,
    private readonly net: SimNetwork,
    private readonly tracer: Tracer,
    rng: Prng,
    readonly config: ClusterConfig,
  ) {
    this.rngCore = rng.fork();
    this.rngDisk = rng.fork();
    const diskSeeds = rng.fork();
    this.ids = Array.from({ length: config.size }, (_, i) => `n${i + 1}`);
    const cluster = Object.fromEntries(this.ids.map((id, i) => [id, { host: id, port: 7001 + i }]));
    for (const id of this.ids) {
      const options = resolveNodeOptions({
        id,
        cluster,
        dataDir: DATA_DIR,
        heartbeatIntervalMs: config.heartbeatMs,
        electionTimeoutMs: config.electionMs,
        requestTimeoutMs: config.requestTimeoutMs,
        snapshotEvery: config.snapshotEvery,
        snapshotCatchUpEntries: config.snapshotCatchUpEntries,
        readMode: config.readMode,
        logSink: () => {},
      });
      this.nodes.set(id, new SimNode(id, options, diskSeeds.nextU32()));
      const a = cluster[id]!;
      this.byAddress.set(`${a.host}:${a.port}`, id);
    }
  }

  /** Boots every node, each after a small seeded offset, and starts the disks' fsync latency. */
  start(): void {
    for (const node of this.nodes.values()) {
      void this.releaseSyncs(node);
      this.sched.after(this.rngCore.int(0, this.config.heartbeatMs), () => this.boot(node), this.system);
    }
  }

  /** Stops the cluster's own timers (used once the run is over). */
  shutdown(): void {
    this.system.alive = false;
    for (const node of this.nodes.values()) {
      if (node.inc !== null) node.inc.domain.alive = false;
      node.unstall();
    }
  }

  node(id: NodeId): SimNode {
    const n = this.nodes.get(id);
    if (n === undefined) throw new Error(`no node ${id}`);
    return n;
  }

  state(id: NodeId): NodeState | 'down' {
    return this.node(id).inc?.state ?? 'down';
  }

  upIds(): NodeId[] {
    return this.ids.filter((id) => this.node(id).up);
  }

  idOfAddress(address: string): NodeId | null {
    return this.byAddress.get(address) ?? null;
  }

  /** The running leader with the highest term, if any. */
  leader(): NodeId | null {
    let best: NodeId | null = null;
    let bestTerm = -1;
    for (const node of this.nodes.values()) {
      const d = node.inc?.state === 'up' ? node.inc.driver : null;
      if (d === null || d === undefined) continue;
      const s = d.raw.status();
      if (s.role === 'leader' && s.term > bestTerm) {
        best = node.id;
        bestTerm = s.term;
      }
    }
    return best;
  }

  /** The running driver of a node, for final checks. */
  driver(id: NodeId): Driver | null {
    const inc = this.node(id).inc;
    return inc?.state === 'up' ? inc.driver : null;
  }

  /** Whether node `id`'s running incarnation is paused. */
  paused(id: NodeId): boolean {
    return this.node(id).inc?.domain.paused === true;
  }

  /**
   * A client request to node `id`: fn runs against its service, and the result comes back unless
   * the node is not serving (refused), goes down first (crashed) or the client's patience ends.
   * A paused node takes the request on resume (it waited in the socket buffer), even if the
   * client gave up meanwhile.
   */
  call<T>(
    id: NodeId,
    fn: (svc: NodeKvService) => Promise<T>,
    timeoutMs: number,
    clients: Domain,
  ): Promise<CallResult<T>> {
    const inc = this.node(id).inc;
    if (inc === null || inc.state !== 'up' || inc.service === null)
      return Promise.resolve({ kind: 'refused' });
    const service = inc.service;
    return new Promise<CallResult<T>>((resolve) => {
      let settled = false;
      const finish = (r: CallResult<T>): void => {
        if (settled) return;
        settled = true;
        cancel();
        inc.calls.delete(finish);
        resolve(r);
      };
      inc.calls.add(finish);
      const cancel = this.sched.after(timeoutMs, () => finish({ kind: 'timeout' }), clients);
      inc.domain.runOrHold(() => {
        let p: Promise<T>;
        try {
          p = fn(service);
        } catch (e) {
          p = Promise.reject(e);
        }
        p.then(
          (value) => finish({ kind: 'ok', value }),
          (error: unknown) => finish({ kind: 'error', error }),
        );
      });
    });
  }

  // --- Faults -----------------------------------------------------------------------------------

  /** Power loss on one machine: the process stops mid-whatever, the disk keeps what it keeps. */
  crash(id: NodeId): void {
    const node = this.node(id);
    const inc = node.inc;
    if (inc === null) return;
    this.endIncarnation(node, inc);
    const unsynced = node.disk.pendingSyncCount;
    node.disk.crash({ tear: true });
    node.unstall();
    this.stats.crashes++;
    if (unsynced > 0) this.stats.crashesWithUnsynced++;
    if (inc.state === 'starting') this.stats.crashesInRecovery++;
    this.tracer.event('crash', `${id} (was ${inc.state}, ${unsynced} syncs in flight)`);
  }

  /** Boots a node that is down. */
  restart(id: NodeId): void {
    const node = this.node(id);
    if (node.inc !== null) return;
    this.stats.restarts++;
    this.boot(node);
  }

  /**
   * SIGSTOP: the node's process runs nothing until resume(); peer messages arriving meanwhile are
   * held for it, or lost if `loseMessages`. Returns false if the node is down or already paused.
   */
  pause(id: NodeId, loseMessages: boolean): boolean {
    const inc = this.node(id).inc;
    if (inc === null || inc.domain.paused) return false;
    this.sched.pause(inc.domain);
    this.net.setLossWhilePaused(id, loseMessages);
    this.stats.pauses++;
    this.tracer.event('pause', `${id} (was ${inc.state}; messages for it ${loseMessages ? 'lost' : 'held'})`);
    return true;
  }

  /** SIGCONT: what came due while the process was stopped runs next, in order. */
  resume(id: NodeId): void {
    const inc = this.node(id).inc;
    if (inc === null || !inc.domain.paused) return;
    this.tracer.event('resume', `${id} (${inc.domain.held.length} callbacks held)`);
    this.sched.resume(inc.domain);
  }

  /** Stops releasing the node's fsyncs for `ms`. */
  stall(id: NodeId, ms: number): void {
    const node = this.node(id);
    if (node.stalled || node.inc === null) return;
    node.stalled = true;
    this.stats.stalls++;
    this.tracer.event('stall', `${id} disk stalls for ${ms}ms`);
    const inc = node.inc;
    this.sched.after(
      ms,
      () => {
        if (node.inc !== inc || !node.stalled) return;
        this.tracer.event('unstall', id);
        node.unstall();
      },
      this.system,
    );
  }

  unstallAll(): void {
    for (const node of this.nodes.values()) node.unstall();
  }

  /** The next fsync (or append) on the node's disk fails with EIO. */
  injectEio(id: NodeId, op: 'sync' | 'append'): void {
    const node = this.node(id);
    if (!node.up) return;
    node.disk.failNext(op);
    this.stats.eioInjected++;
    this.tracer.event('eio', `${id} next ${op} fails`);
  }

  /** What an operator's rolling restart does: hand leadership over, stop, start again later. */
  gracefulRestart(id: NodeId, downMs: number): void {
    const node = this.node(id);
    const inc = node.inc;
    if (inc === null || inc.state !== 'up') return;
    this.stats.gracefulRestarts++;
    this.tracer.event('stop', `${id} graceful stop, back in ${downMs}ms`);
    // A paused process handles its SIGTERM once it runs again.
    inc.domain.runOrHold(() => {
      if (node.inc !== inc || inc.state !== 'up') return;
      void this.stopIncarnation(node, inc, true).then(() => {
        if (node.inc === null) this.sched.after(downMs, () => this.restart(id), this.system);
      });
    });
  }

  // --- Lifecycle --------------------------------------------------------------------------------

  private boot(node: SimNode): void {
    if (node.inc !== null) return;
    const inc: Incarnation = {
      n: ++node.incarnations,
      domain: new Domain(`${node.id}#${node.incarnations}`),
      state: 'starting',
      driver: null,
      service: null,
      log: null,
      storage: null,
      calls: new Set(),
      checkedApplied: 0,
    };
    node.inc = inc;
    this.tracer.event('boot', `${node.id} incarnation ${inc.n}`);
    this.bootAsync(node, inc).catch((e: unknown) => this.sched.fail(e));
  }

  private async bootAsync(node: SimNode, inc: Incarnation): Promise<void> {
    const id = node.id;
    node.disk.holdSyncs();
    const disk = new GatedDisk(node.disk, inc.domain, { lyingFsync: this.config.lyingFsync });
    const logger = new SimEventLog(id, this.tracer, (n, level, event, fields) =>
      this.onNodeEvent(n, level, event, fields),
    );
    let storage: Storage;
    try {
      storage = await openStorage(
        disk,
        DATA_DIR,
        { ...IDENTITY, nodeId: id },
        { logger, segmentSize: this.config.segmentSize },
      );
    } catch (e) {
      if (!inc.domain.alive) return;
      inc.domain.alive = false;
      node.inc = null;
      if (isInjected(e)) {
        // An injected EIO hit recovery: like a supervisor, try again a little later.
        this.tracer.event('bootfail', `${id}: ${errorText(e)}`);
        this.sched.after(this.config.electionMs, () => this.restart(id), this.system);
        return;
      }
      this.violation(`${id} could not recover from its disk: ${errorText(e)}`);
      return;
    }
    const recovered = storage.state;
    if (recovered.tornTail !== null) this.stats.tornTails++;
    this.stats.discardedSnapshots += recovered.discardedSnapshots.length;
    this.checkRecovery(node, recovered);
    const clock = this.sched.clock(inc.domain);
    const { log, sm, raw } = recoverCore(node.options, recovered, this.rngCore.fork(), logger);
    const transport = this.net.transportFor(id, inc.domain);
    const driver = new Driver({
      options: node.options,
      raw,
      log,
      storage,
      sm,
      transport,
      logger,
      clock,
      mutations: {
        forgetPausedTime: this.config.forgetPausedTime === true,
        resetLeasesOnElection: this.config.resetLeasesOnElection === true,
      },
    });
    const service = new NodeKvService(driver, node.options, 'sim-cluster');
    driver.onFatal((e) => this.onFatal(node, inc, e));
    inc.driver = driver;
    inc.service = service;
    inc.log = log;
    inc.storage = storage;
    inc.state = 'up';
    this.tracer.event(
      'up',
      `${id} term=${recovered.hardState.term} vote=${recovered.hardState.votedFor ?? '-'} ` +
        `snapshot=${recovered.snapshot?.meta.index ?? 0} entries=${recovered.entries.length}` +
        (recovered.tornTail === null ? '' : ` tornTail=${recovered.tornTail.offset}`),
    );
    driver.start();
  }

  private onFatal(node: SimNode, inc: Incarnation, e: Error): void {
    if (!inc.domain.alive || node.inc !== inc) return;
    this.stats.fatalStops++;
    this.tracer.event('fatal', `${node.id}: ${errorText(e)}`);
    if (!isInjected(e)) this.violation(`${node.id} stopped on an unexpected error: ${errorText(e)}`);
    void this.stopIncarnation(node, inc, false).then(() => {
      if (node.inc === null)
        this.sched.after(this.config.electionMs, () => this.restart(node.id), this.system);
    });
  }

  /** The node's own stop path (node.ts): driver.stop fails pending requests, storage closes. */
  private async stopIncarnation(node: SimNode, inc: Incarnation, handOff: boolean): Promise<void> {
    const driver = inc.driver!;
    inc.state = 'stopping';
    if (handOff) await driver.handOffLeadership();
    await driver.stop(() => new ShuttingDownError('the node is shutting down'));
    await inc.storage!.close().catch(() => {});
    if (node.inc !== inc || !inc.domain.alive) return;
    this.endIncarnation(node, inc);
    this.tracer.event('down', `${node.id} stopped`);
  }

  private endIncarnation(node: SimNode, inc: Incarnation): void {
    inc.domain.alive = false;
    this.net.detach(node.id);
    if (inc.log !== null) node.durable = durableView(inc.log);
    for (const finish of [...inc.calls]) finish({ kind: 'crashed' });
    node.inc = null;
  }

  /** The disk's fsync latency: held syncs complete a seeded few ms later, unless the disk stalls. */
  private async releaseSyncs(node: SimNode): Promise<void> {
    while (this.system.alive) {
      await node.disk.whenSyncsPending(1);
      if (!this.system.alive) return;
      await this.sched.sleep(this.rngDisk.int(0, this.config.fsyncLatencyMs), this.system);
      await node.whenUnstalled();
      node.disk.releaseSyncs(node.disk.pendingSyncCount);
    }
  }

  // --- Invariants -------------------------------------------------------------------------------

  violation(message: string): void {
    this.violations.push(`[t=${this.sched.now}] ${message}`);
    this.tracer.event('VIOLATION', message);
  }

  private onNodeEvent(node: NodeId, _level: NodeLogLevel, event: string, fields: LogFields): void {
    this.stats.events[event] = (this.stats.events[event] ?? 0) + 1;
    this.nodeEvents?.(node, event, fields);
    if (event === 'leader.elected') {
      const term = Number(fields.term);
      const other = this.leaderOfTerm.get(term);
      if (other !== undefined && other !== node) {
        this.violation(`two leaders in term ${term}: ${other} and ${node}`);
      }
      this.leaderOfTerm.set(term, node);
    }
  }

  /** Between events: structural invariants, and agreement on what was applied. */
  checkInvariants(): void {
    for (const node of this.nodes.values()) {
      const inc = node.inc;
      if (inc === null || inc.state !== 'up' || !inc.domain.alive) continue;
      const driver = inc.driver!;
      const log = inc.log!;
      try {
        driver.raw.checkInvariants();
      } catch (e) {
        this.violation(`${node.id}: ${errorText(e)}`);
      }
      const applied = Math.min(driver.sm.lastApplied, log.lastIndex());
      for (let i = Math.max(inc.checkedApplied + 1, log.firstIndex()); i <= applied; i++) {
        const term = log.term(i);
        if (term === null) continue;
        const seen = this.appliedTerms[i];
        if (seen === undefined) this.appliedTerms[i] = term;
        else if (seen !== term) {
          this.violation(`${node.id} applied index ${i} from term ${term}, another node from term ${seen}`);
        }
      }
      if (applied > inc.checkedApplied) inc.checkedApplied = applied;
    }
  }

  /** A restarted node never goes back on what it had made durable before it went down. */
  private checkRecovery(node: SimNode, r: RecoveredState): void {
    const d = node.durable;
    if (d === null) return;
    const hs = r.hardState;
    if (hs.term < d.term) {
      this.violation(`${node.id} recovered term ${hs.term}, but term ${d.term} was durable`);
      return;
    }
    if (hs.term === d.term && d.votedFor !== null && hs.votedFor !== d.votedFor) {
      this.violation(`${node.id} recovered vote ${hs.votedFor} in term ${hs.term}, but voted ${d.votedFor}`);
    }
    const snapIndex = r.snapshot?.meta.index ?? 0;
    const termAt = (i: number): number | null => {
      if (i === snapIndex) return r.snapshot?.meta.term ?? 0;
      const e = r.entries[i - snapIndex - 1];
      return i > snapIndex && e !== undefined ? e.term : null;
    };
    const lastIndex = snapIndex + r.entries.length;
    // A leader's snapshot is put in the log view just before the fsync that records it: if the
    // crash came in between, the durable view is ahead of the disk there, legitimately.
    if (d.snapIndex > lastIndex || (d.snapIndex > snapIndex && termAt(d.snapIndex) !== d.snapTerm)) return;
    for (let k = 0; k < d.terms.length; k++) {
      const i = d.snapIndex + 1 + k;
      if (i <= snapIndex) continue;
      const want = d.terms[k]!;
      const got = termAt(i);
      if (got === want) continue;
      if (got !== null && got > want) return; // a later leader's entries replaced the rest
      this.violation(
        `${node.id} lost durable entry ${i} (term ${want}): recovered ${got === null ? 'nothing' : `term ${got}`} ` +
          `(log ${snapIndex + 1}..${lastIndex})`,
      );
      return;
    }
  }
}

function durableView(log: MemoryLogStorage): DurableView {
  const { hardState } = log.initialState();
  const snap = log.snapshot().meta;
  const terms: number[] = [];
  for (let i = snap.index + 1; i <= log.lastIndex(); i++) terms.push(log.term(i) ?? -1);
  return {
    term: hardState.term,
    votedFor: hardState.votedFor,
    snapIndex: snap.index,
    snapTerm: snap.term,
    terms,
  };
}

export function errorText(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

/** Whether the error is, or was caused by, an I/O error the simulation injected. */
function isInjected(e: unknown): boolean {
  for (let cur: unknown = e, depth = 0; cur !== undefined && cur !== null && depth < 5; depth++) {
    if (cur instanceof Error && /injected/.test(cur.message)) return true;
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return false;
}
