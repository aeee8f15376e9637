// The changes a committed entry makes to keys, as watchers see them (GET /watch). Every replica
// derives the same events from the same entries: they are part of the replicated state, kept
// in a bounded history window (history.ts) that snapshots carry, so a watcher can resume from
// an index on any node, after leader changes and restarts.

/** One key changed by the entry at `index`. A transaction or a lease's end makes several at one index. */
export interface KvEvent {
  readonly index: number;
  readonly type: 'put' | 'delete';
  readonly key: string;
  /** The new value (null for a delete). */
  readonly value: string | null;
  /** The value before this change (null: the key was absent). */
  readonly prevValue: string | null;
}

/** Where watchers read committed events from: the state machine's history window. */
export interface EventHistory {
  /**
   * Events at every index ≥ this one are all kept (up to lastApplied): a watch from an index
   * below it would miss some, and is answered `compacted` instead.
   */
  readonly firstCompleteIndex: number;
  /** The last index applied: events up to it are known. */
  readonly lastApplied: number;
  /** Kept events with index ≥ `index`, in log order (several may share an index). */
  eventsFrom(index: number): Iterable<KvEvent>;
}
