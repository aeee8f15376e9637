// The tail of the log that the driver has not yet made durable, plus a snapshot received from the
// leader that is not yet persisted. Entries leave it (stableTo) only after the driver's advance().

import { assert, present } from '../assert.js';
import type { Entry, Snapshot } from './types.js';

export class UnstableLog {
  /** Index of entries[0]; every index below it is in storage (or covered by a snapshot). */
  offset: number;
  entries: Entry[] = [];
  snapshot: Snapshot | null = null;

  constructor(offset: number) {
    this.offset = offset;
  }

  /** First index if only a pending snapshot determines it. */
  maybeFirstIndex(): number | null {
    return this.snapshot ? this.snapshot.meta.index + 1 : null;
  }

  maybeLastIndex(): number | null {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot ? this.snapshot.meta.index : null;
  }

  maybeTerm(i: number): number | null {
    if (i < this.offset) {
      if (this.snapshot && this.snapshot.meta.index === i) return this.snapshot.meta.term;
      return null;
    }
    const last = this.maybeLastIndex();
    if (last === null || i > last) return null;
    return present(this.entries[i - this.offset], 'an unstable entry').term;
  }

  /** Entries up to (index, term) are durable: drop them if they are still the ones we hold. */
  stableTo(index: number, term: number): void {
    const t = this.maybeTerm(index);
    // A newer leader may have replaced them while the driver was persisting: keep those.
    if (t !== term || index < this.offset) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
  }

  stableSnapTo(index: number): void {
    if (this.snapshot && this.snapshot.meta.index === index) this.snapshot = null;
  }

  restore(snap: Snapshot): void {
    this.offset = snap.meta.index + 1;
    this.entries = [];
    this.snapshot = snap;
  }

  /** Appends, replacing everything from entries[0].index on. */
  truncateAndAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const after = present(entries[0], 'the first new entry').index;
    if (after === this.offset + this.entries.length) {
      for (const e of entries) this.entries.push(e);
    } else if (after <= this.offset) {
      // Replaces all unstable entries; the storage suffix from `after` is replaced when persisted.
      this.offset = after;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, after - this.offset);
      for (const e of entries) this.entries.push(e);
    }
  }

  slice(lo: number, hi: number): Entry[] {
    assert(
      lo >= this.offset && hi <= this.offset + this.entries.length,
      () => `unstable slice [${lo},${hi}) out of range`,
    );
    return this.entries.slice(lo - this.offset, hi - this.offset);
  }
}
