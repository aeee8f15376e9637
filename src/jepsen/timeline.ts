// The fault timeline both nemeses write to: an entry opened, and logged, as a fault starts, and
// closed, and logged, as it ends — one place, so that every fault reaches the report the same way
// whichever schedule ran it.

import type { FaultKind, TimelineEntry } from './nemesis.js';

export class TimelineWriter {
  constructor(
    private readonly entries: TimelineEntry[],
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** What the log says when an entry is closed: `nemesis: ` and this. */
    private readonly ended: (e: TimelineEntry) => string,
  ) {}

  begin(kind: FaultKind, detail: string): TimelineEntry {
    const e: TimelineEntry = { kind, start: this.now(), end: Number.NaN, detail };
    this.entries.push(e);
    this.log(`nemesis: ${kind} ${detail}`);
    return e;
  }

  end(e: TimelineEntry): void {
    e.end = this.now();
    this.log(`nemesis: ${this.ended(e)}`);
  }
}
