// The shape of the log the WAL holds — where it starts and the term of every index — without the
// entries' data. Both the writer (to validate appends and to stamp new segments) and the replay
// (to rebuild the log) apply records through it, so the two agree on the rules:
//  - an entry at index i replaces any entries from i on (how a follower's conflicting suffix is
//    truncated: the later record supersedes, nothing is rewritten in place);
//  - a snapshot marker that agrees with the log (same term at its index) leaves the log alone;
//    one that disagrees or lies beyond it discards the whole log, which restarts after it
//    (the same rule as MemoryLogStorage.applySnapshot).

import type { LogPosition } from './wal-record.js';

interface TermRun {
  /** First index of a run of entries sharing `term`; the run ends where the next starts. */
  readonly start: number;
  readonly term: number;
}

export class LogShape {
  private baseIndex: number;
  private baseTerm: number;
  private last: number;
  private runs: TermRun[] = [];

  constructor(base: LogPosition) {
    this.baseIndex = base.index;
    this.baseTerm = base.term;
    this.last = base.index;
  }

  /** The position just before the first entry held. */
  get base(): LogPosition {
    return { index: this.baseIndex, term: this.baseTerm };
  }

  get lastIndex(): number {
    return this.last;
  }

  get lastTerm(): number {
    return this.termAt(this.last)!;
  }

  /** Term at index i for base ≤ i ≤ last, else null. */
  termAt(i: number): number | null {
    if (i === this.baseIndex) return this.baseTerm;
    if (i < this.baseIndex || i > this.last) return null;
    let lo = 0;
    let hi = this.runs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.runs[mid]!.start <= i) lo = mid;
      else hi = mid - 1;
    }
    return this.runs[lo]!.term;
  }

  /** Why an entry at `index` cannot be appended, or null if it can. */
  appendProblem(index: number): string | null {
    if (!Number.isSafeInteger(index) || index <= this.baseIndex) {
      return `entry ${index} is at or before the start of the log (${this.baseIndex})`;
    }
    if (index > this.last + 1) return `entry ${index} leaves a gap after last index ${this.last}`;
    return null;
  }

  /** Appends (or, for index ≤ last, replaces the suffix from) one entry. Check appendProblem first. */
  append(index: number, term: number): void {
    if (index <= this.last) {
      while (this.runs.length > 0 && this.runs[this.runs.length - 1]!.start >= index) this.runs.pop();
    }
    const tail = this.runs[this.runs.length - 1];
    if (tail === undefined || tail.term !== term) this.runs.push({ start: index, term });
    this.last = index;
  }

  /** Applies a snapshot marker; returns true when it discarded the log. */
  applySnapshot(p: LogPosition): boolean {
    // Older than the start: a marker carried over into a newer segment, already applied.
    if (p.index < this.baseIndex) return false;
    if (this.termAt(p.index) === p.term) return false;
    this.baseIndex = p.index;
    this.baseTerm = p.term;
    this.last = p.index;
    this.runs = [];
    return true;
  }
}
