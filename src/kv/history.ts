// The history window: the latest committed events (events.ts), kept by every replica alike so a
// watcher can resume from an index on any node. Bounded deterministically — at most `maxEvents`
// events and about `maxBytes` of them, the oldest index dropped first — and carried by snapshots,
// so a node restarted or restored from a snapshot keeps the window (and every node drops the same
// events at the same entry).
//
// Stored as an array used as a queue (a head offset, compacted now and then): recording an event
// is an array push on the write path, and reading from an index is a binary search.

import type { EventHistory, KvEvent } from './events.js';

export interface HistoryConfig {
  /** Most events kept. */
  readonly maxEvents: number;
  /** Approximate memory the events may hold (see eventCharge). */
  readonly maxBytes: number;
}

export const DEFAULT_HISTORY_CONFIG: HistoryConfig = {
  maxEvents: 100_000,
  maxBytes: 32 * 1024 * 1024,
};

export function validateHistoryConfig(config: HistoryConfig): void {
  for (const [name, v] of Object.entries(config)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`history ${name} must be a positive integer`);
  }
}

/** Approximate bytes an event holds: UTF-16 strings (2 bytes a unit) plus object overhead. */
export function eventCharge(e: KvEvent): number {
  return 64 + 2 * (e.key.length + (e.value?.length ?? 0) + (e.prevValue?.length ?? 0));
}

/** A frozen copy of the window for a snapshot. */
export interface HistorySnapshot {
  readonly config: HistoryConfig;
  readonly firstCompleteIndex: number;
  readonly events: readonly KvEvent[];
}

export class HistoryWindow {
  private events: KvEvent[] = [];
  private head = 0;
  private bytes = 0;

  /**
   * @param firstComplete events at every index ≥ this are kept: 1 for a fresh state machine,
   * lastApplied + 1 after restoring a snapshot that had no history.
   */
  constructor(
    readonly config: HistoryConfig,
    private firstComplete: number,
  ) {
    validateHistoryConfig(config);
  }

  /**
   * Rebuilds a window from a snapshot's events (index order). Throws RangeError on events no
   * window could have held: out of order, older than firstComplete, or past the bounds.
   */
  static fromEvents(config: HistoryConfig, firstComplete: number, events: readonly KvEvent[]): HistoryWindow {
    const w = new HistoryWindow(config, firstComplete);
    let last = 0;
    for (const e of events) {
      if (e.index < last) throw new RangeError('history events not in index order');
      if (e.index < firstComplete) throw new RangeError('history event older than the window start');
      last = e.index;
      w.events.push(e);
      w.bytes += eventCharge(e);
    }
    if (w.events.length > config.maxEvents || w.bytes > config.maxBytes) {
      throw new RangeError('history events exceed the configured bounds');
    }
    return w;
  }

  get firstCompleteIndex(): number {
    return this.firstComplete;
  }

  /** Events kept. */
  get size(): number {
    return this.events.length - this.head;
  }

  get chargedBytes(): number {
    return this.bytes;
  }

  /** Adds an event (indexes never decrease), then drops the oldest indexes past the bounds. */
  record(e: KvEvent): void {
    this.events.push(e);
    this.bytes += eventCharge(e);
    if (this.size > this.config.maxEvents || this.bytes > this.config.maxBytes) this.trim(e.index);
  }

  /** Kept events with index ≥ `index`, in log order. */
  *eventsFrom(index: number): Generator<KvEvent> {
    const events = this.events;
    let lo = this.head;
    let hi = events.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (events[mid]!.index < index) lo = mid + 1;
      else hi = mid;
    }
    // A reader may pause between events while entries are applied and the array compacted:
    // it reads a copy of what was there when it began.
    yield* events.slice(lo);
  }

  snapshot(): HistorySnapshot {
    return {
      config: this.config,
      firstCompleteIndex: this.firstComplete,
      events: this.events.slice(this.head),
    };
  }

  /**
   * Drops whole indexes, oldest first, until the window is within its bounds — never the index
   * just recorded, which would leave a watcher at it nothing to resume from; so the window may
   * pass its bounds by one entry's events (a transaction's or a lease's end).
   */
  private trim(newest: number): void {
    const events = this.events;
    while (this.size > 0 && (this.size > this.config.maxEvents || this.bytes > this.config.maxBytes)) {
      const oldest = events[this.head]!.index;
      if (oldest === newest) break;
      while (this.head < events.length && events[this.head]!.index === oldest) {
        this.bytes -= eventCharge(events[this.head]!);
        this.head++;
      }
      this.firstComplete = oldest + 1;
    }
    if (this.head > 1024 && this.head * 2 > events.length) {
      this.events = events.slice(this.head);
      this.head = 0;
    }
  }
}

/** The window read as watchers read it, at the state machine's lastApplied. */
export function historyView(window: HistoryWindow, lastApplied: () => number): EventHistory {
  return {
    get firstCompleteIndex() {
      return window.firstCompleteIndex;
    },
    get lastApplied() {
      return lastApplied();
    },
    eventsFrom: (index) => window.eventsFrom(index),
  };
}
