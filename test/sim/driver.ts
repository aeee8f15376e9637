// Goal: the simulated driver of one node — the production driver's duties, done literally and
// checked: it feeds the core ticks, messages and client requests, and carries out every Ready in
// THE ORDER of types.ts. Persistence is synchronous by default; with a persist latency it models
// fsync time: `messages` leave at once, and only when the write completes (ticks later) are
// `messagesAfterPersist` sent, entries applied and advance() called. A crash in between loses the
// unpersisted Ready, which is what makes "votes and acks promise durable state" testable.
// What the core produces while a write is in flight waits for the next Ready — unless the driver
// pipelines: then the messages that are safe before persistence (Ready.messages' kind) leave after
// every call, through takeEarlyMessages(), so a leader keeps replicating and heartbeating during
// its own fsync (§10.2.1) while acknowledgements still wait for durability.
// A disk stall (nemesis or test) holds every write that must be synced until the stall ends; the
// disk-stall guard of the real node (src/node/disk-stall.ts) runs on every tick, as there: a
// leader whose sync has been in flight longer than the bound hands leadership over or steps down.
// After every call into the core its status is checked (election safety, monotonicity) and its
// own checkInvariants() is run (the other nodes' state cannot change on this call).
// Time reaches the core as the real driver hands it over (src/node/driver.ts), and for the same
// reason: the core counts time in ticks only, and its lease (§6.4.1) is safe only if they keep
// pace with real time. A paused process (SIGSTOP, a long GC, a descheduled VM; the nemesis pauses
// nodes) gets no tick and handles no message (they wait in its socket buffer, or are lost), no
// write completion and no client request, while its clock and the rest of the cluster run on.
// So each node's monotonic clock (one unit per tick) is turned into owed ticks by ElapsedTicks,
// and the debt is paid before every input — a timer tick, a message, a proposal, a read, a
// transfer, a step-down, a Ready taken. Normally the regular tick call pays exactly one; on
// resume the first input pays for the whole pause (at most three election timeouts' worth, as
// the driver), so a leader's lease has run out before it can serve a read. The mutation
// forgetPausedTime gives one tick per regular tick call and never catches up — the driver's old
// bug, whose stale lease reads the checker must catch.

import { DiskStallGuard } from '../../src/node/disk-stall.js';
import type { DriverMutations } from '../../src/node/driver.js';
import { ElapsedTicks } from '../../src/node/elapsed-ticks.js';
import {
  type Entry,
  heldSnapshot,
  type Logger,
  type MemoryLogStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  RawNode,
  type Ready,
} from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import { type SafetyChecker, SafetyViolation, type StatusView } from './checker.js';
import type { Clients } from './clients.js';
import { describeEntry, KvStateMachine } from './kv.js';
import type { SimNetwork } from './network.js';
import type { Tracer } from './trace.js';

export type SimRaftConfig = Omit<RaftConfig, 'id' | 'applied'>;

/** Ticks a durable write takes, drawn per Ready; {0, 0} is the synchronous driver. */
export interface PersistLatency {
  readonly min: number;
  readonly max: number;
}

/** The driver snapshots its state machine every `every` applied entries, keeping `keep` entries. */
export interface SnapshotPolicy {
  readonly every: number;
  readonly keep: number;
}

/**
 * A decision just taken and not yet propagated: a new term or vote made durable, an election won,
 * a commit, a membership change accepted by the leader.
 */
export type CrashPointKind = 'vote' | 'elected' | 'commit' | 'change';

export interface ClusterStats {
  crashes: number;
  restarts: number;
  snapshotsTaken: number;
  snapshotsInstalled: number;
  /** Disk stalls started (nemesis or test). */
  diskStalls: number;
  /** Process pauses started (nemesis or test). */
  pauses: number;
  /** Messages that reached a paused node and were handled on resume, or lost. */
  pauseHeld: number;
  pauseLost: number;
  /** Client requests that reached a paused node and were handled on resume. */
  pauseRequests: number;
  /** Payments of more than one owed tick at once: a paused node's first input after its resume. */
  catchUps: number;
  /** Guard actions: transfers started, and step-downs (a refused transfer, or a second bound). */
  stallTransfers: number;
  stallStepDowns: number;
}

/** What every node's driver shares: the cluster implements it. */
export interface DriverEnv {
  readonly now: number;
  /**
   * The monotonic time a node's process reads, in ticks. The messages and write completions of
   * tick t arrive during the interval before the timers fire at t, so they read t − ½; the timer
   * callbacks and everything after them in tick t read t. A node's regular tick call therefore
   * owes exactly one tick, and an input arriving before it owes none.
   */
  readonly nodeClock: number;
  /** Deliberately broken driver behaviour (src/node/driver.ts's test-only mutations). */
  readonly driverMutations: DriverMutations;
  readonly checker: SafetyChecker;
  readonly clients: Clients;
  readonly tracer: Tracer;
  readonly net: SimNetwork;
  readonly config: SimRaftConfig;
  readonly persist: PersistLatency;
  readonly snapshots: SnapshotPolicy | null;
  /** The disk-stall guard's bound in ticks, or null: no guard. */
  readonly diskStallBound: number | null;
  /** While a write is in flight, send the core's early messages after every call (see above). */
  readonly pipeline: boolean;
  readonly stats: ClusterStats;
  readonly traceCore: boolean;
  /** Draws persist latencies. */
  readonly driverRng: Prng;
  isNode(id: NodeId): boolean;
}

/** What reached a paused process, handled on resume in arrival order. */
type HeldInput =
  | { readonly kind: 'message'; readonly message: Message }
  | { readonly kind: 'request'; readonly what: string; readonly run: () => void };

/** A stopped process: its timers, sockets, write completions and clients all wait. */
interface Pause {
  readonly since: number;
  /** Messages addressed to it wait in its socket buffer (true) or are lost (false). */
  readonly hold: boolean;
  readonly inbox: HeldInput[];
}

export class SimNode {
  raw: RawNode | null = null;
  sm: KvStateMachine | null = null;
  /**
   * The Ready being written: its write completes at `doneAt` unless the disk is stalled then.
   * `syncStartedAt` is when its sync began (null: nothing to sync), as the guard sees it.
   */
  persisting: {
    readonly ready: Ready;
    readonly doneAt: number;
    readonly syncStartedAt: number | null;
  } | null = null;
  /** The disk holds every write that must be synced until this tick (a property of the disk: survives crashes). */
  stalledUntil = 0;
  /** The real node's disk-stall guard; part of the process, so rebuilt on restart. */
  private guard: DiskStallGuard | null = null;
  /** The ticks owed to the core for the time passed; part of the process, so rebuilt on restart. */
  private elapsed: ElapsedTicks | null = null;
  /** Set while the process is stopped (see the header). */
  private paused: Pause | null = null;
  last: StatusView | null = null;
  leaderId: NodeId | null = null;
  /**
   * The node's last "crash point": it made a new term or vote durable, became leader, or
   * advanced its commit index as leader. Crashing right there is what exposes persistence and
   * commit-rule bugs (a decision taken but not yet propagated).
   */
  crashPoint: { readonly at: number; readonly kind: CrashPointKind } | null = null;
  /**
   * Every entry this node's state machines applied, in order, across incarnations (a restart or
   * a snapshot install starts over from the snapshot's index), for tests and post-mortems.
   */
  readonly history: { readonly index: number; readonly term: number; readonly data: Uint8Array }[] = [];

  constructor(
    readonly id: NodeId,
    readonly storage: MemoryLogStorage,
    private readonly rng: Prng,
    private readonly env: DriverEnv,
  ) {}

  /** Runs one input into the core (time owed first), then the status checks, then carries out any Ready. */
  drive<T>(what: string, fn: (raw: RawNode) => T): T {
    const out = this.input(what, fn);
    this.settle();
    return out;
  }

  /**
   * One input into the core, told first how much time really passed (as the real driver's
   * input() does): no message, request or read reaches a core whose clock stopped.
   */
  input<T>(what: string, fn: (raw: RawNode) => T): T {
    this.payTicks();
    return this.call(what, fn);
  }

  /** Hands the core the ticks owed for the node's monotonic time since the last payment. */
  private payTicks(): void {
    const { env } = this;
    if (this.paused !== null)
      throw new Error(`simulator bug: an input reached ${this.id} while it is paused`);
    if (this.elapsed === null || this.raw === null || env.driverMutations.forgetPausedTime) return;
    const owed = this.elapsed.take(env.nodeClock);
    if (owed > 1) {
      env.stats.catchUps++;
      if (env.tracer.on) env.tracer.event('catch-up', `${this.id} is owed ${owed} ticks`);
    }
    for (let i = 0; i < owed; i++) {
      this.call('tick', (r) => r.tick());
      this.afterCall();
    }
  }

  /** After a call into the core: status checks, invariants, then carry out any Ready. */
  settle(): void {
    this.afterCall();
    this.processReady();
  }

  /** The process dies: the core, the state machine and any write not yet durable are lost. */
  crash(): void {
    const { env } = this;
    if (env.tracer.on) {
      const lost = this.persisting
        ? ` (unpersisted Ready with ${this.persisting.ready.entries.length} entries lost)`
        : '';
      env.tracer.event('crash', `${this.id} was ${this.last?.role ?? '?'} t${this.last?.term ?? '?'}${lost}`);
    }
    this.raw = null;
    this.sm = null;
    this.guard = null;
    this.elapsed = null;
    // A stopped process can be killed: what waited for it is lost with it.
    this.paused = null;
    this.persisting = null;
    this.last = null;
    this.leaderId = null;
    env.clients.onCrash(this.id);
    env.stats.crashes++;
  }

  /** (Re)builds the core from durable storage, as a real process start would. */
  start(): void {
    const { env } = this;
    const snap = this.storage.snapshot();
    this.sm = KvStateMachine.restore(heldSnapshot(snap).data);
    if (this.sm.applied !== snap.meta.index) {
      env.checker.fail(
        'snapshot integrity',
        `${this.id}'s stored snapshot claims index ${snap.meta.index}, holds ${this.sm.applied}`,
      );
    }
    env.checker.onRestore(this.id, this.sm.applied, this.sm.chain);
    const logger: Logger | undefined = env.traceCore
      ? {
          log: (level, event, fields) =>
            env.tracer.event('core', `${this.id} ${level} ${event} ${JSON.stringify(fields)}`),
        }
      : undefined;
    const config: RaftConfig = { ...env.config, id: this.id, lastApplied: snap.meta.index };
    this.guard = env.diskStallBound === null ? null : new DiskStallGuard(env.diskStallBound);
    // One tick per unit of time from now on; a catch-up hands over at most three election
    // timeouts, like the real driver's maxCatchUpElections.
    this.elapsed = new ElapsedTicks(1, env.nodeClock, 3 * env.config.electionTimeoutTicks);
    this.raw = this.call('constructor', () => new RawNode(config, this.storage, this.rng, logger));
    if (env.tracer.on && env.now > 0) {
      const hs = this.storage.initialState().hardState;
      env.tracer.event(
        'restart',
        `${this.id} from t${hs.term} vote=${hs.votedFor} commit=${hs.commitIndex} snapshot=${snap.meta.index} last=${this.storage.lastIndex()}`,
      );
    }
    this.afterCall();
    this.processReady();
  }

  /** Delivers a message from the network. */
  deliver(m: Message): void {
    if (this.env.tracer.on) this.env.tracer.event('deliver', `${m.from}->${m.to} ${m.type} t${m.term}`);
    this.drive(`step(${m.type})`, (r) => r.step(m));
  }

  /**
   * One tick of the node's timer: the core's tick, then the disk-stall guard, as the real
   * driver's onTick does (src/node/driver.ts).
   */
  tick(): void {
    if (this.env.driverMutations.forgetPausedTime) {
      // The old driver: one tick per timer callback, however long the process was stopped.
      this.drive('tick', (r) => r.tick());
    } else {
      this.payTicks();
      this.processReady();
    }
    this.checkDiskStall();
  }

  get isPaused(): boolean {
    return this.paused !== null;
  }

  /**
   * The process stops (SIGSTOP, a long GC, a descheduled VM): until resume() it gets no tick,
   * handles no message, write completion or client request. Its clock runs on. `hold`: messages
   * addressed to it wait in its socket buffer and are handled on resume; otherwise they are lost.
   */
  pause(hold: boolean): void {
    if (this.raw === null || this.paused !== null) return;
    this.paused = { since: this.env.now, hold, inbox: [] };
    this.env.stats.pauses++;
    if (this.env.tracer.on) {
      this.env.tracer.event(
        'pause',
        `${this.id} (${this.last?.role ?? '?'} t${this.last?.term ?? '?'}) stops; messages to it will be ${hold ? 'held' : 'lost'}`,
      );
    }
  }

  /** A message due while the process is stopped: held for resume, or lost. */
  arriveWhilePaused(m: Message): void {
    const p = this.paused!;
    if (p.hold) {
      p.inbox.push({ kind: 'message', message: m });
      this.env.stats.pauseHeld++;
    } else {
      this.env.stats.pauseLost++;
      if (this.env.tracer.on)
        this.env.tracer.event('drop', `${m.from}->${m.to} ${m.type} (${m.to} is paused)`);
    }
  }

  /** A client request reaching the stopped process: it runs on resume. */
  holdRequest(what: string, run: () => void): void {
    this.paused!.inbox.push({ kind: 'request', what, run });
    this.env.stats.pauseRequests++;
    if (this.env.tracer.on) this.env.tracer.event('pause', `${this.id} holds ${what} until it resumes`);
  }

  /**
   * The process continues: first the write that completed meanwhile (it learns of it only now),
   * then what reached it while stopped, in arrival order. Each is an input, so the first one
   * pays the ticks owed for the pause.
   */
  resume(): void {
    const p = this.paused;
    if (p === null) return;
    this.paused = null;
    if (this.env.tracer.on) {
      this.env.tracer.event(
        'resume',
        `${this.id} after ${this.env.now - p.since} ticks, ${p.inbox.length} inputs waiting`,
      );
    }
    this.completePersistIfDue();
    for (const input of p.inbox) {
      if (this.raw === null) return;
      if (input.kind === 'message') this.deliver(input.message);
      else input.run();
    }
  }

  /**
   * The guard sees the in-flight sync's start (or null: none, which ends its current stall) on
   * every tick. A transfer's TimeoutNow or catch-up AppendEntries cannot wait for the stalled
   * Ready, so they leave at once through takeEarlyMessages(); a refused transfer, or a transfer
   * that did not end the leadership within another bound, steps the leader down.
   */
  private checkDiskStall(): void {
    const { env, guard } = this;
    if (guard === null || this.raw === null) return;
    const startedAt = this.persisting?.syncStartedAt ?? null;
    const status = this.call('status', (r) => r.status());
    const action = guard.check(startedAt, env.now, status);
    if (action.kind === 'none') return;
    const inFlight = startedAt === null ? 0 : env.now - startedAt;
    if (action.kind === 'transfer') {
      const res = this.input('transferLeadership', (r) => r.transferLeadership(action.to));
      if (env.tracer.on) {
        env.tracer.event(
          'stall',
          `${this.id} sync in flight ${inFlight} ticks: transfer to ${action.to}: ${res.kind}`,
        );
      }
      if (res.kind === 'started') {
        env.stats.stallTransfers++;
        for (const m of this.call('takeEarlyMessages', (r) => r.takeEarlyMessages())) this.send(m);
        this.settle();
        return;
      }
    } else if (env.tracer.on) {
      env.tracer.event('stall', `${this.id} sync in flight ${inFlight} ticks: stepping down`);
    }
    env.stats.stallStepDowns++;
    this.input('stepDown', (r) => r.stepDown('disk stall'));
    this.settle();
  }

  /** Completes a pending durable write whose time has come (persist latency mode, disk stalls). */
  completePersistIfDue(): void {
    const p = this.persisting;
    // A stopped process learns that its write completed only once it runs again.
    if (p === null || p.doneAt > this.env.now || this.paused !== null) return;
    if (p.syncStartedAt !== null && this.stalledUntil > this.env.now) return;
    const rd = p.ready;
    this.persisting = null;
    this.persistReady(rd);
    this.finishReady(rd);
    this.processReady();
  }

  /** Runs one call into the core; anything it throws is a core bug, reported with seed and tick. */
  call<T>(what: string, fn: (raw: RawNode) => T): T {
    try {
      return fn(this.raw!);
    } catch (err) {
      if (err instanceof SafetyViolation) throw err;
      const e = err instanceof Error ? err : new Error(String(err));
      const where = e.stack?.split('\n')[1]?.trim() ?? '';
      const property = e.name === 'AssertionError' ? 'core invariant' : 'core error';
      this.env.checker.fail(property, `${this.id}.${what}(): ${e.name}: ${e.message} ${where}`);
    }
  }

  /** Status checks and the core's own invariants after every call into it. */
  private afterCall(): void {
    if (!this.raw) return;
    const { env } = this;
    const s = this.call('status', (r) => r.status());
    const before = this.last;
    const committedMembership = this.call('membership', (r) => r.membership()).committed;
    env.checker.observeStatus(this.id, { ...s, committedMembership }, before);
    if (env.tracer.on) {
      if (
        before === null ||
        before.role !== s.role ||
        before.term !== s.term ||
        this.leaderId !== s.leaderId
      ) {
        env.tracer.event(
          'role',
          `${this.id} ${s.role} t${s.term} leader=${s.leaderId ?? '-'} vote=${s.votedFor ?? '-'}`,
        );
      }
      if (before !== null && s.commitIndex > before.commitIndex) {
        env.tracer.event('commit', `${this.id} commit=${s.commitIndex}`);
      }
    }
    if (s.role === 'leader' && before?.role !== 'leader') this.crashPoint = { at: env.now, kind: 'elected' };
    else if (s.role === 'leader' && before !== null && s.commitIndex > before.commitIndex) {
      this.crashPoint = { at: env.now, kind: 'commit' };
    }
    this.last = {
      role: s.role,
      term: s.term,
      commitIndex: s.commitIndex,
      lastApplied: s.lastApplied,
      membership: s.membership,
      membershipIndex: s.membershipIndex,
      committedMembership,
    };
    this.leaderId = s.leaderId;
    this.call('checkInvariants', (r) => r.checkInvariants());
  }

  private processReady(): void {
    const { env } = this;
    // Taking a Ready is an input too: the core must know the time before it answers anything.
    this.payTicks();
    if (this.raw && this.persisting !== null && env.pipeline) {
      for (const m of this.call('takeEarlyMessages', (r) => r.takeEarlyMessages())) this.send(m);
    }
    while (this.raw && this.persisting === null && this.call('hasReady', (r) => r.hasReady())) {
      const rd = this.call('ready', (r) => r.ready());
      // 1. Messages that are safe before persistence leave now.
      for (const m of rd.messages) this.send(m);
      const latency = env.persist.max > 0 ? env.driverRng.int(env.persist.min, env.persist.max) : 0;
      const stalled = rd.mustSync && this.stalledUntil > env.now;
      if (latency > 0 || stalled) {
        const syncStartedAt = rd.mustSync ? env.now : null;
        this.persisting = { ready: rd, doneAt: env.now + latency, syncStartedAt };
        if (stalled && env.tracer.on) {
          env.tracer.event(
            'stall',
            `${this.id} write of ${rd.entries.length} entries held until t=${this.stalledUntil}`,
          );
        }
        return;
      }
      this.persistReady(rd);
      this.finishReady(rd);
    }
  }

  private send(m: Message): void {
    const { env } = this;
    if (m.from !== this.id || !env.isNode(m.to) || m.to === this.id) {
      env.checker.fail('message integrity', `${this.id} emitted ${m.type} from ${m.from} to ${m.to}`);
    }
    if (m.type === 'RequestVoteResponse' && m.granted) env.checker.onVoteGranted(m.from, m.to, m.term);
    env.net.send(m, env.now);
  }

  /** THE ORDER, steps 2 and 3: the snapshot, then entries and hard state, made durable. */
  private persistReady(rd: Ready): void {
    if (rd.snapshot) {
      const snap = rd.snapshot;
      const term = this.call('status', (r) => r.status()).term;
      this.env.checker.beforeSnapshotInstall(this.id, this.storage, snap, this.sm!.applied, term);
      this.env.checker.checkSnapshotMembership(this.id, snap, 'installs');
      this.storageOp('applySnapshot', () => this.storage.applySnapshot(snap));
      this.env.checker.afterSnapshotInstall(this.id);
      this.sm = KvStateMachine.restore(heldSnapshot(snap).data);
      if (this.sm.applied !== snap.meta.index) {
        this.env.checker.fail(
          'snapshot integrity',
          `snapshot ${snap.meta.index} holds a state machine at ${this.sm.applied}`,
        );
      }
      this.env.checker.onRestore(this.id, this.sm.applied, this.sm.chain);
      this.env.stats.snapshotsInstalled++;
      if (this.env.tracer.on)
        this.env.tracer.event('install', `${this.id} snapshot ${snap.meta.index}/t${snap.meta.term}`);
    }
    if (rd.entries.length > 0) {
      this.env.checker.beforeAppend(this.id, this.storage, rd.entries);
      this.storageOp('append', () => this.storage.append(rd.entries));
      this.env.checker.afterAppend(this.id, this.storage, rd.entries);
    }
    if (rd.hardState) {
      const before = this.storage.initialState().hardState;
      if (before.term !== rd.hardState.term || before.votedFor !== rd.hardState.votedFor) {
        this.crashPoint = { at: this.env.now, kind: 'vote' };
      }
      this.storage.setHardState(rd.hardState);
    }
  }

  /** THE ORDER, steps 4 to 6. */
  private finishReady(rd: Ready): void {
    for (const m of rd.messagesAfterPersist) this.send(m);
    for (const e of rd.committedEntries) this.apply(e);
    for (const rs of rd.readStates) this.env.clients.onReadState(this.id, rs);
    for (const f of rd.readFailures) this.env.clients.onReadFailure(this.id, f);
    this.env.clients.serveReads(this.id, this.sm!);
    this.call('advance', (r) => r.advance(rd));
    this.afterCall();
    this.maybeSnapshot();
  }

  private apply(e: Entry): void {
    const sm = this.sm!;
    if (e.index !== sm.applied + 1) {
      this.env.checker.fail(
        'apply order',
        `${this.id} was handed ${describeEntry(e)} to apply after applying ${sm.applied}`,
      );
    }
    sm.apply(e);
    this.history.push({ index: e.index, term: e.term, data: e.data });
    if (this.env.tracer.on) this.env.tracer.event('apply', `${this.id} ${describeEntry(e)}`);
    this.env.checker.onApply(this.id, this.call('status', (r) => r.status()).term, e, sm.chain);
    this.env.clients.onApplied(this.id, e);
  }

  private storageOp(what: string, op: () => void): void {
    try {
      op();
    } catch (err) {
      const e = err instanceof Error ? err : new Error(String(err));
      this.env.checker.fail(
        'driver contract',
        `${this.id}: storage.${what} refused what the core asked: ${e.message}`,
      );
    }
  }

  /** The driver may snapshot at its applied index at any time after advance(). */
  private maybeSnapshot(): void {
    const policy = this.env.snapshots;
    const sm = this.sm;
    if (policy === null || sm === null || this.persisting !== null) return;
    const held = this.storage.snapshot().meta;
    if (sm.applied - held.index < policy.every) return;
    const term = this.storage.term(sm.applied);
    if (term === null) return;
    // The snapshot records the configuration in force at its index (chapter 5): a node restarted
    // from it, or a follower that installs it, must decide with that membership.
    const membership = this.call('membershipAt', (r) => r.membershipAt(sm.applied));
    // A node that joined at run time holds the log from index 1 but not the bootstrap
    // configuration (it is no log entry): before the first configuration entry in its log the
    // core reports an empty membership, which no committed log ever has in force. Such a snapshot
    // would record a wrong membership; the driver takes none there (as the node's snapshotter).
    if (membership.voters.length === 0) return;
    const snap = { meta: { index: sm.applied, term, membership }, data: sm.serialize() };
    this.env.checker.checkSnapshotMembership(this.id, snap, 'took');
    this.storage.createSnapshot(snap, sm.applied - policy.keep);
    this.env.stats.snapshotsTaken++;
    if (this.env.tracer.on) {
      this.env.tracer.event(
        'snapshot',
        `${this.id} at ${sm.applied}/t${term}, log now starts at ${this.storage.firstIndex()}`,
      );
    }
  }
}
