// The watchers of one node (GET /watch, docs/api.md#watch): each is told the committed changes to
// its key or prefix, in log order, none missed and none repeated — read from the state machine's
// event history (src/kv/events.ts), never from anything not yet applied here.
//
// A new watcher first catches up: it reads the history from the index it asked for up to what the
// hub has dispatched, paced by its socket (it waits for 'drain' when the client's buffer is full,
// so a long replay never piles up in memory), then joins the live watchers. The driver calls
// dispatch() after every batch of applied entries and after installing a snapshot; dispatch reads
// the events after the last index it dispatched and routes each to the live watchers of its key
// (one Map lookup) and of its prefixes (one lookup per distinct prefix length in use), so an event
// costs nothing for the watchers it does not concern. A live watcher's client that falls more
// than maxBufferedBytes behind is ended with `dropped` (it resumes from where it was) rather than
// let its buffer grow. Where the history no longer holds what a watcher needs next — a snapshot
// from the leader jumped over it, or the window moved on — the watcher is ended with `compacted`:
// never a silent gap.
//
// Idle watchers cost one small object each: one shared timer sends every watcher a keepalive,
// carrying the index it has been told everything up to, so a client that resumes after a quiet
// spell does not resume from an index the history has dropped meanwhile.

import { ShuttingDownError } from '../api/errors.js';
import type { WatchReading } from '../api/metrics.js';
import type { WatchEnd, WatchEvent, WatchHandle, WatchSink, WatchSpec } from '../api/service.js';
import type { EventHistory, KvEvent } from '../kv/events.js';
import type { NodeClock } from './clock.js';

export interface WatchLimits {
  /** Every open watcher gets a keepalive this often (one timer for all). */
  readonly keepaliveMs: number;
  /** A live watcher whose client leaves more than this many bytes unread is ended with `dropped`. */
  readonly maxBufferedBytes: number;
  /**
   * All watchers' unread bytes together: past this, a lagging watcher (over a quarter of
   * maxBufferedBytes behind) is ended with `dropped` too, so many slow clients cannot add up to
   * more memory than this.
   */
  readonly maxTotalBufferedBytes: number;
}

export const defaultWatchLimits: WatchLimits = {
  keepaliveMs: 15_000,
  maxBufferedBytes: 4 * 1024 * 1024,
  maxTotalBufferedBytes: 256 * 1024 * 1024,
};

interface Watcher {
  /** The watched key, or null for a prefix watcher. */
  readonly key: string | null;
  /** The watched prefix, or null for a key watcher. */
  readonly prefix: string | null;
  readonly sink: WatchSink;
  /**
   * Every matching event at or below this index has been written (or was not asked for). A live
   * watcher is further up to date with everything dispatched: see positionOf.
   */
  position: number;
  /** The last index the client was given as an SSE id (an event's, or a keepalive's progress). */
  told: number;
  state: 'catchingUp' | 'live' | 'ended';
}

/** The events of one log index. */
interface IndexGroup {
  readonly index: number;
  readonly events: readonly KvEvent[];
}

/** The history's events from `from` to `until` (inclusive), one index at a time. */
function* groupsOf(history: EventHistory, from: number, until: number): Generator<IndexGroup> {
  let index = -1;
  let events: KvEvent[] = [];
  for (const e of history.eventsFrom(from)) {
    if (e.index > until) break;
    if (e.index !== index) {
      if (events.length > 0) yield { index, events };
      index = e.index;
      events = [];
    }
    events.push(e);
  }
  if (events.length > 0) yield { index, events };
}

function matches(w: Watcher, key: string): boolean {
  return w.key !== null ? w.key === key : key.startsWith(w.prefix ?? '');
}

/**
 * Prefix watchers by prefix, with the distinct prefix lengths in use: the watchers of a key are
 * found with one lookup of the key's own prefix per length, however many watchers are open.
 */
class PrefixIndex {
  private readonly byPrefix = new Map<string, Set<Watcher>>();
  /** Length → how many distinct prefixes of that length are in the map. */
  private readonly lengthCounts = new Map<number, number>();
  /** The keys of lengthCounts, ascending. */
  private lengths: number[] = [];

  add(prefix: string, w: Watcher): void {
    let set = this.byPrefix.get(prefix);
    if (set === undefined) {
      set = new Set();
      this.byPrefix.set(prefix, set);
      const n = this.lengthCounts.get(prefix.length) ?? 0;
      this.lengthCounts.set(prefix.length, n + 1);
      if (n === 0) this.lengths = [...this.lengthCounts.keys()].sort((a, b) => a - b);
    }
    set.add(w);
  }

  remove(prefix: string, w: Watcher): void {
    const set = this.byPrefix.get(prefix);
    if (set === undefined || !set.delete(w) || set.size > 0) return;
    this.byPrefix.delete(prefix);
    const n = (this.lengthCounts.get(prefix.length) ?? 1) - 1;
    if (n > 0) {
      this.lengthCounts.set(prefix.length, n);
      return;
    }
    this.lengthCounts.delete(prefix.length);
    this.lengths = this.lengths.filter((l) => l !== prefix.length);
  }

  /** Calls `fn` for every watcher whose prefix `key` starts with. */
  forEachMatching(key: string, fn: (w: Watcher) => void): void {
    for (const length of this.lengths) {
      if (length > key.length) return;
      const set = this.byPrefix.get(length === key.length ? key : key.slice(0, length));
      if (set !== undefined) for (const w of set) fn(w);
    }
  }
}

export class WatchHub {
  private readonly limits: WatchLimits;
  /** Every open watcher, catching up or live: what the keepalive timer visits. */
  private readonly watchers = new Set<Watcher>();
  /** Live key watchers by key. */
  private readonly byKey = new Map<string, Set<Watcher>>();
  private readonly byPrefix = new PrefixIndex();
  /** Every event up to this index has been routed to the live watchers. */
  private dispatched: number;
  private stopKeepalive: (() => void) | null = null;
  private closed = false;
  private sent = 0;
  private droppedCount = 0;
  private compactedCount = 0;

  constructor(
    /** Read each time: the driver replaces its state machine when it installs a snapshot. */
    private readonly history: () => EventHistory,
    private readonly clock: NodeClock,
    limits: Partial<WatchLimits> = {},
  ) {
    this.limits = { ...defaultWatchLimits, ...limits };
    this.dispatched = history().lastApplied;
  }

  get watchersOpen(): number {
    return this.watchers.size;
  }

  get eventsSent(): number {
    return this.sent;
  }

  get watchersDropped(): number {
    return this.droppedCount;
  }

  get watchesCompacted(): number {
    return this.compactedCount;
  }

  /** For the metrics and GET /debug. */
  counts(): WatchReading {
    return {
      open: this.watchers.size,
      eventsSent: this.sent,
      dropped: this.droppedCount,
      compacted: this.compactedCount,
    };
  }

  /**
   * Opens a watch from `spec.from` (default: the next index to be applied). Answers `compacted`
   * at once (through the sink) when the history no longer holds every event from there on.
   */
  open(spec: WatchSpec, sink: WatchSink): WatchHandle {
    if (this.closed) throw new ShuttingDownError('the node is shutting down');
    // With no watcher open the driver does not dispatch: bring `dispatched` up to what is applied.
    if (this.watchers.size === 0) this.dispatch();
    const h = this.history();
    // Index 0 holds no entry: from 0 and from 1 ask for the same thing.
    const from = Math.max(1, spec.from ?? h.lastApplied + 1);
    if (from < h.firstCompleteIndex) {
      this.compactedCount++;
      sink.end({ kind: 'compacted', oldestIndex: h.firstCompleteIndex });
      return { close: () => {} };
    }
    const w: Watcher = {
      key: spec.key ?? null,
      prefix: spec.key === undefined ? (spec.prefix ?? '') : null,
      sink,
      position: from - 1,
      told: from - 1,
      state: 'catchingUp',
    };
    this.watchers.add(w);
    this.keepTimer();
    sink.start(from);
    this.catchUp(w);
    return { close: () => this.forget(w) };
  }

  /**
   * Routes the events applied since the last call to the live watchers: called by the driver after
   * every batch of applied entries and after installing a snapshot.
   */
  dispatch(): void {
    const h = this.history();
    const last = h.lastApplied;
    if (last <= this.dispatched) return;
    if (this.watchers.size === 0) {
      // Nobody to route to; a watcher opened later replays what it asks for from the history.
      this.dispatched = last;
      return;
    }
    let from = this.dispatched + 1;
    if (from < h.firstCompleteIndex) {
      // The history skipped [from, firstCompleteIndex): whoever needed those events cannot have them.
      for (const w of this.watchers) {
        if (w.state === 'live' && this.positionOf(w) + 1 < h.firstCompleteIndex) {
          this.end(w, { kind: 'compacted', oldestIndex: h.firstCompleteIndex });
        }
      }
      from = h.firstCompleteIndex;
    }
    const batches = new Map<Watcher, WatchEvent[]>();
    for (const group of groupsOf(h, from, last)) {
      // The history's own event objects, not copies: every watcher of a change gets the same
      // object, so the server encodes it once for all of them (watch-stream.ts).
      for (const e of group.events) {
        const route = (w: Watcher): void => {
          // A watcher asked from a later index skips what comes before it.
          if (w.position >= e.index) return;
          let batch = batches.get(w);
          if (batch === undefined) {
            batch = [];
            batches.set(w, batch);
          }
          batch.push(e);
        };
        const exact = this.byKey.get(e.key);
        if (exact !== undefined) for (const w of exact) route(w);
        this.byPrefix.forEachMatching(e.key, route);
      }
      for (const [w, batch] of batches) this.deliver(w, group.index, batch);
      batches.clear();
    }
    this.dispatched = last;
    // Catching-up watchers read up to `dispatched`: those waiting on their client go on at 'drain'.
  }

  private totalBuffered(): number {
    let total = 0;
    for (const w of this.watchers) total += w.sink.buffered();
    return total;
  }

  /** Ends every watch (the node is stopping) and refuses new ones. */
  close(): void {
    this.closed = true;
    for (const w of this.watchers) this.end(w, { kind: 'closed' });
    this.stopTimer();
  }

  /** A live watcher gets one index's events — unless its client has fallen too far behind. */
  private deliver(w: Watcher, index: number, batch: readonly WatchEvent[]): void {
    if (w.state !== 'live') return;
    const buffered = w.sink.buffered();
    if (
      buffered > this.limits.maxBufferedBytes ||
      // Only a lagging watcher pays for adding up everyone's buffers.
      (buffered > this.limits.maxBufferedBytes / 4 &&
        this.totalBuffered() > this.limits.maxTotalBufferedBytes)
    ) {
      // Everything before `index` that matched was written; the client resumes from `index`.
      this.droppedCount++;
      this.end(w, { kind: 'dropped', lastIndex: index - 1 });
      return;
    }
    w.sink.events(batch);
    this.sent += batch.length;
    w.position = index;
    w.told = index;
  }

  /**
   * Replays the history to a new watcher (or one its client has drained) up to what has been
   * dispatched, stopping whenever the client's buffer is full; then makes it live.
   */
  private catchUp(w: Watcher): void {
    if (w.state !== 'catchingUp') return;
    const h = this.history();
    const until = this.dispatched;
    if (w.position < until) {
      if (w.position + 1 < h.firstCompleteIndex) {
        this.end(w, { kind: 'compacted', oldestIndex: h.firstCompleteIndex });
        return;
      }
      for (const group of groupsOf(h, w.position + 1, until)) {
        const batch = group.events.filter((e) => matches(w, e.key));
        if (batch.length === 0) continue;
        const more = w.sink.events(batch);
        this.sent += batch.length;
        w.position = group.index;
        w.told = group.index;
        if (!more) {
          w.sink.onDrain(() => this.catchUp(w));
          return;
        }
      }
      w.position = until;
    }
    w.state = 'live';
    if (w.key !== null) {
      let set = this.byKey.get(w.key);
      if (set === undefined) {
        set = new Set();
        this.byKey.set(w.key, set);
      }
      set.add(w);
    } else {
      this.byPrefix.add(w.prefix ?? '', w);
    }
  }

  /** The index a watcher has been told everything up to. */
  private positionOf(w: Watcher): number {
    return w.state === 'live' ? Math.max(w.position, this.dispatched) : w.position;
  }

  private keepalive(): void {
    for (const w of this.watchers) {
      const at = this.positionOf(w);
      const progress = at > w.told ? at : null;
      if (progress !== null) w.told = progress;
      w.sink.keepalive(progress);
    }
  }

  private end(w: Watcher, how: WatchEnd): void {
    if (w.state === 'ended') return;
    if (how.kind === 'compacted') this.compactedCount++;
    this.forget(w);
    w.sink.end(how);
  }

  /** Removes a watcher from every structure (its client went away, or the hub ended it). */
  private forget(w: Watcher): void {
    if (w.state === 'ended') return;
    if (w.state === 'live') {
      if (w.key !== null) {
        const set = this.byKey.get(w.key);
        set?.delete(w);
        if (set?.size === 0) this.byKey.delete(w.key);
      } else {
        this.byPrefix.remove(w.prefix ?? '', w);
      }
    }
    w.state = 'ended';
    this.watchers.delete(w);
    if (this.watchers.size === 0) this.stopTimer();
  }

  /** The shared keepalive timer runs while any watcher is open. */
  private keepTimer(): void {
    this.stopKeepalive ??= this.clock.every(this.limits.keepaliveMs, () => this.keepalive());
  }

  private stopTimer(): void {
    this.stopKeepalive?.();
    this.stopKeepalive = null;
  }
}
