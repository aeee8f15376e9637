// A stand-in for the state machine's event history (src/kv/events.ts), driven by a test: entries
// applied with the changes they make, the window compacted, a snapshot jumping ahead.

import type { EventHistory, KvEvent } from '../../src/kv/events.js';

export type Change = readonly [type: 'put' | 'delete', key: string, value?: string];

export class FakeHistory implements EventHistory {
  firstCompleteIndex = 1;
  lastApplied = 0;
  private events: KvEvent[] = [];
  /** How many times eventsFrom was asked, and how many events it handed out. */
  reads = 0;
  handedOut = 0;

  /** Applies one entry's events (none: an entry that changed no key); returns its index. */
  apply(...changes: Change[]): number {
    const index = ++this.lastApplied;
    for (const [type, key, value] of changes) {
      const prev = [...this.events].reverse().find((e) => e.key === key);
      this.events.push({
        index,
        type,
        key,
        value: type === 'put' ? (value ?? `v${index}`) : null,
        prevValue: prev?.value ?? null,
      });
    }
    return index;
  }

  /** Drops every event before `index` (the window moved on). */
  compactTo(index: number): void {
    this.firstCompleteIndex = index;
    this.events = this.events.filter((e) => e.index >= index);
  }

  /** A snapshot installed: applied jumps to `index`, nothing before `index + 1` is kept. */
  jumpTo(index: number): void {
    this.lastApplied = index;
    this.compactTo(index + 1);
  }

  *eventsFrom(index: number): Iterable<KvEvent> {
    this.reads++;
    for (const e of this.events) {
      if (e.index < index) continue;
      this.handedOut++;
      yield e;
    }
  }
}
