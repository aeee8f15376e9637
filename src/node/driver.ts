// The driver: the only place with timers. It ticks the core, feeds it peer messages and client
// requests, and carries out each Ready in THE ORDER documented on Ready (src/raft/types.ts):
// send `messages`, persist snapshot / entries / hard state with one fsync (group commit: every
// proposal and message that arrived while the previous fsync ran lands in the next Ready), send
// `messagesAfterPersist`, apply, release reads, advance. The leader's AppendEntries leave before
// its own fsync (thesis §10.2.1); the core counts the leader toward a quorum only after advance().
//
// Forwarding (forwards.ts): a follower hands a client's proposal to the leader over the peer
// connection; the leader appends it and answers with its (index, term) on its own connection to
// the follower, queued ahead of the AppendEntries that will carry the entry; the follower then
// waits until it has applied that entry, and answers from its own state machine.

import { formatHostPort } from '../api/addresses.js';
import {
  BadRequestError,
  BusyError,
  ForwardFailedError,
  LastVoterError,
  LeadershipLostError,
  MemberExistsError,
  MemberNotFoundError,
  MembershipChangeInProgressError,
  NoLeaderError,
  NotLeaderError,
  type RaftkvError,
  TimeoutError,
  TooLargeError,
} from '../api/errors.js';
import { type DriverObserver, silentObserver } from '../api/metrics.js';
import type { SnapshotResponse } from '../api/service.js';
import {
  type ApplyResult,
  decodeCommand,
  encodeCommand,
  KvStateMachine,
  type LeaseEndedResult,
  type LeaseResult,
  type SpaceRefusal,
} from '../kv/index.js';
import {
  type ClusterMembership,
  type Entry,
  heldSnapshot,
  heldSnapshotData,
  isJoint,
  isMember,
  type MemberChange,
  type MembershipRefusal,
  type MemoryLogStorage,
  type Message,
  type NodeId,
  type RawNode,
  type ReadFailure,
  type ReadMode,
  type Ready,
  type Snapshot,
  type TransferResult,
  withStoredData,
} from '../raft/index.js';
import type { Storage } from '../storage/index.js';
import type { ForwardFrame, ForwardingTransport, TransportEvent } from '../transport/index.js';
import { AutoPromoter } from './auto-promote.js';
import { type MessageTransport, type NodeClock, sleep } from './clock.js';
import { bestTransferTarget, DiskStallGuard } from './disk-stall.js';
import { ElapsedTicks } from './elapsed-ticks.js';
import { type ForwardCounts, forwardRefusalError, PendingForwards } from './forwards.js';
import { type ExpiryProposal, LeaseKeeper } from './lease-keeper.js';
import type { EventLog } from './logger.js';
import type { ResolvedNodeOptions } from './options.js';
import { PeerBook } from './peers.js';
import { PendingReads, PendingWrites, type ProposalResult } from './pending.js';
import { HeartbeatRoundTrips } from './round-trips.js';
import { Snapshotter } from './snapshotter.js';
import { WatchHub, type WatchLimits } from './watch-hub.js';

export interface DriverParts {
  readonly options: ResolvedNodeOptions;
  readonly raw: RawNode;
  readonly log: MemoryLogStorage;
  readonly storage: Storage;
  sm: KvStateMachine;
  /** With the forwarding methods (PeerTransport), proposals can be handed to the leader over it. */
  readonly transport: MessageTransport & Partial<ForwardingTransport>;
  /**
   * Hand client writes to the leader over the peer connection, and take them from the other
   * members as leader (default false: they go as HTTP requests). Off with access control: the
   * leader must check the caller's credentials itself.
   */
  readonly forwardOverPeer?: boolean;
  readonly logger: EventLog;
  readonly clock: NodeClock;
  /** Told of leader changes, failed proposals, fsync and snapshot times, peer round trips. */
  readonly observer?: DriverObserver;
  /** Deliberately broken behaviour, for the simulator's mutation tests only. */
  readonly mutations?: DriverMutations;
  /** Keepalive interval and buffer bound of the watchers (GET /watch); defaults in watch-hub.ts. */
  readonly watchLimits?: Partial<WatchLimits>;
}

export interface DriverMutations {
  /**
   * Tick the core once per timer callback, as if no time passed while the process was stopped
   * (the stale lease reads after a pause). Never set outside tests.
   */
  readonly forgetPausedTime?: boolean;
  /**
   * etcd#9395: a node that becomes leader counts every lease's full TTL from then, so leases never
   * expire while leaders change faster than their TTL. Never set outside tests.
   */
  readonly resetLeasesOnElection?: boolean;
}

/**
 * Catch-up after a pause hands the core at most this many election timeouts of ticks: by then
 * every tick-based timer in the core has fired (see elapsed-ticks.ts).
 */
const maxCatchUpElections = 3;

/** A relayed read unanswered for this many heartbeat intervals is asked of the leader again. */
const readRetryHeartbeats = 3;

/**
 * Peer messages held while the node is paused (fault injection), as a stopped process's socket
 * buffers would hold them; past this many, newer ones are lost, as a full buffer loses them.
 */
const maxHeldWhilePaused = 10_000;

/** Writes handed to the leader and not yet answered by it, at most; past this, busy. */
const maxPendingForwards = 4096;

/** A forwarding frame that arrived while paused, held in order with the messages. */
interface HeldForward {
  readonly from: NodeId;
  readonly frame: ForwardFrame;
}

interface SnapshotWaiter {
  readonly target: number;
  readonly resolve: (t: SnapshotResponse) => void;
  readonly reject: (e: Error) => void;
  readonly cancel: () => void;
}

export class Driver {
  readonly options: ResolvedNodeOptions;
  readonly raw: RawNode;
  readonly writes: PendingWrites;
  readonly reads = new PendingReads();
  private readonly log: MemoryLogStorage;
  private readonly storage: Storage;
  private readonly transport: MessageTransport;
  /** The transport, when it can carry proposals to the leader; null otherwise (the simulator's). */
  private readonly forwarding: ForwardingTransport | null;
  private readonly forwardOverPeer: boolean;
  /** Writes this node handed to the leader, waiting for its answer. */
  readonly forwards = new PendingForwards(maxPendingForwards);
  /** As leader: proposals other members handed over that were appended, and those refused. */
  private forwardsTaken = 0;
  private forwardsRefusedHere = 0;
  readonly clock: NodeClock;
  readonly logger: EventLog;
  private readonly snapshotter: Snapshotter;
  /**
   * The transport streams snapshots from their files: the log keeps only a reference to its
   * snapshot's data (the bytes are let go once written, installed or restored from).
   */
  private readonly snapshotsInFiles: boolean;
  /** The members' addresses, kept in step with the transport. */
  private readonly peers: PeerBook;
  private readonly promoter: AutoPromoter;
  /** A promotion this leader proposed and has not seen answered. */
  private promoting = false;
  /** This node has been a member of a configuration it knows (a joining node is not, at first). */
  private wasMember = false;
  private removedHandler: () => void = () => {};
  private readonly stallGuard: DiskStallGuard;
  private readonly mutations: DriverMutations;
  private readonly observer: DriverObserver;
  /** Times heartbeats to their answers, for the observer (leader only). */
  private readonly roundTrips: HeartbeatRoundTrips;
  /** Set by start(): the ticks owed to the core for monotonic time passed. */
  private elapsed: ElapsedTicks | null = null;
  sm: KvStateMachine;
  /** The watchers of this node (GET /watch), told of every batch of applied entries. */
  readonly watches: WatchHub;
  private watchDispatchPending = false;

  private stopTicking: (() => void) | null = null;
  private loop: Promise<void> | null = null;
  private loopScheduled = false;
  private earlyFlushScheduled = false;
  private running = false;
  private syncStartedAt: number | null = null;
  private fatalHandler: (e: Error) => void = () => {};
  private failed = false;
  private readonly leaderWaiters = new Set<() => void>();
  private lastLeader: NodeId | null = null;
  private stopError: (() => RaftkvError) | null = null;
  /** Index of the first write refused for space since writes last grew the state; null: none. */
  private refusingSince: number | null = null;
  /** Callers of snapshotNow(), each waiting for a snapshot at or past `target`. */
  private snapshotWaiters: SnapshotWaiter[] = [];
  /** Each lease's deadline on this node's clock; the leader proposes the expiries (lease-keeper.ts). */
  readonly leases = new LeaseKeeper();
  /**
   * Fault injection's pause (docs/faults.md): the node acts as a stopped process — no ticks, no
   * Ready loop, no peer message handled or sent — while monotonic time goes on, so on resume the
   * core is handed the ticks that passed before anything else (input()), as after a real SIGSTOP.
   */
  private paused = false;
  /** Peer messages (and forwarding frames) that arrived while paused, delivered in order at resume. */
  private held: (Message | HeldForward)[] = [];
  private heldDropped = 0;
  /** The Ready loop, stopped at a pause, waiting for the resume. */
  private resumeWaiters: (() => void)[] = [];

  constructor(p: DriverParts) {
    this.options = p.options;
    this.raw = p.raw;
    this.log = p.log;
    this.storage = p.storage;
    this.sm = p.sm;
    this.transport = p.transport;
    const t = p.transport;
    this.forwarding =
      t.canForwardTo !== undefined && t.sendForward !== undefined && t.onForward !== undefined
        ? (t as ForwardingTransport)
        : null;
    this.forwardOverPeer = p.forwardOverPeer === true && this.forwarding !== null;
    this.clock = p.clock;
    this.logger = p.logger;
    this.mutations = p.mutations ?? {};
    const observer = p.observer ?? silentObserver;
    this.observer = observer;
    this.writes = new PendingWrites(() => observer.proposalFailed());
    this.roundTrips = new HeartbeatRoundTrips((peer, seconds) => observer.peerRoundTrip(peer, seconds));
    this.stallGuard = new DiskStallGuard(p.options.diskStallMs);
    this.promoter = new AutoPromoter(
      Math.max(1000, 3 * p.options.electionTimeoutMs),
      p.options.electionTimeoutMs,
    );
    this.peers = new PeerBook(
      p.options.id,
      p.transport,
      (fn) => p.clock.after(5 * p.options.electionTimeoutMs, fn),
      (id, address) => p.logger.emit('peer.address_invalid', { peer: id, address }),
      Object.fromEntries(Object.entries(p.options.cluster).map(([id, a]) => [id, formatHostPort(a)])),
    );
    this.snapshotsInFiles = p.transport.sendsStoredSnapshots === true;
    this.snapshotter = new Snapshotter({
      every: p.options.snapshotEvery,
      catchUpEntries: p.options.snapshotCatchUpEntries,
      storage: p.storage,
      log: p.log,
      logger: p.logger,
      membershipAt: (index) => this.raw.membershipAt(index),
      schedule: () => this.schedule(),
      failed: (e) => this.failSnapshotWaiters(e),
      clock: p.clock,
      dataInFiles: this.snapshotsInFiles,
    });
    const restored = this.log.snapshot();
    this.snapshotter.noteRestored(restored.meta.index, restored.data.byteLength);
    if (this.snapshotsInFiles) {
      // The state machine was restored from the snapshot's bytes: from now on they are in the
      // file only (index 0 is no snapshot, and has no file).
      if (restored.meta.index > 0) this.log.storeSnapshotData();
      this.storage.releaseRecovered();
    }
    // A getter, not the state machine itself: installing a snapshot replaces it.
    this.watches = new WatchHub(() => this.sm.history, p.clock, p.watchLimits);
    // The state machine restored from the snapshot: its leases count from now; the entries after
    // it, applied again once the loop runs, count theirs from when they are applied.
    this.leases.restored(this.sm.leaseRecords(), p.clock.now());
  }

  start(): void {
    this.running = true;
    const tickMs = this.options.heartbeatIntervalMs;
    const electionTicks = Math.ceil(this.options.electionTimeoutMs / tickMs);
    // Half an interval in arrears: timer callbacks, about one interval apart, then land mid-interval,
    // so their jitter cannot make one owe no tick and the next two.
    this.elapsed = new ElapsedTicks(
      tickMs,
      this.clock.now() - tickMs / 2,
      maxCatchUpElections * electionTicks,
    );
    this.transport.onMessage((m) => this.onPeerMessage(m));
    this.forwarding?.onForward((from, frame) => this.onForwardFrame(from, frame));
    this.transport.onEvent((e) => this.onTransportEvent(e));
    this.stopTicking = this.clock.every(this.options.heartbeatIntervalMs, () => this.onTick());
    this.schedule();
  }

  onFatal(handler: (e: Error) => void): void {
    this.fatalHandler = handler;
  }

  /** Called once, when a committed configuration no longer names this node: it should stop. */
  onRemoved(handler: () => void): void {
    this.removedHandler = handler;
  }

  /** The leader's client address, if a leader is known. */
  leaderAddress(): string | null {
    const id = this.raw.leaderId();
    return id === null ? null : this.addressOf(id);
  }

  /** A member's client address: as the membership records it, else as the options name it. */
  private addressOf(id: NodeId): string | null {
    const fromMembership = this.peers.addressOf(id);
    if (fromMembership !== null) return fromMembership;
    const a = this.options.cluster[id];
    return a === undefined ? null : formatHostPort(a);
  }

  /** The transport knows every member the log names (and those a pending change removes). */
  private syncPeers(): void {
    const { current, committed } = this.raw.membership();
    this.peers.sync(current, committed);
  }

  isLeader(): boolean {
    return this.raw.status().role === 'leader';
  }

  /** Resolves when a leader is known or the deadline passes (whichever first). */
  waitForLeader(deadline: number): Promise<void> {
    if (this.raw.leaderId() !== null || !this.running) return Promise.resolve();
    return new Promise((resolve) => {
      let finished = false;
      const done = (): void => {
        if (finished) return;
        finished = true;
        cancel();
        // A waiter that timed out leaves the list, so a long leaderless spell does not grow it.
        this.leaderWaiters.delete(done);
        resolve();
      };
      this.leaderWaiters.add(done);
      const cancel = this.clock.after(Math.max(0, deadline - this.clock.now()), done);
    });
  }

  /**
   * Proposes a command. 'not-leader' when another node must take it (the caller forwards);
   * otherwise a promise of its apply result, rejected with a RaftkvError — the one error channel.
   */
  propose(data: Uint8Array, deadline: number): Promise<ProposalResult> | 'not-leader' {
    // After stop() nothing would ever answer (or sweep) a new waiter.
    if (this.stopError !== null) return Promise.reject(this.stopError());
    const r = this.input().propose(data);
    if (r.kind === 'rejected') {
      const refusal = proposalRefusal(r.reason);
      return refusal === 'not-leader' ? refusal : Promise.reject(refusal);
    }
    this.schedule();
    return this.writes.wait(r.index, r.term, deadline);
  }

  /**
   * The leader's client address while a write this node does not lead for would go to the leader
   * over the peer connection (forwardProposal would take it); null when it would not.
   */
  peerForwardTarget(): string | null {
    const leader = this.peerForwardLeader();
    return leader === null ? null : this.addressOf(leader);
  }

  /**
   * The leader a write would be handed to over the peer connection now, or null. Cheap (the
   * leader asks on every write, through peerForwardTarget): no status is built.
   */
  private peerForwardLeader(): NodeId | null {
    if (!this.forwardOverPeer || this.stopError !== null) return null;
    const leader = this.raw.leaderId();
    if (leader === null || leader === this.options.id) return null;
    return this.forwarding?.canForwardTo(leader) === true ? leader : null;
  }

  /**
   * A follower's write: hands the proposal to the leader over the peer connection and resolves
   * with its apply result here, as propose() would on the leader. null when it cannot go that way
   * now (turned off, no leader known, no connection to the leader that speaks version 4): the
   * caller forwards over HTTP. A refusal the leader answers rejects with the error the leader
   * would have given (NotLeaderError: forward over HTTP); a write whose answer may never come
   * rejects with an "outcome unknown" error.
   */
  forwardProposal(data: Uint8Array, deadline: number): Promise<ProposalResult> | null {
    const leader = this.peerForwardLeader();
    const forwarding = this.forwarding;
    if (leader === null || forwarding === null) return null;
    if (this.forwards.full) {
      return Promise.reject(
        new BusyError('too many writes are waiting for the leader to take them; retry shortly'),
      );
    }
    return new Promise<ProposalResult>((resolve, reject) => {
      const requestId = this.forwards.add({
        to: leader,
        deadline,
        reject,
        // The leader's answer travels ahead of the entry: it waits here like a write proposed here
        // (PendingForwards.appended() fails it if the entry was applied first).
        appended: (index, term) => this.writes.wait(index, term, deadline).then(resolve, reject),
      });
      if (forwarding.sendForward(leader, { kind: 'forwardProposal', requestId, data })) {
        this.forwards.handedOver();
      } else {
        // Not queued (too large for a frame, say): nothing left, so HTTP may take it.
        this.forwards.cancel(requestId);
        reject(new NotLeaderError(this.addressOf(leader)));
      }
    });
  }

  /** A forwarding frame from a peer: held while paused, like the messages. */
  private onForwardFrame(from: NodeId, frame: ForwardFrame): void {
    if (!this.running) return;
    if (this.paused) {
      if (this.held.length < maxHeldWhilePaused) this.held.push({ from, frame });
      else this.heldDropped++;
      return;
    }
    switch (frame.kind) {
      case 'forwardProposal':
        this.takeForwarded(from, frame.requestId, frame.data);
        return;
      case 'forwardAppended':
        this.forwards.appended(from, frame.requestId, frame.index, frame.term, this.sm.lastApplied);
        return;
      case 'forwardRefused':
        this.forwards.refused(from, frame.requestId, () =>
          forwardRefusalError(frame.code, frame.message, frame.definite, this.leaderAddress()),
        );
        return;
    }
  }

  /**
   * As leader: a member hands over a client's proposal. The same checks as propose(); appended,
   * its (index, term) goes back at once — before the AppendEntries that carry it, on the same
   * connection — so the member waits for the entry to be applied there. (Forwarding frames come
   * only from this.forwarding's handler, so it is set here.)
   */
  private takeForwarded(from: NodeId, requestId: number, data: Uint8Array): void {
    if (!this.forwardOverPeer) {
      // The member sends it again over HTTP, where this node checks the caller's credentials.
      this.refuseForwarded(
        from,
        requestId,
        new NotLeaderError(null, 'this node takes forwarded writes only as HTTP requests'),
      );
      return;
    }
    if (this.stopError !== null) {
      this.refuseForwarded(
        from,
        requestId,
        new NotLeaderError(null, 'the leader is shutting down; the write was not appended'),
      );
      return;
    }
    // A command this node could not apply (a member of a newer release) is refused, not logged.
    const problem = commandProblem(data);
    if (problem !== null) {
      this.refuseForwarded(
        from,
        requestId,
        new BadRequestError(`the leader cannot read this write: ${problem}`),
      );
      return;
    }
    // A copy: the entry outlives the frame, which may share its buffer with others.
    const r = this.input().propose(new Uint8Array(data));
    if (r.kind === 'rejected') {
      const refusal = proposalRefusal(r.reason);
      this.refuseForwarded(from, requestId, refusal === 'not-leader' ? new NotLeaderError(null) : refusal);
      return;
    }
    this.forwardsTaken++;
    this.forwarding?.sendForward(from, { kind: 'forwardAppended', requestId, index: r.index, term: r.term });
    this.schedule();
  }

  /** As leader: answers a member's handed-over proposal with a refusal, as the error `e`. */
  private refuseForwarded(from: NodeId, requestId: number, e: RaftkvError): void {
    this.forwardsRefusedHere++;
    this.forwarding?.sendForward(from, {
      kind: 'forwardRefused',
      requestId,
      code: e.code,
      message: e.message,
      definite: e.definite,
    });
  }

  /**
   * Changes the membership (chapter 4). 'not-leader' when another node must take it; otherwise a
   * promise of the membership once the change is committed — for a joint change, once the entry
   * that leaves the joint configuration is committed too — or a RaftkvError.
   */
  changeMembership(
    changes: readonly MemberChange[],
    deadline: number,
  ): Promise<ClusterMembership> | 'not-leader' {
    if (this.stopError !== null) return Promise.reject(this.stopError());
    const r = this.input().proposeMembership(changes);
    if (r.kind === 'refused') return Promise.reject(membershipRefusalError(r.refusal));
    if (r.kind === 'rejected') {
      switch (r.reason) {
        case 'NotLeader':
          return 'not-leader';
        case 'TransferInProgress':
          return Promise.reject(new BusyError('leadership is being transferred; retry shortly'));
        case 'NotReadyForChange':
          return Promise.reject(
            new MembershipChangeInProgressError(
              'this leader has not yet committed an entry of its term (it was just elected); retry shortly',
            ),
          );
        case 'ChangeInProgress':
          return Promise.reject(
            new MembershipChangeInProgressError(
              'another membership change is not finished yet; retry when it is',
            ),
          );
      }
    }
    this.schedule();
    return this.membershipCommitted(r.index, r.term, r.membership, deadline);
  }

  private async membershipCommitted(
    index: number,
    term: number,
    membership: ClusterMembership,
    deadline: number,
  ): Promise<ClusterMembership> {
    await this.awaitApplied(index, term, deadline);
    if (!isJoint(membership)) return membership;
    // The core appended the entry that leaves the joint configuration as this one committed.
    const s = this.raw.status();
    if (s.term !== term || s.membershipIndex <= index) {
      throw new LeadershipLostError(
        'leadership changed in the joint phase; the change is committed and the next leader finishes it',
      );
    }
    const leave = s.membershipIndex;
    await this.awaitApplied(leave, term, deadline);
    return this.raw.membershipAt(leave);
  }

  /** Resolves once the entry (index, term) is applied here (at once if it already is). */
  private async awaitApplied(index: number, term: number, deadline: number): Promise<void> {
    if (this.sm.lastApplied >= index) {
      // null: compacted into a snapshot since; it was applied, and no longer tells its term.
      const applied = this.log.term(index);
      if (applied !== null && applied !== term)
        throw new LeadershipLostError('leadership changed; the change was not applied');
      return;
    }
    await this.writes.wait(index, term, deadline);
  }

  /** The term of the entry at `index`, or null when the log no longer (or does not yet) hold it. */
  termOf(index: number): number | null {
    return this.log.term(index);
  }

  /**
   * Resolves once the state machine has applied `index`; TimeoutError (504) at the deadline, the
   * stop's error if the node stops first. Swept and released like a read (pending.ts).
   */
  waitApplied(index: number, deadline: number): Promise<void> {
    if (this.sm.lastApplied >= index) return Promise.resolve();
    if (this.stopError !== null) return Promise.reject(this.stopError());
    return this.reads.startAt(index, deadline, this.clock.now());
  }

  /**
   * Starts a linearizable read; resolves once the local state machine may serve it. `mode`
   * 'lease' lets the leader answer from its lease without a round (§6.4.1); absent, the node's
   * --read-mode decides. A read asked again (askReadsAgain) goes in the node's mode: a round
   * is always safe.
   */
  readIndex(deadline: number, mode?: ReadMode): Promise<void> {
    if (this.stopError !== null) return Promise.reject(this.stopError());
    const { context, done } = this.reads.start(deadline, this.clock.now());
    this.input().readIndex(context, mode);
    this.schedule();
    return done;
  }

  /** §3.10: starts handing leadership to `to` (the caller watches for the new leader). */
  transferLeadership(to: NodeId): TransferResult {
    const r = this.input().transferLeadership(to);
    this.schedule();
    return r;
  }

  /** Graceful stop, step 1: a leader hands over to its best follower, waiting up to an election timeout. */
  async handOffLeadership(): Promise<void> {
    const status = this.raw.status();
    if (!this.running || status.role !== 'leader' || status.voters.length < 2) return;
    const to = bestTransferTarget(status);
    if (to === null) return;
    if (this.input().transferLeadership(to).kind !== 'started') return;
    this.logger.emit('leader.handoff', { to });
    this.schedule();
    const deadline = this.clock.now() + this.options.electionTimeoutMs;
    while (this.isLeader() && this.clock.now() < deadline && this.running) {
      await sleep(this.clock, this.options.heartbeatIntervalMs);
    }
  }

  /**
   * Takes a snapshot now (an operator's request) and resolves once it is recorded and the log
   * compacted: one that covers everything applied when this was called.
   */
  snapshotNow(deadline: number): Promise<SnapshotResponse> {
    if (this.stopError !== null) return Promise.reject(this.stopError());
    const target = this.sm.lastApplied;
    const current = this.log.snapshot();
    if (current.meta.index >= target) {
      return Promise.resolve({
        index: current.meta.index,
        term: current.meta.term,
        bytes: current.data.byteLength,
        keys: null,
        ms: 0,
        taken: false,
      });
    }
    return new Promise((resolve, reject) => {
      const cancel = this.clock.after(Math.max(0, deadline - this.clock.now()), () => {
        this.snapshotWaiters = this.snapshotWaiters.filter((w) => w !== waiter);
        reject(new TimeoutError('the snapshot did not finish in time; it goes on in the background'));
      });
      const waiter: SnapshotWaiter = { target, resolve, reject, cancel };
      this.snapshotWaiters.push(waiter);
      this.startForcedSnapshot();
    });
  }

  /** Graceful stop, step 2: no more ticks or loop turns; pending requests fail; the last Ready finishes. */
  async stop(error: () => RaftkvError): Promise<void> {
    this.running = false;
    this.stopError = error;
    // A paused node stops without resuming: what it held is dropped, its loop let go.
    this.paused = false;
    this.held = [];
    for (const w of this.resumeWaiters.splice(0)) w();
    this.stopTicking?.();
    this.stopTicking = null;
    this.watches.close();
    await this.loop?.catch(() => {});
    await this.snapshotter.idle();
    this.writes.failAll(error);
    this.forwards.failTo(null, error);
    this.reads.failAll(error);
    this.failSnapshotWaiters(error());
    for (const w of [...this.leaderWaiters]) w();
    if (!this.failed) await this.storage.sync().catch(() => {});
    // The failed requests answer their clients through a chain of promise reactions; let it run
    // to the end (one macrotask turn) before the caller closes the client connections.
    await new Promise<void>((resolve) => this.clock.soon(resolve));
  }

  /**
   * The last `count` entries of the stable log (as saved; the leader's newest may still be on
   * their way to the disk), oldest first; none before the snapshot.
   */
  logTail(count: number): readonly Entry[] {
    const last = this.log.lastIndex();
    const lo = Math.max(this.log.firstIndex(), last - count + 1);
    return lo > last ? [] : this.log.entries(lo, last + 1, Number.POSITIVE_INFINITY);
  }

  /**
   * Pauses the node as SIGSTOP would (fault injection): ticks, the Ready loop and peer messages
   * stop; a Ready being carried out stops at its next step. Client requests are held back by the
   * server. Pending requests still time out at their deadlines.
   */
  pause(): void {
    if (!this.running) return;
    this.paused = true;
  }

  /**
   * Resumes a paused node: the core first gets the ticks for the time that passed (at most a few
   * election timeouts' worth, elapsed-ticks.ts), then the held peer messages, in order; then the
   * loop goes on. A leader whose lease ran out meanwhile knows it before it serves a read.
   */
  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    this.payTicks('before an input');
    for (const w of this.resumeWaiters.splice(0)) w();
    const held = this.held;
    this.held = [];
    for (const m of held) {
      if ('frame' in m) this.onForwardFrame(m.from, m.frame);
      else this.onPeerMessage(m);
    }
    this.schedule();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** For /debug: paused, and the peer messages held (and lost past the bound) while paused. */
  pauseState(): { paused: boolean; heldMessages: number; heldDropped: number } {
    return { paused: this.paused, heldMessages: this.held.length, heldDropped: this.heldDropped };
  }

  /** Resolves at the resume (or the stop); called only while paused. */
  private untilResumed(): Promise<void> {
    return new Promise((resolve) => this.resumeWaiters.push(resolve));
  }

  debugState(): Record<string, unknown> {
    const snapshot = this.log.snapshot();
    return {
      pendingWrites: this.writes.size,
      pendingReads: this.reads.size,
      snapshotIndex: snapshot.meta.index,
      snapshotBytes: snapshot.data.byteLength,
      // Whether the log holds the snapshot's bytes, or only a reference to its file.
      snapshotInMemory: heldSnapshotData(snapshot) !== null,
      snapshotInProgress: this.snapshotter.busy,
      diskStalls: this.stallGuard.stalls,
      space: {
        stateBytes: this.sm.stateBytes,
        idempotencyBytes: this.sm.idempotencyBytes,
        quotaBytes: this.sm.quotaBytes,
        alarms: this.sm.noSpaceAlarms,
        refusing: this.refusingSince !== null,
      },
      syncInFlightMs: this.syncStartedAt === null ? 0 : this.clock.now() - this.syncStartedAt,
      watchers: this.watches.counts(),
      leases: { count: this.sm.leaseCount, expiriesInFlight: this.leases.expiriesInFlight },
      transport: this.transport.stats(),
      forwarding: this.forwardingReport(),
    };
  }

  /** Forwarding over the peer connection, for /debug (the server adds its HTTP forwards). */
  forwardingReport(): ForwardCounts & { overPeer: boolean; taken: number; refusedHere: number } {
    return {
      overPeer: this.forwardOverPeer,
      ...this.forwards.counts(),
      taken: this.forwardsTaken,
      refusedHere: this.forwardsRefusedHere,
    };
  }

  /**
   * The core, told first how much time really passed: every input goes through here, so after a
   * pause (SIGSTOP, a long GC, a blocked loop) no message, request or read reaches a core whose
   * clock stopped — a leader whose lease ran out knows it before it serves a read.
   */
  private input(): RawNode {
    this.payTicks('before an input');
    return this.raw;
  }

  /**
   * Hands the core the ticks owed for the monotonic time since the last payment. The mutation
   * forgetPausedTime brings back the bug this replaced: one tick per timer callback, however long
   * the loop stood still.
   */
  private payTicks(occasion: 'before an input' | 'timer fired'): void {
    if (this.elapsed === null) return;
    if (this.mutations.forgetPausedTime) {
      if (occasion === 'timer fired') this.raw.tick();
      return;
    }
    const owed = this.elapsed.take(this.clock.now());
    for (let i = 0; i < owed; i++) this.raw.tick();
  }

  private onPeerMessage(m: Message): void {
    if (!this.running) return;
    if (this.paused) {
      if (this.held.length < maxHeldWhilePaused) this.held.push(m);
      else this.heldDropped++;
      return;
    }
    if (m.type === 'HeartbeatResponse') this.roundTrips.answered(m, this.clock.now());
    this.input().step(m);
    this.schedule();
  }

  /** Hands a message to the transport; a heartbeat's departure is noted for its round trip. */
  private send(m: Message): void {
    if (m.type === 'Heartbeat') this.roundTrips.sent(m, this.clock.now());
    this.transport.send(m);
  }

  private onTransportEvent(e: TransportEvent): void {
    if (losesMessages(e)) this.roundTrips.forget(e.peer);
    switch (e.type) {
      case 'peerUnreachable':
        this.logger.emit('peer.down', { peer: e.peer, reason: e.reason });
        // The proposals handed over on the lost connection may or may not have reached the leader.
        this.forwards.failTo(
          e.peer,
          () =>
            new ForwardFailedError(
              `the connection to the leader (${e.peer}) was lost before it answered; the write may still commit`,
            ),
        );
        // A paused node's core hears of nothing until it resumes.
        if (this.running && !this.paused) this.input().reportUnreachable(e.peer);
        return;
      case 'peerReconnected':
        this.logger.emit('peer.up', { peer: e.peer, downForMs: e.downForMs });
        return;
      case 'peerConnected':
        this.logger.emit('peer.up', { peer: e.peer });
        return;
      case 'peerQueueOverflow':
        this.logger.emit('peer.queue_full', {
          peer: e.peer,
          droppedSoFar: e.droppedSoFar,
        });
        return;
      case 'inboundRejected':
      case 'protocolError':
        this.logger.emit('peer.refused', { remote: e.remote, reason: e.reason });
        return;
      case 'messageTooLarge':
        this.logger.emit('peer.message_too_large', {
          peer: e.peer,
          type: e.messageType,
          bytes: e.bytes,
        });
        return;
      case 'snapshotStreamFailed':
        // The leader's core sends the snapshot again once it presumes this one lost.
        this.logger.emit('snapshot.send_failed', {
          peer: e.peer,
          index: e.index,
          term: e.term,
          reason: e.reason,
        });
        return;
      default:
        return;
    }
  }

  private onTick(): void {
    if (!this.running) return;
    const now = this.clock.now();
    // A request waiting on the core is answered at its deadline, paused or not (as a client's own
    // timeout would end it).
    this.writes.sweep(now);
    this.forwards.sweep(now);
    this.reads.sweep(now);
    // Paused, no tick reaches the core: the time is paid at resume.
    if (this.paused) return;
    this.payTicks('timer fired');
    this.askReadsAgain(now);
    this.checkDiskStall(now);
    this.promoteCaughtUpLearners(now);
    this.checkLeases(now);
    this.schedule();
  }

  /** Leader: promote a learner added to become a voter, once it has caught up (auto-promote.ts). */
  private promoteCaughtUpLearners(now: number): void {
    if (this.promoting || this.raw.membership().current.autoPromote.length === 0) return;
    const status = this.raw.status();
    if (status.role !== 'leader') return;
    const id = this.promoter.due(status, now);
    if (id === null) return;
    const pending = this.changeMembership(
      [{ kind: 'promote', id }],
      now + 4 * this.options.electionTimeoutMs,
    );
    if (pending === 'not-leader') return;
    this.promoting = true;
    this.logger.emit('membership.promoting', { learner: id });
    pending
      .then(() => this.logger.emit('membership.promoted', { member: id }))
      .catch((e: unknown) =>
        this.logger.emit('membership.promotion_failed', {
          learner: id,
          why: String(e),
        }),
      )
      .finally(() => {
        this.promoting = false;
      });
  }

  /** After each Ready: a node that a committed configuration no longer names has been removed. */
  private checkRemoved(): void {
    const id = this.options.id;
    const { current } = this.raw.membership();
    // The common case, per Ready: a member of the configuration in force is not removed.
    if (isMember(current, id)) {
      this.wasMember = true;
      return;
    }
    // Judged at the commit index already saved, not the core's (which may have moved on while
    // this Ready was being written): the removal this node acts on is the one its data dir
    // records, so that it also refuses to start on it again (start-node.ts).
    const saved = Math.max(this.log.initialState().hardState.commitIndex, this.log.snapshot().meta.index);
    const committed = this.raw.membershipAt(saved);
    if (isMember(committed, id)) {
      this.wasMember = true;
      return;
    }
    if (!this.wasMember || committed.voters.length === 0) return;
    this.wasMember = false;
    this.logger.emit('membership.removed', {});
    this.removedHandler();
  }

  /** Learners' readiness as the leader judges it (for /debug); empty elsewhere. */
  learnerReport(): Record<string, unknown> {
    const status = this.raw.status();
    return status.role === 'leader' ? this.promoter.report(status, this.clock.now()) : {};
  }

  /**
   * A follower relays each linearizable read to the leader once; if that message or the answer is
   * lost (a dropped connection, a full queue, a leader that lost its post meanwhile — this node
   * included), the read would wait out its whole deadline. Reads unanswered for a few heartbeats
   * are asked again; with no leader known the core fails them at once, and the service retries
   * them once a leader is known.
   */
  private askReadsAgain(now: number): void {
    if (this.reads.size === 0) return;
    for (const context of this.reads.toAskAgain(
      now,
      readRetryHeartbeats * this.options.heartbeatIntervalMs,
    )) {
      this.raw.readIndex(context);
    }
  }

  /** A leader stuck in fsync hands leadership over (see disk-stall.ts). */
  private checkDiskStall(now: number): void {
    const action = this.stallGuard.check(this.syncStartedAt, now, this.raw.status());
    if (action.kind === 'none') return;
    const inFlightMs = this.syncStartedAt === null ? 0 : now - this.syncStartedAt;
    if (action.kind === 'transfer') {
      this.logger.emit('disk.stall', {
        to: action.to,
        inFlightMs,
      });
      if (this.raw.transferLeadership(action.to).kind === 'started') return;
    } else {
      this.logger.emit('disk.stall_step_down', { inFlightMs });
    }
    this.raw.stepDown('disk stall');
    this.afterSoftStateChange();
  }

  /**
   * Runs the Ready loop soon, once for everything that arrives in this turn of the event loop.
   * While the loop waits for an fsync, the messages that may leave before persistence (the
   * leader's AppendEntries and heartbeats, §10.2.1) go out at once instead of waiting for it:
   * replication of new proposals overlaps the leader's own fsync, and a leader whose disk stalls
   * keeps talking, so the stall guard can hand leadership over.
   */
  private schedule(): void {
    // Paused: resume() schedules whatever the core has ready by then.
    if (!this.running || this.paused) return;
    if (this.loop !== null) {
      // Once per turn, so the proposals of one turn leave as one AppendEntries per follower.
      if (this.earlyFlushScheduled) return;
      this.earlyFlushScheduled = true;
      this.clock.soon(() => {
        this.earlyFlushScheduled = false;
        if (!this.running || this.paused) return;
        this.syncPeers();
        for (const m of this.raw.takeEarlyMessages()) this.send(m);
      });
      return;
    }
    if (this.loopScheduled) return;
    this.loopScheduled = true;
    this.clock.soon(() => {
      this.loopScheduled = false;
      // Paused meanwhile: resume() schedules the loop again.
      if (this.loop !== null || !this.running || this.paused) return;
      this.loop = this.runLoop().finally(() => {
        this.loop = null;
        if (this.running && this.raw.hasReady()) this.schedule();
      });
    });
  }

  /** Started only while not paused (schedule()). */
  private async runLoop(): Promise<void> {
    try {
      const own = this.snapshotter.takeReady();
      if (own !== null) {
        await this.installOwnSnapshot(own.snapshot, own.ms, own.keys);
        // A leader's newer snapshot may have made this one moot: operators waiting for one
        // covering their index get a fresh start (a no-op if one is already running).
        if (this.snapshotWaiters.length > 0) this.startForcedSnapshot();
      }
      while (this.running) {
        // A pause stops the loop between Readies (and inside one, after its fsync).
        if (this.paused) await this.untilResumed();
        if (!this.running || !this.input().hasReady()) break;
        await this.handleReady(this.raw.ready());
      }
    } catch (e) {
      this.failed = true;
      this.running = false;
      this.fatalHandler(e instanceof Error ? e : new Error(String(e)));
    }
  }

  private async handleReady(ready: Ready): Promise<void> {
    // A configuration is in force from its append (§4.1): a member just added must be dialable.
    this.syncPeers();
    // 1. Messages that may leave before persistence.
    for (const m of ready.messages) this.send(m);
    // 2. A snapshot from the leader: durable first, then the state machine restarts from it.
    if (ready.snapshot !== null) await this.installLeaderSnapshot(ready.snapshot);
    // 3. Entries and hard state, one fsync for the batch.
    if (ready.entries.length > 0 || ready.hardState !== null) {
      this.storage.save(ready.entries, ready.hardState);
      if (ready.mustSync) {
        this.syncStartedAt = this.clock.now();
        try {
          await this.syncWal();
        } finally {
          this.syncStartedAt = null;
        }
        // Paused while the fsync ran: the rest of this Ready waits for the resume.
        if (this.paused) await this.untilResumed();
      }
      if (ready.entries.length > 0) this.log.append(ready.entries);
      if (ready.hardState !== null) this.log.setHardState(ready.hardState);
    }
    // 4. Messages that promise durable state.
    for (const m of ready.messagesAfterPersist) this.send(m);
    // 5. Apply, answer writers, serve reads.
    if (ready.committedEntries.length > 0) this.apply(ready.committedEntries);
    for (const s of ready.readStates) this.reads.released(s.context, s.readIndex, this.sm.lastApplied);
    for (const f of ready.readFailures) this.reads.failed(f.context, readFailureError(f.reason));
    // After the fsync's await: time may have passed (a pause) before advance() commits and
    // releases reads.
    this.input().advance(ready);
    if (ready.softState !== null) this.afterSoftStateChange();
    this.checkRemoved();
  }

  /** One write and fdatasync of the WAL records saved so far, timed for the observer. */
  private async syncWal(): Promise<void> {
    const from = this.clock.now();
    await this.storage.sync();
    this.observer.walSynced((this.clock.now() - from) / 1000);
  }

  private apply(entries: readonly Entry[]): void {
    let bytes = 0;
    const now = this.clock.now();
    for (const e of entries) {
      if (e.index <= this.sm.lastApplied) continue;
      const result: ApplyResult = this.sm.apply(e);
      if (result.kind === 'lease' || result.kind === 'lease_ended') this.noteLease(result, now);
      this.writes.applied(e, result);
      if (result.kind === 'no_space' || result.kind === 'space' || this.refusingSince !== null) {
        this.noteSpace(result);
      }
      bytes += e.data.byteLength;
    }
    this.reads.appliedTo(this.sm.lastApplied);
    this.snapshotter.maybeStart(this.sm, (index) => this.log.term(index), bytes);
    this.dispatchWatchesSoon();
  }

  /**
   * The watchers get the applied changes on the next turn, once the writers' answers are out: a
   * write is never held back by fanning its change out to many watchers. One dispatch per turn
   * takes every entry applied meanwhile.
   */
  private dispatchWatchesSoon(): void {
    // No watcher, nothing to send: the first one to open catches up from the history itself.
    if (this.watchDispatchPending || this.watches.watchersOpen === 0) return;
    this.watchDispatchPending = true;
    this.clock.soon(() => {
      this.watchDispatchPending = false;
      this.watches.dispatch();
    });
  }

  /** A lease granted, renewed or ended here: its deadline starts again, or it is forgotten. */
  private noteLease(result: LeaseResult | LeaseEndedResult, now: number): void {
    this.leases.applied(result, now);
    if (result.kind === 'lease_ended' && result.expired) {
      this.observer.leaseExpired();
      this.logger.emit('lease.expired', { id: result.id, keys: result.keys.length, index: result.index });
    }
  }

  /**
   * The leader's lease check, once per tick: an expiry proposed for each lease past its deadline
   * here (lease-keeper.ts), at most one in flight per lease and renewal. Other nodes only keep
   * their deadlines current, so that they hold when one of them becomes leader.
   */
  private checkLeases(now: number): void {
    if (this.leases.size === 0) return;
    if (this.raw.status().role !== 'leader') {
      this.leases.advance(now);
      return;
    }
    for (const p of this.leases.due(now)) this.proposeExpiry(p, now);
  }

  private proposeExpiry(p: ExpiryProposal, now: number): void {
    const data = encodeCommand({ op: 'leaseExpire', id: p.id, renewIndex: p.renewIndex });
    const pending = this.propose(data, now + this.options.requestTimeoutMs);
    if (pending === 'not-leader') {
      this.leases.settled(p, true, now);
      return;
    }
    // A failed proposal (leadership lost, overwritten, past its deadline) is due again next check;
    // a duplicate that commits anyway applies as nothing (the lease is gone or renewed).
    pending.then(
      () => this.leases.settled(p, false, this.clock.now()),
      () => this.leases.settled(p, true, this.clock.now()),
    );
  }

  /**
   * One log line when the replicated space rules change, one when writes start being refused for
   * want of space, and one when there is room again: no alarm, and a tenth of the quota free
   * (docs/space.md).
   */
  private noteSpace(result: ApplyResult): void {
    if (result.kind === 'space') {
      this.logger.emit('space.rules_applied', {
        index: result.index,
        quotaBytes: result.quotaBytes,
        alarms: result.alarms.join(',') || null,
      });
    } else if (result.kind === 'no_space') {
      this.refusedForSpace(result);
    }
    const sm = this.sm;
    // Room again means no alarm and a tenth of the quota free: at the boundary, writes of mixed
    // sizes would otherwise log a refusal and a recovery every few entries.
    const room =
      sm.noSpaceAlarms.length === 0 && (sm.quotaBytes === null || sm.stateBytes <= 0.9 * sm.quotaBytes);
    if (this.refusingSince !== null && room && result.kind !== 'no_space') {
      this.logger.emit('space.accepting', {
        refusedSince: this.refusingSince,
        stateBytes: sm.stateBytes,
        quotaBytes: sm.quotaBytes,
      });
      this.refusingSince = null;
    }
  }

  /**
   * A write was refused for want of space — by the log, or by this leader at once (the service's
   * fast path): the first refusal since writes last had room is logged.
   */
  refusedForSpace(r: SpaceRefusal): void {
    if (this.refusingSince !== null) return;
    this.refusingSince = this.sm.lastApplied;
    this.logger.emit('space.refusing', {
      reason: r.reason,
      stateBytes: r.stateBytes,
      quotaBytes: r.quotaBytes,
      alarms: r.alarms.join(',') || null,
    });
  }

  private async installLeaderSnapshot(received: Snapshot): Promise<void> {
    const snap = heldSnapshot(received);
    const restored = KvStateMachine.restore(snap.data);
    await this.storage.saveSnapshot(snap);
    // The file is written and the state machine restored: the log keeps only a reference to the
    // bytes, which the Ready holding them lets go of once carried out.
    this.log.applySnapshot(this.snapshotsInFiles ? withStoredData(snap) : snap);
    this.sm = restored;
    this.leases.restored(restored.leaseRecords(), this.clock.now());
    this.snapshotter.noteRestored(snap.meta.index, snap.data.byteLength);
    this.logger.emit('snapshot.installed', {
      index: snap.meta.index,
      term: snap.meta.term,
    });
    this.settleSnapshotWaiters({
      index: snap.meta.index,
      term: snap.meta.term,
      bytes: snap.data.byteLength,
      keys: restored.size,
      ms: 0,
      taken: false,
    });
    this.reads.appliedTo(this.sm.lastApplied);
    // The writes waiting for entries the snapshot covers (a follower's forwarded writes) are never
    // applied one by one here: their results are unknown.
    this.writes.failThrough(
      snap.meta.index,
      () =>
        new ForwardFailedError(
          "a snapshot from the leader covered the write's entry and does not tell its result; it may have committed",
        ),
    );
    // The watchers whose next events the snapshot jumped over end `compacted`; the others go on.
    this.watches.dispatch();
  }

  /** Our own snapshot, its file already written off the loop: record it and compact, between two Readies. */
  private async installOwnSnapshot(snap: Snapshot, ms: number, keys: number): Promise<void> {
    // A newer snapshot from the leader may have been installed meanwhile.
    if (snap.meta.index <= this.log.snapshot().meta.index) return;
    const recordingFrom = this.clock.now();
    this.storage.wal.saveSnapshot({ index: snap.meta.index, term: snap.meta.term });
    await this.syncWal();
    const compactTo = Math.max(0, snap.meta.index - this.options.snapshotCatchUpEntries);
    this.log.createSnapshot(snap, compactTo);
    const removed = await this.storage.compact();
    // Serialising and writing the file (off the loop), then recording it here.
    this.observer.snapshotTaken((ms + this.clock.now() - recordingFrom) / 1000);
    this.logger.emit('snapshot.taken', {
      index: snap.meta.index,
      bytes: snap.data.byteLength,
      keys,
      ms,
      keptEntriesFrom: compactTo + 1,
      removedSegments: removed.removedSegments.length,
    });
    this.settleSnapshotWaiters({
      index: snap.meta.index,
      term: snap.meta.term,
      bytes: snap.data.byteLength,
      keys,
      ms,
      taken: true,
    });
  }

  /** Answers the snapshotNow() callers this snapshot covers; asks again for the others. */
  private settleSnapshotWaiters(taken: SnapshotResponse): void {
    if (this.snapshotWaiters.length === 0) return;
    const later: SnapshotWaiter[] = [];
    for (const w of this.snapshotWaiters) {
      if (w.target <= taken.index) {
        w.cancel();
        w.resolve(taken);
      } else later.push(w);
    }
    this.snapshotWaiters = later;
    if (later.length > 0) this.startForcedSnapshot();
  }

  private failSnapshotWaiters(e: Error): void {
    const waiters = this.snapshotWaiters;
    this.snapshotWaiters = [];
    for (const w of waiters) {
      w.cancel();
      w.reject(e);
    }
  }

  /** Starts a snapshot regardless of the cadence rules (or right after the one running now). */
  private startForcedSnapshot(): void {
    this.snapshotter.force();
    this.snapshotter.maybeStart(this.sm, (index) => this.log.term(index), 0);
    // If one was already running, the forced one starts at the next apply or right after it.
    void this.snapshotter.idle().then(() => this.schedule());
  }

  private afterSoftStateChange(): void {
    const s = this.raw.status();
    // As etcd counts it: a leader known that is not the one known before (none counts as one).
    if (s.leaderId !== null && s.leaderId !== this.lastLeader) this.observer.leaderChanged();
    // Heartbeats leave only while leading; a new term of leadership times its own.
    if (s.role !== 'leader') this.roundTrips.forget(null);
    if (this.mutations.resetLeasesOnElection && s.role === 'leader' && s.leaderId !== this.lastLeader) {
      this.leases.resetAllForTest(this.clock.now());
    }
    if (this.lastLeader !== null && s.leaderId !== this.lastLeader) {
      // Writes proposed here may still commit under the next leader, but this node can no longer
      // tell the client when: fail them as "outcome unknown".
      if (this.writes.size > 0 && s.role !== 'leader') {
        this.writes.failAll(
          () =>
            new LeadershipLostError('leadership changed while the write was in flight; it may still commit'),
        );
      }
      // Writes handed to the old leader and not answered yet: it may have appended them.
      if (this.forwards.size > 0) {
        this.forwards.failTo(
          null,
          () =>
            new LeadershipLostError(
              'leadership changed before the leader took the write; it may still commit',
            ),
        );
      }
    }
    this.lastLeader = s.leaderId;
    if (s.leaderId !== null) for (const w of [...this.leaderWaiters]) w();
  }
}

/**
 * Events after which messages to or from the peer may have been lost without an answer: a
 * connection that failed or was replaced, a queue that dropped its oldest. (After a reconnection
 * the messages queued meanwhile still leave, in order; the proposals handed to the leader do not.)
 */
function losesMessages(e: TransportEvent): e is TransportEvent & { readonly peer: NodeId } {
  switch (e.type) {
    case 'peerUnreachable':
    case 'peerQueueOverflow':
    case 'inboundAccepted':
    case 'inboundTimedOut':
      return true;
    case 'protocolError':
      return e.peer !== null;
    default:
      return false;
  }
}

/** Why the core refused a proposal, as the client is told; 'not-leader' when another node must take it. */
function proposalRefusal(
  reason: 'NotLeader' | 'TooLarge' | 'TransferInProgress' | 'Busy',
): RaftkvError | 'not-leader' {
  switch (reason) {
    case 'NotLeader':
      return 'not-leader';
    case 'TooLarge':
      return new TooLargeError('the entry is larger than the leader accepts uncommitted');
    case 'TransferInProgress':
      return new BusyError('leadership is being transferred; retry shortly');
    case 'Busy':
      return new BusyError('too many uncommitted writes at the leader; retry shortly');
  }
}

/** Why a forwarded command cannot be applied here, or null when it can be. */
function commandProblem(data: Uint8Array): string | null {
  try {
    decodeCommand(data);
    return null;
  } catch (e) {
    return e instanceof Error ? e.message : String(e);
  }
}

function readFailureError(reason: ReadFailure['reason']): RaftkvError {
  switch (reason) {
    case 'Busy':
      return new BusyError('too many reads waiting at the leader; retry shortly');
    case 'LeadershipLost':
      return new LeadershipLostError('leadership changed before the read could be confirmed');
    default:
      return new NoLeaderError('no leader could confirm the read');
  }
}

function membershipRefusalError(refusal: MembershipRefusal): RaftkvError {
  switch (refusal.reason) {
    case 'MemberExists':
      return new MemberExistsError(`"${refusal.id}" is already a member`);
    case 'AddressInUse':
      return new MemberExistsError(`address ${refusal.address} is already member "${refusal.id}"'s`);
    case 'MemberNotFound':
      return new MemberNotFoundError(`no member is called "${refusal.id}"`);
    case 'NotALearner':
      return new BadRequestError(`"${refusal.id}" is already a voter`);
    case 'LastVoter':
      return new LastVoterError(`"${refusal.id}" is the last voter; the cluster would have none`);
    case 'NoChange':
      return new BadRequestError('no change asked for');
  }
}
