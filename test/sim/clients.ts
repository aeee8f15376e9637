// Goal: the simulated clients and the history they observe. Writes are `put key value` with a
// value used nowhere else; a write is acknowledged when the leader that accepted it applies an
// entry with the same index and term (a different term at that index means the proposal was
// lost, §6.3). Reads use ReadIndex (§6.4) and are checked for linearizability: a read must reflect
// every write acknowledged before the read was issued — for its key, and (stronger, since the
// whole store is one linearizable object) the state it observes must include every such write.

import type { Entry, NodeId, ReadFailure, ReadState } from '../../src/raft/index.js';
import type { SafetyChecker } from './checker.js';
import { decodePut, type KvStateMachine } from './kv.js';
import type { Tracer } from './trace.js';

interface PendingWrite {
  readonly key: string;
  readonly value: string;
  readonly term: number;
  readonly tick: number;
}

interface AckedWrite {
  readonly index: number;
  readonly value: string;
  readonly tick: number;
}

interface PendingRead {
  readonly context: string;
  readonly key: string;
  readonly node: NodeId;
  readonly issuedTick: number;
  /** Every write acknowledged before the read began has an index ≤ this. */
  readonly requiredIndex: number;
  /** The latest acknowledged write of `key` when the read began. */
  readonly requiredWrite: AckedWrite | undefined;
  readIndex: number;
}

export interface ClientStats {
  proposed: number;
  rejected: number;
  acked: number;
  lost: number;
  readsIssued: number;
  readsServed: number;
  readsFailed: number;
  /** Read outcomes for contexts no longer pending (duplicates, previous incarnations). */
  strayReleases: number;
}

export class Clients {
  readonly stats: ClientStats = {
    proposed: 0,
    rejected: 0,
    acked: 0,
    lost: 0,
    readsIssued: 0,
    readsServed: 0,
    readsFailed: 0,
    strayReleases: 0,
  };
  /** Per node, per index: proposals its current incarnation accepted and has not applied yet. */
  private readonly writes = new Map<NodeId, Map<number, PendingWrite>>();
  private readonly reads = new Map<string, PendingRead>();
  /** Per node: reads released by the core, waiting for the state machine to catch up. */
  private readonly released = new Map<NodeId, PendingRead[]>();
  private readonly lastAcked = new Map<string, AckedWrite>();
  /** Every acknowledged write, in acknowledgement order. */
  readonly acked: {
    readonly key: string;
    readonly value: string;
    readonly index: number;
    readonly tick: number;
  }[] = [];
  private maxAckedIndex = 0;
  private writeSeq = 0;
  private readSeq = 0;
  /** Called with (index, tick) whenever a write is acknowledged; the liveness check listens. */
  onAck: ((index: number, key: string) => void) | null = null;

  constructor(
    private readonly checker: SafetyChecker,
    private readonly tracer: Tracer,
    private readonly clock: () => number,
  ) {}

  /** A fresh value: writes are unique so a read's result identifies the write it observed. */
  nextValue(): string {
    this.writeSeq++;
    return `w${this.writeSeq}`;
  }

  onRejected(): void {
    this.stats.proposed++;
    this.stats.rejected++;
  }

  onAccepted(node: NodeId, key: string, value: string, index: number, term: number): void {
    this.stats.proposed++;
    let byIndex = this.writes.get(node);
    if (!byIndex) {
      byIndex = new Map();
      this.writes.set(node, byIndex);
    }
    const prior = byIndex.get(index);
    if (prior !== undefined && prior.term === term) {
      this.checker.fail('proposal integrity', `${node} accepted two proposals at ${index}/t${term}`);
    }
    byIndex.set(index, { key, value, term, tick: this.clock() });
  }

  /** The node's state machine applied `e`: acknowledge (or declare lost) its own proposal there. */
  onApplied(node: NodeId, e: Entry): void {
    const byIndex = this.writes.get(node);
    const w = byIndex?.get(e.index);
    if (w === undefined) return;
    byIndex!.delete(e.index);
    if (w.term !== e.term) {
      this.stats.lost++;
      if (this.tracer.on)
        this.tracer.event('lost', `${node} ${w.key}=${w.value} (${e.index}/t${w.term} overwritten)`);
      return;
    }
    const cmd = decodePut(e.data);
    if (cmd === null || cmd.key !== w.key || cmd.value !== w.value) {
      this.checker.fail(
        'proposal integrity',
        `${node} accepted ${w.key}=${w.value} at ${e.index}/t${w.term} but applied other data there`,
      );
    }
    this.stats.acked++;
    const acked: AckedWrite = { index: e.index, value: w.value, tick: this.clock() };
    const prev = this.lastAcked.get(w.key);
    if (prev === undefined || prev.index < e.index) this.lastAcked.set(w.key, acked);
    if (e.index > this.maxAckedIndex) this.maxAckedIndex = e.index;
    this.acked.push({ key: w.key, value: w.value, index: e.index, tick: acked.tick });
    if (this.tracer.on) this.tracer.event('ack', `${node} ${w.key}=${w.value} at ${e.index}/t${e.term}`);
    this.onAck?.(e.index, w.key);
  }

  /** Starts a linearizable read of `key` at `node`; returns the context to pass to readIndex. */
  beginRead(node: NodeId, key: string): string {
    this.readSeq++;
    const context = `r${this.readSeq}`;
    this.stats.readsIssued++;
    this.reads.set(context, {
      context,
      key,
      node,
      issuedTick: this.clock(),
      requiredIndex: this.maxAckedIndex,
      requiredWrite: this.lastAcked.get(key),
      readIndex: -1,
    });
    return context;
  }

  onReadState(node: NodeId, rs: ReadState): void {
    const r = this.reads.get(rs.context);
    if (r === undefined || r.node !== node || r.readIndex >= 0) {
      // A duplicated ReadIndexResponse, or one addressed to a previous incarnation of the node,
      // releases a read the driver no longer waits for: like a real driver, ignore it.
      this.stats.strayReleases++;
      if (this.tracer.on)
        this.tracer.event('read', `${node} ${rs.context} released again or unknown: ignored`);
      return;
    }
    r.readIndex = rs.readIndex;
    let list = this.released.get(node);
    if (!list) {
      list = [];
      this.released.set(node, list);
    }
    list.push(r);
  }

  onReadFailure(node: NodeId, f: ReadFailure): void {
    const r = this.reads.get(f.context);
    if (r === undefined || r.node !== node || r.readIndex >= 0) {
      this.stats.strayReleases++;
      return;
    }
    this.reads.delete(f.context);
    this.stats.readsFailed++;
    if (this.tracer.on) this.tracer.event('read', `${node} ${f.context} failed: ${f.reason}`);
  }

  /** THE ORDER, step 5: serve every released read whose index the state machine has reached. */
  serveReads(node: NodeId, sm: KvStateMachine): void {
    const list = this.released.get(node);
    if (!list || list.length === 0) return;
    const waiting: PendingRead[] = [];
    for (const r of list) {
      if (sm.applied < r.readIndex) {
        waiting.push(r);
        continue;
      }
      this.reads.delete(r.context);
      this.stats.readsServed++;
      const got = sm.get(r.key);
      const gotIndex = got?.index ?? 0;
      const shown = got ? `${r.key}=${got.value} (written at index ${got.index})` : `no value for ${r.key}`;
      if (this.tracer.on) {
        this.tracer.event(
          'read',
          `${node} ${r.context} -> ${shown} readIndex=${r.readIndex} applied=${sm.applied}`,
        );
      }
      const w = r.requiredWrite;
      if (w !== undefined && gotIndex < w.index) {
        this.checker.fail(
          'linearizable read',
          `read ${r.context} issued at tick ${r.issuedTick} on ${node} returned ${shown}, but ${r.key}=${w.value} ` +
            `(index ${w.index}) was acknowledged at tick ${w.tick}, before the read began`,
        );
      }
      if (sm.applied < r.requiredIndex) {
        this.checker.fail(
          'linearizable read',
          `read ${r.context} issued at tick ${r.issuedTick} on ${node} observed the state at index ${sm.applied} ` +
            `(readIndex ${r.readIndex}), but a write at index ${r.requiredIndex} was acknowledged before the read began`,
        );
      }
    }
    if (waiting.length === 0) this.released.delete(node);
    else this.released.set(node, waiting);
  }

  /** A crash loses the node's client sessions: their outcome is unknown, so they are not checked. */
  onCrash(node: NodeId): void {
    this.writes.delete(node);
    this.released.delete(node);
    for (const [ctx, r] of this.reads) if (r.node === node) this.reads.delete(ctx);
  }
}
