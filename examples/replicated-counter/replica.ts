// One replica of the counter: the Raft core, its durable log (the project's WAL), the counter —
// and THE ORDER in which a Ready is carried out (see `Ready` in raftkv/raft). It owns no timer
// and no socket: the node (node.ts) runs it on a real disk, TCP and a timer; the simulation
// (simulate.ts) on a simulated disk, an in-memory network and a loop of ticks. Both run this code.

import {
  defaultRaftConfig,
  type HeldSnapshot,
  heldSnapshot,
  initialMembership,
  MemoryLogStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  type Random,
  RawNode,
  type ReadFailure,
  type ReadState,
  type SoftState,
} from 'raftkv/raft';
import { type Disk, openStorage, type Storage } from 'raftkv/storage';
import { Counter } from './counter.js';

export interface ReplicaOptions {
  readonly id: NodeId;
  /** The bootstrap voters: ids, or ids with the addresses the membership should carry. */
  readonly members: readonly NodeId[] | Readonly<Record<NodeId, string>>;
  /** Written into the data dir: a replica refuses a dir of another cluster or node. */
  readonly clusterId: string;
  readonly disk: Disk;
  readonly dir: string;
  /** The core draws its election timeouts from it: crypto in production, seeded in tests. */
  readonly random: Random;
  readonly raft?: Partial<Omit<RaftConfig, 'id' | 'lastApplied'>>;
  /** Take a snapshot every this many applied entries; 0: never. */
  readonly snapshotEvery?: number;
  /** Entries kept behind a snapshot, so a follower a little behind gets entries, not the snapshot. */
  readonly snapshotKeep?: number;
}

/** What one Ready did that the replica's owner answers callers with. */
export interface ReadyOutcome {
  readonly softState: SoftState | null;
  /** Each committed entry applied, with the counter's value right after it. */
  readonly applied: readonly { readonly index: number; readonly term: number; readonly value: number }[];
  /** Linearizable reads released: serve each once `counter.lastApplied ≥ readIndex`. */
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
}

export class Replica {
  /** Snapshots this replica took of its counter, and received from a leader. */
  readonly snapshots = { taken: 0, installed: 0 };

  private constructor(
    readonly raw: RawNode,
    /** The core's read-only view of the durable log: it holds only what is on disk. */
    private readonly log: MemoryLogStorage,
    private readonly storage: Storage,
    private counterState: Counter,
    private readonly snapshotEvery: number,
    private readonly snapshotKeep: number,
  ) {}

  /**
   * Opens the data dir (bootstrapping it if new) and rebuilds the replica from what it holds: the
   * newest snapshot, the WAL's entries after it and the hard state, in that order. The counter
   * restarts from the snapshot; the core hands the committed entries after it to apply again.
   */
  static async open(o: ReplicaOptions): Promise<Replica> {
    const storage = await openStorage(o.disk, o.dir, { clusterId: o.clusterId, nodeId: o.id });
    const { snapshot, entries, hardState } = storage.state;
    const log = new MemoryLogStorage(initialMembership(o.members));
    let counter = Counter.empty();
    if (snapshot !== null) {
      log.applySnapshot(snapshot);
      counter = Counter.restore(snapshot.data);
    }
    log.append(entries);
    log.setHardState(hardState);
    const config = { ...defaultRaftConfig, ...o.raft, id: o.id, lastApplied: counter.lastApplied };
    const raw = new RawNode(config, log, o.random);
    return new Replica(raw, log, storage, counter, o.snapshotEvery ?? 1000, o.snapshotKeep ?? 100);
  }

  get counter(): Counter {
    return this.counterState;
  }

  /** Takes the next Ready and carries it out in THE ORDER; call while `raw.hasReady()`. */
  async handleReady(send: (m: Message) => void): Promise<ReadyOutcome> {
    const ready = this.raw.ready();
    // 1. Messages that promise nothing about our disk: the leader's AppendEntries leave while
    //    its own write runs; the core counts the leader's copy only after advance().
    for (const m of ready.messages) send(m);
    // 2. A snapshot from the leader: its file durably first (its WAL marker goes with the sync
    //    below), then the log and the counter continue from it.
    if (ready.snapshot !== null) {
      // A snapshot received from the leader always holds its bytes.
      const snap = heldSnapshot(ready.snapshot);
      await this.storage.saveSnapshot(snap);
      this.log.applySnapshot(snap);
      this.counterState = Counter.restore(snap.data);
      this.snapshots.installed++;
    }
    // 3. Entries and hard state into the WAL, one fsync for all of it (group commit); only then
    //    into the core's view, which must never hold what a crash could take back.
    this.storage.save(ready.entries, ready.hardState);
    if (ready.mustSync) await this.storage.sync();
    this.log.append(ready.entries);
    if (ready.hardState !== null) this.log.setHardState(ready.hardState);
    // 4. Votes and acknowledgements: promises about what is now on disk.
    for (const m of ready.messagesAfterPersist) send(m);
    // 5. Apply what is committed, in order.
    const applied = ready.committedEntries.map((e) => ({
      index: e.index,
      term: e.term,
      value: this.counterState.apply(e),
    }));
    // 6. Tell the core it is all done: it now counts our entries durable and applied.
    this.raw.advance(ready);
    await this.maybeSnapshot();
    return {
      softState: ready.softState,
      applied,
      readStates: ready.readStates,
      readFailures: ready.readFailures,
    };
  }

  /**
   * Every `snapshotEvery` applied entries, a snapshot of the counter at its applied index, so the
   * WAL can drop what it covers and a follower too far behind can be sent it. Between two Readies
   * (no Ready is outstanding), so the core's view changes only under the driver's hand.
   */
  private async maybeSnapshot(): Promise<void> {
    const index = this.counterState.lastApplied;
    if (this.snapshotEvery === 0 || index - this.log.snapshot().meta.index < this.snapshotEvery) return;
    const term = this.log.term(index);
    if (term === null) return;
    // It records the membership in force at its index: a replica restarted from it decides with it.
    const snap: HeldSnapshot = {
      meta: { index, term, membership: this.raw.membershipAt(index) },
      data: this.counterState.snapshot(),
    };
    await this.storage.saveSnapshot(snap); // the file, durably; its WAL marker is buffered
    await this.storage.sync(); // the marker: from now on a restart may start from this snapshot
    this.log.createSnapshot(snap, Math.max(0, index - this.snapshotKeep));
    this.snapshots.taken++;
    await this.storage.compact(); // older snapshot files and the WAL segments they alone needed
  }

  /** Closes the WAL. Whatever was not synced is lost — exactly what the core was never told was durable. */
  close(): Promise<void> {
    return this.storage.close();
  }
}
