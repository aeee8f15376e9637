// The core's read-only view of the durable log, and an in-memory implementation of it.
//
// The core never writes here: the driver appends Ready.entries / installs Ready.snapshot after
// making them durable, so at any moment this view holds exactly what would survive a crash.
// Entries the core has but the view does not yet hold live in the core's unstable log.

import { assert, present } from '../assert.js';
import { withStoredData } from './snapshot-data.js';
import type { ClusterMembership, Entry, HardState, Snapshot } from './types.js';
import { emptyHardState } from './types.js';

export interface LogStorage {
  /** The persisted hard state to start from (the membership is the log's: snapshot, then entries). */
  initialState(): { hardState: HardState };
  /** Entries in [lo, hi), at least one, then more while their data fits in maxBytes. */
  entries(lo: number, hi: number, maxBytes: number): Entry[];
  /** Term of entry i, for firstIndex()-1 ≤ i ≤ lastIndex(); null if compacted or unknown. */
  term(i: number): number | null;
  /** Index of the first entry still held; entries before it are covered by snapshot(). */
  firstIndex(): number;
  lastIndex(): number;
  /**
   * The most recent snapshot (meta.index 0 when there is none). Its data may be a reference to
   * the node's snapshot file (StoredSnapshotData): the core never reads the bytes, it only puts
   * the snapshot in InstallSnapshot for the transport.
   */
  snapshot(): Snapshot;
}

/** Stores everything in arrays. The driver and the simulator keep the durable log here. */
export class MemoryLogStorage implements LogStorage {
  private hardState: HardState = emptyHardState;
  private snap: Snapshot;
  /** entries[0] is a dummy carrying the snapshot's index and term. */
  private log: Entry[];

  /** An empty log whose (bootstrap) membership is `membership`. */
  constructor(membership: ClusterMembership) {
    this.snap = { meta: { index: 0, term: 0, membership }, data: new Uint8Array(0) };
    this.log = [{ index: 0, term: 0, type: 'noop', data: new Uint8Array(0) }];
  }

  initialState(): { hardState: HardState } {
    return { hardState: this.hardState };
  }

  setHardState(hardState: HardState): void {
    this.hardState = hardState;
  }

  /** Index of the entry before the first held: the snapshot's (the log's dummy entry). */
  private offset(): number {
    return present(this.log[0], 'the log dummy entry').index;
  }

  firstIndex(): number {
    return this.offset() + 1;
  }

  lastIndex(): number {
    return this.offset() + this.log.length - 1;
  }

  term(i: number): number | null {
    const offset = this.offset();
    if (i < offset || i > this.lastIndex()) return null;
    return present(this.log[i - offset], 'a held entry').term;
  }

  entries(lo: number, hi: number, maxBytes: number): Entry[] {
    const offset = this.offset();
    assert(lo > offset, () => `entries(${lo}) compacted (first ${offset + 1})`);
    assert(hi <= this.lastIndex() + 1, () => `entries(${hi}) beyond last ${this.lastIndex()}`);
    const out: Entry[] = [];
    let bytes = 0;
    for (let i = lo; i < hi; i++) {
      const e = present(this.log[i - offset], 'a held entry');
      bytes += e.data.byteLength;
      if (out.length > 0 && bytes > maxBytes) break;
      out.push(e);
    }
    return out;
  }

  snapshot(): Snapshot {
    return this.snap;
  }

  /** Appends entries, replacing any stored suffix from entries[0].index on. */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const offset = this.offset();
    const first = present(entries[0], 'the first new entry').index;
    assert(first > offset, () => `append at ${first} overwrites the snapshot at ${offset}`);
    assert(first <= this.lastIndex() + 1, () => `append at ${first} leaves a gap after ${this.lastIndex()}`);
    this.log.length = first - offset;
    for (const e of entries) this.log.push(e);
  }

  /** Installs a snapshot received from the leader: the whole log is replaced by it. */
  applySnapshot(snap: Snapshot): void {
    const { index, term } = snap.meta;
    assert(index > this.snap.meta.index, () => `snapshot ${index} older than held ${this.snap.meta.index}`);
    this.snap = snap;
    // Keep entries after the snapshot if the log agrees with it there (§5.1: InstallSnapshot keeps the entries that follow a matching last entry).
    if (this.term(index) === term) {
      this.log = this.log.slice(index - this.offset());
      this.log[0] = { index, term, type: 'noop', data: new Uint8Array(0) };
    } else {
      this.log = [{ index, term, type: 'noop', data: new Uint8Array(0) }];
    }
  }

  /**
   * Records a snapshot the local state machine took at `snap.meta.index` (≤ lastIndex) and drops
   * the log before it. The caller decides how many entries to keep for slow followers by
   * passing a smaller compactIndex.
   */
  createSnapshot(snap: Snapshot, compactIndex: number = snap.meta.index): void {
    const { index, term } = snap.meta;
    assert(index > this.snap.meta.index, () => `snapshot ${index} not newer than ${this.snap.meta.index}`);
    assert(index <= this.lastIndex(), () => `snapshot ${index} beyond last index ${this.lastIndex()}`);
    assert(this.term(index) === term, () => `snapshot term ${term} disagrees with log at ${index}`);
    this.snap = snap;
    this.compact(Math.min(compactIndex, index));
  }

  /**
   * The node keeps the held snapshot's data in its snapshot file: from now on only a reference
   * to it (its size) is held here, and the transport streams the bytes from the file.
   */
  storeSnapshotData(): void {
    this.snap = withStoredData(this.snap);
  }

  /** Drops entries up to and including `index` (which must be held). */
  compact(index: number): void {
    const offset = this.offset();
    if (index <= offset) return;
    assert(index <= this.lastIndex(), () => `compact ${index} beyond last ${this.lastIndex()}`);
    const term = present(this.term(index) ?? undefined, 'the term of the compaction point');
    this.log = this.log.slice(index - offset);
    this.log[0] = { index, term, type: 'noop', data: new Uint8Array(0) };
  }
}
