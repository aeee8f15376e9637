// The node's whole log as the core sees it: durable entries (LogStorage) followed by the
// unstable tail, with the commit and applied indexes.

import { assert, present } from '../assert.js';
import { UnstableLog } from './log-unstable.js';
import { MembershipLog } from './membership-log.js';
import type { LogStorage } from './storage.js';
import type { Entry, Snapshot } from './types.js';

export class RaftLog {
  readonly storage: LogStorage;
  readonly unstable: UnstableLog;
  /** The membership in force: the latest configuration entry in this log, else the snapshot's (§4.1). */
  readonly membership: MembershipLog;
  private committed: number;
  /** Told whenever the configuration in force changes: an append (or a cut-off suffix), a snapshot. */
  private membershipChanged: () => void = () => {};
  private applied: number;

  constructor(storage: LogStorage, committed: number, applied: number) {
    this.storage = storage;
    this.unstable = new UnstableLog(storage.lastIndex() + 1);
    const snapIndex = storage.firstIndex() - 1;
    // A snapshot only holds committed state, so its index is committed even if the persisted
    // commit hint is older.
    this.committed = Math.max(committed, snapIndex);
    assert(
      this.committed <= this.lastIndex(),
      () => `commit ${this.committed} beyond last index ${this.lastIndex()}`,
    );
    this.applied = applied;
    assert(applied <= this.committed, () => `applied ${applied} beyond commit ${this.committed}`);
    // The state machine must have been restored from the snapshot before the core starts.
    assert(applied >= this.firstIndex() - 1, () => `applied ${applied} is behind the compacted log`);
    const base = storage.snapshot().meta;
    const after =
      base.index < storage.lastIndex()
        ? storage.entries(base.index + 1, storage.lastIndex() + 1, Infinity)
        : [];
    this.membership = new MembershipLog(base.index, base.term, base.membership, after);
  }
  /** Highest index known committed (Figure 3.1). Invariant: lastApplied ≤ commitIndex ≤ lastIndex(); never decreases. */
  get commitIndex(): number {
    return this.committed;
  }

  /** Calls `listener` whenever the configuration in force changes (§4.1: from its append on). */
  onMembershipChange(listener: () => void): void {
    this.membershipChanged = listener;
  }

  /** The configuration in force is committed: no membership change is in flight (§4.1). */
  membershipCommitted(): boolean {
    return this.membership.currentIndex() <= this.committed;
  }

  /** Highest index handed to the state machine (through Ready) and acknowledged by advance(). */
  get lastApplied(): number {
    return this.applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** Term of entry i, or null if it is compacted away or beyond the end. */
  term(i: number): number | null {
    if (i < this.firstIndex() - 1 || i > this.lastIndex()) return null;
    const t = this.unstable.maybeTerm(i);
    if (t !== null) return t;
    return this.storage.term(i);
  }

  lastTerm(): number {
    const t = this.term(this.lastIndex());
    assert(t !== null, 'term of the last entry is unknown');
    return t;
  }

  matchTerm(i: number, term: number): boolean {
    return this.term(i) === term;
  }

  /** §3.6.1: a candidate's log is at least as up-to-date as ours. */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** Index of the first entry that is new or conflicts with ours; 0 if all are already held. */
  private findConflict(entries: readonly Entry[]): number {
    for (const e of entries) {
      if (!this.matchTerm(e.index, e.term)) return e.index;
    }
    return 0;
  }

  /**
   * The largest index ≤ index whose term ≤ term: where a leader whose log has `term` at `index`
   * could next agree with us (fast backtracking, the optimisation at the end of §3.5). 0 when none is known.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    for (let i = Math.min(index, this.lastIndex()); i >= this.firstIndex() - 1; i--) {
      const t = this.term(i);
      if (t === null) break;
      if (t <= term) return { index: i, term: t };
    }
    return { index: 0, term: 0 };
  }

  /**
   * The leader's side of fast backtracking: where to probe a follower that rejected an
   * AppendEntries with this hint — after the last entry whose term ≤ the hint's term, so a whole
   * conflicting term is skipped per round trip (the end of §3.5, as refined in etcd-io/raft).
   */
  probeIndexFromHint(hintIndex: number, hintTerm: number): number {
    return hintTerm > 0 ? this.findConflictByTerm(hintIndex, hintTerm).index : hintIndex;
  }

  /**
   * §3.5 consistency check and append. Returns the index of the last entry now known to match the
   * leader, or null if our entry at prevIndex does not have prevTerm.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): number | null {
    if (!this.matchTerm(prevIndex, prevTerm)) return null;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, () => `entry ${conflict} conflicts with committed ${this.committed}`);
      this.append(entries.slice(conflict - (prevIndex + 1)));
    }
    this.commitTo(Math.min(leaderCommit, lastNew));
    return lastNew;
  }

  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const after = present(entries[0], 'the first new entry').index - 1;
    assert(
      after >= this.committed,
      () => `append after ${after} would overwrite committed ${this.committed}`,
    );
    this.unstable.truncateAndAppend(entries);
    const before = this.membership.current();
    this.membership.onAppend(entries);
    if (this.membership.current() !== before) this.membershipChanged();
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), () => `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index >= this.applied, () => `applied went back from ${this.applied} to ${index}`);
    this.applied = index;
  }

  /** Entries [lo, hi) with at least one entry and then up to maxBytes of data. */
  slice(lo: number, hi: number, maxBytes: number): Entry[] {
    if (lo >= hi) return [];
    assert(lo >= this.firstIndex(), () => `slice from ${lo} is compacted`);
    assert(hi <= this.lastIndex() + 1, () => `slice to ${hi} beyond ${this.lastIndex()}`);
    const out: Entry[] = [];
    const unstableFrom = this.unstable.offset;
    if (lo < unstableFrom) {
      const stored = this.storage.entries(lo, Math.min(hi, unstableFrom), maxBytes);
      for (const e of stored) out.push(e);
      if (stored.length < Math.min(hi, unstableFrom) - lo) return out;
    }
    if (hi > unstableFrom) {
      let bytes = 0;
      for (const e of out) bytes += e.data.byteLength;
      for (const e of this.unstable.slice(Math.max(lo, unstableFrom), hi)) {
        bytes += e.data.byteLength;
        if (out.length > 0 && bytes > maxBytes) break;
        out.push(e);
      }
    }
    return out;
  }

  /** Entries from index i on, or null when i is compacted (the follower needs a snapshot). */
  entriesFrom(i: number, maxBytes: number): Entry[] | null {
    if (i < this.firstIndex()) return null;
    return this.slice(i, this.lastIndex() + 1, maxBytes);
  }

  hasPendingSnapshot(): boolean {
    return this.unstable.snapshot !== null;
  }

  /** The committed entries not yet applied, bounded by bytes; `upTo` lets a mutation pass lastIndex. */
  nextCommittedEntries(maxBytes: number, upTo: number = this.committed): Entry[] {
    if (this.hasPendingSnapshot()) return [];
    assert(
      this.applied + 1 >= this.firstIndex(),
      () => `applied ${this.applied} is behind the compacted log`,
    );
    return this.slice(this.applied + 1, upTo + 1, maxBytes);
  }

  hasNextCommittedEntries(upTo: number = this.committed): boolean {
    return !this.hasPendingSnapshot() && upTo > this.applied;
  }

  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** Replaces the log with a snapshot from the leader (chapter 5). */
  restore(snap: Snapshot): void {
    this.committed = snap.meta.index;
    this.unstable.restore(snap);
    this.membership.onRestore(snap.meta.index, snap.meta.term, snap.meta.membership);
    this.membershipChanged();
  }

  /** Index of the last entry already in storage (the rest is unstable). */
  lastStableIndex(): number {
    return this.unstable.offset - 1;
  }
}
