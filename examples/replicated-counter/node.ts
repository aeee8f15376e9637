// A counter node: a Replica (replica.ts) on the real disk, the project's peer transport between
// nodes and a timer for the core's ticks — and the service's own tiny API: increment(by),
// resolved once the entry is committed and applied; value(), a linearizable read; localValue().

import { randomInt, randomUUID } from 'node:crypto';
import type { NodeId, Status } from 'raftkv/raft';
import { RealDisk } from 'raftkv/storage';
import { type PeerAddress, PeerTransport } from 'raftkv/transport';
import { encodeIncrement } from './counter.js';
import { type ReadyOutcome, Replica } from './replica.js';

export interface CounterNodeOptions {
  readonly id: NodeId;
  /** Where every member (this one included) listens for its peers: the bootstrap membership. */
  readonly peers: Readonly<Record<NodeId, PeerAddress>>;
  readonly dataDir: string;
  readonly clusterId?: string;
  /** One tick = one heartbeat interval. The election timeout is `electionTicks` of them. */
  readonly tickMs?: number;
  readonly electionTicks?: number;
  readonly snapshotEvery?: number;
  readonly snapshotKeep?: number;
  /** How long increment() and value() wait for their answer. */
  readonly timeoutMs?: number;
}

/** Only the leader takes writes; `leaderId` (if known) is where to ask instead. */
export class NotLeaderError extends Error {
  override readonly name = 'NotLeaderError';
  constructor(readonly leaderId: NodeId | null) {
    super(`not the leader${leaderId === null ? ' (none known)' : `; ask ${leaderId}`}`);
  }
}

/** The write may or may not take effect (leadership changed, or no answer in time). */
export class OutcomeUnknownError extends Error {
  override readonly name = 'OutcomeUnknownError';
}

interface Waiter<T> {
  readonly resolve: (v: T) => void;
  readonly reject: (e: Error) => void;
  readonly timer: NodeJS.Timeout;
}

export class CounterNode {
  /** Writes proposed here, by log index, with the term they were proposed in. */
  private readonly writes = new Map<number, Waiter<number> & { readonly term: number }>();
  /** Reads by context; `readIndex` once the core has released them. */
  private readonly reads = new Map<string, Waiter<number> & { readIndex: number | null }>();
  private nextRead = 0;
  /** Read contexts differ between incarnations: an answer to a read of the last one is not ours. */
  private readonly incarnation = randomUUID().slice(0, 8);
  private loop: Promise<void> | null = null;
  private ticker: NodeJS.Timeout | null = null;
  private stopped = false;

  private constructor(
    readonly id: NodeId,
    private readonly replica: Replica,
    private readonly transport: PeerTransport,
    private readonly timeoutMs: number,
  ) {}

  static async start(o: CounterNodeOptions): Promise<CounterNode> {
    const self = o.peers[o.id];
    if (self === undefined) throw new Error(`peers has no address for this node (${o.id})`);
    const clusterId = o.clusterId ?? 'replicated-counter';
    const addresses = Object.fromEntries(
      Object.entries(o.peers).map(([id, a]) => [id, `${a.host}:${a.port}`]),
    );
    const replica = await Replica.open({
      id: o.id,
      members: addresses,
      clusterId,
      disk: new RealDisk(),
      dir: o.dataDir,
      random: { nextInt: (n) => randomInt(n) },
      raft: { electionTimeoutTicks: o.electionTicks ?? 10, heartbeatIntervalTicks: 1 },
      snapshotEvery: o.snapshotEvery,
      snapshotKeep: o.snapshotKeep,
    });
    const transport = new PeerTransport({ nodeId: o.id, clusterId, peers: o.peers, listen: self });
    const node = new CounterNode(o.id, replica, transport, o.timeoutMs ?? 5000);
    transport.onMessage((m) => {
      if (node.stopped) return;
      replica.raw.step(m);
      node.schedule();
    });
    // A leader stops pipelining to a peer it cannot reach, so a queue of stale entries does not wait for it.
    transport.onEvent((e) => {
      if (e.type === 'peerUnreachable' && !node.stopped) replica.raw.reportUnreachable(e.peer);
    });
    try {
      await transport.start();
    } catch (e) {
      await replica.close();
      throw e;
    }
    // One tick per timer callback. Enough for ReadIndex reads (confirmed by a heartbeat round);
    // a driver using lease reads must hand over every interval that really passed, pauses
    // included, or a paused leader may trust a lease that ran out.
    node.ticker = setInterval(() => {
      replica.raw.tick();
      node.schedule();
    }, o.tickMs ?? 50);
    node.schedule();
    return node;
  }

  /** Adds `by`; resolves with the counter's value right after this increment was applied. */
  increment(by: number): Promise<number> {
    if (this.stopped) return Promise.reject(new Error(`${this.id} is stopped`));
    const r = this.replica.raw.propose(encodeIncrement(by));
    if (r.kind === 'rejected') {
      if (r.reason === 'NotLeader') return Promise.reject(new NotLeaderError(r.leaderId));
      return Promise.reject(new Error(`the leader refused the increment: ${r.reason}; retry later`));
    }
    this.schedule();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.writes.delete(r.index);
        reject(new OutcomeUnknownError(`no answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.writes.set(r.index, { term: r.term, resolve, reject, timer });
    });
  }

  /**
   * A linearizable read (ReadIndex, §6.4 of the thesis), on any node: the leader confirms it still
   * leads with a heartbeat round and names its commit index; the value is read here once this
   * replica has applied that far. It reflects every increment acknowledged before it started.
   */
  value(): Promise<number> {
    if (this.stopped) return Promise.reject(new Error(`${this.id} is stopped`));
    const context = `${this.id}-${this.incarnation}-${this.nextRead++}`;
    this.replica.raw.readIndex(context);
    this.schedule();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.reads.delete(context);
        reject(new Error(`read not confirmed in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.reads.set(context, { readIndex: null, resolve, reject, timer });
    });
  }

  /** This replica's value now: fast, but may lag the cluster (a stale read). */
  localValue(): { readonly value: number; readonly lastApplied: number } {
    const c = this.replica.counter;
    return { value: c.value, lastApplied: c.lastApplied };
  }

  status(): Status {
    return this.replica.raw.status();
  }

  snapshots(): { readonly taken: number; readonly installed: number } {
    return { ...this.replica.snapshots };
  }

  /** Stops ticking and talking, finishes the Ready in hand, closes the WAL; pending calls fail. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.ticker !== null) clearInterval(this.ticker);
    await this.loop;
    await this.transport.stop();
    await this.replica.close();
    this.failAll(() => new OutcomeUnknownError(`${this.id} stopped`));
  }

  /**
   * Runs the Ready loop soon, once for everything that arrives in this turn of the event loop: the
   * proposals and messages of one turn share one Ready, hence one fsync.
   */
  private schedule(): void {
    if (this.loop !== null || this.stopped) return;
    this.loop = new Promise<void>((resolve) => setImmediate(resolve))
      .then(async () => {
        while (!this.stopped && this.replica.raw.hasReady()) {
          this.settle(await this.replica.handleReady((m) => this.transport.send(m)));
        }
      })
      .catch((e: unknown) => this.fail(e))
      .finally(() => {
        this.loop = null;
        // Input that arrived during the last fsync has made a new Ready.
        if (!this.stopped && this.replica.raw.hasReady()) this.schedule();
      });
  }

  /** Answers the callers a Ready decided. */
  private settle(out: ReadyOutcome): void {
    for (const a of out.applied) {
      const w = this.writes.get(a.index);
      if (w === undefined) continue;
      this.writes.delete(a.index);
      clearTimeout(w.timer);
      // Another leader's entry took the index: ours was overwritten and will never apply.
      if (a.term === w.term) w.resolve(a.value);
      else w.reject(new Error('the increment was overwritten by a new leader; it did not apply'));
    }
    // Writes proposed here may still commit under another leader, but this node cannot tell when.
    if (out.softState !== null && out.softState.role !== 'leader') {
      this.failWrites(() => new OutcomeUnknownError('leadership changed; the increment may still apply'));
    }
    for (const s of out.readStates) {
      const r = this.reads.get(s.context);
      if (r !== undefined && r.readIndex === null) r.readIndex = s.readIndex;
    }
    for (const f of out.readFailures) {
      const r = this.reads.get(f.context);
      if (r === undefined) continue;
      this.reads.delete(f.context);
      clearTimeout(r.timer);
      r.reject(new Error(`read failed: ${f.reason}`));
    }
    const { value, lastApplied } = this.replica.counter;
    for (const [context, r] of this.reads) {
      if (r.readIndex === null || r.readIndex > lastApplied) continue;
      this.reads.delete(context);
      clearTimeout(r.timer);
      r.resolve(value);
    }
  }

  /** A failed write or fsync: the replica cannot go on safely (its disk state is unknown). */
  private fail(e: unknown): void {
    const error = e instanceof Error ? e : new Error(String(e));
    console.error(`${this.id}: stopping after a storage error: ${error.message}`);
    void this.stop();
  }

  private failWrites(error: () => Error): void {
    for (const w of this.writes.values()) {
      clearTimeout(w.timer);
      w.reject(error());
    }
    this.writes.clear();
  }

  private failAll(error: () => Error): void {
    this.failWrites(error);
    for (const r of this.reads.values()) {
      clearTimeout(r.timer);
      r.reject(error());
    }
    this.reads.clear();
  }
}
