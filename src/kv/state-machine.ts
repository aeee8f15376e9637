// The replicated key-value state machine. Deterministic and pure: its state is a function of the
// entries applied (and of the snapshot it was restored from), nothing else — no clock, no
// randomness, no I/O — so every node reaches the same state and the same results.

import type { Entry } from '../raft/types.js';
import { type Command, CommandDecodeError, decodeCommand } from './command.js';
import { DEFAULT_DEDUP_CONFIG, type DedupConfig, DedupTable } from './dedup.js';
import { OrderedStore, type ScanResult } from './ordered-store.js';
import type { ApplyResult, WriteResult } from './results.js';
import { decodeSnapshot, KvSnapshotView } from './snapshot.js';

export interface KvStateMachineOptions {
  /**
   * Idempotency rules. Part of the replicated semantics: every node must use the same values.
   * A restored state machine takes them from the snapshot.
   */
  readonly dedup?: Partial<DedupConfig>;
}

export class KvStateMachine {
  private applied = 0;
  private store = OrderedStore.empty();
  private dedup: DedupTable;

  /** An empty state machine (lastApplied 0). Throws RangeError for a bad dedup config. */
  constructor(options: KvStateMachineOptions = {}) {
    this.dedup = new DedupTable({ ...DEFAULT_DEDUP_CONFIG, ...options.dedup });
  }

  /** Rebuilds a state machine from snapshot bytes; throws SnapshotDecodeError if they are invalid. */
  static restore(bytes: Uint8Array): KvStateMachine {
    const decoded = decodeSnapshot(bytes);
    const sm = new KvStateMachine();
    sm.applied = decoded.lastApplied;
    sm.store = decoded.store;
    sm.dedup = decoded.dedup;
    return sm;
  }

  /** Index of the last entry applied (or covered by the snapshot restored from). */
  get lastApplied(): number {
    return this.applied;
  }

  /** Number of keys. */
  get size(): number {
    return this.store.size;
  }

  get dedupConfig(): DedupConfig {
    return this.dedup.config;
  }

  /** Number of idempotency records currently remembered. */
  get dedupSize(): number {
    return this.dedup.size;
  }

  /**
   * Applies the next committed entry. Entries must come in order without gaps
   * (index = lastApplied + 1); anything else is a driver bug and throws RangeError.
   * A retried idempotent write returns the first answer (same index, `replayed: true`), so the
   * result's index may be lower than `entry.index`.
   */
  apply(entry: Entry): ApplyResult {
    const index = entry.index;
    if (index !== this.applied + 1) {
      throw new RangeError(`entry ${index} applied out of order: lastApplied is ${this.applied}`);
    }
    // Checked before any state changes, so a driver bug leaves the state machine as it was.
    if (entry.type !== 'noop' && entry.type !== 'command') {
      throw new TypeError(`entry ${index} has unknown type ${String(entry.type)}`);
    }
    this.applied = index;
    this.dedup.expire(index);
    switch (entry.type) {
      case 'noop':
        return { kind: 'noop', index };
      case 'command':
        return this.applyCommand(entry.data, index);
    }
  }

  private applyCommand(data: Uint8Array, index: number): ApplyResult {
    let cmd: Command;
    try {
      cmd = decodeCommand(data);
    } catch (e) {
      // Only malformed bytes become a result; anything else is a bug and must surface.
      if (e instanceof CommandDecodeError) return { kind: 'invalid', index, error: e.message };
      throw e;
    }
    const idem = cmd.idempotencyKey;
    if (idem !== undefined) {
      const first = this.dedup.lookup(idem);
      if (first !== undefined) return { ...first, replayed: true };
    }
    const result = this.execute(cmd, index);
    if (idem !== undefined) this.dedup.record(idem, result);
    return result;
  }

  private execute(cmd: Command, index: number): WriteResult {
    const { key } = cmd;
    switch (cmd.op) {
      case 'put':
        this.store.set(key, cmd.value);
        return { kind: 'put', key, value: cmd.value, index, replayed: false };
      case 'cas': {
        const current = this.store.get(key) ?? null;
        if (current !== cmd.prevValue)
          return { kind: 'conflict', key, value: current, index, replayed: false };
        this.store.set(key, cmd.value);
        return { kind: 'put', key, value: cmd.value, index, replayed: false };
      }
      case 'delete':
        return { kind: 'delete', key, deleted: this.store.delete(key), index, replayed: false };
    }
  }

  /** The value of `key`, or null if absent. */
  get(key: string): string | null {
    return this.store.get(key) ?? null;
  }

  /**
   * Up to `limit` keys starting with `prefix` ('' for all), in key order (Unicode code point order,
   * the same as UTF-8 byte order), with their values. `more` says whether further keys match;
   * pass the last key returned as `startAfter` to fetch the next page.
   */
  list(prefix: string, limit: number, startAfter?: string): ScanResult {
    if (!Number.isSafeInteger(limit) || limit < 1) throw new RangeError(`limit must be a positive integer`);
    return this.store.scan(prefix, limit, startAfter);
  }

  /**
   * The remembered first answer for an idempotency key, without proposing anything. A leader may
   * answer a retry from here at once; a miss means "propose it" (the entry decides, as usual).
   */
  lookupIdempotent(idempotencyKey: string): WriteResult | null {
    const first = this.dedup.lookup(idempotencyKey);
    return first === undefined ? null : { ...first, replayed: true };
  }

  /**
   * A consistent view of the current state, taken in O(1) (copy-on-write clones). The state
   * machine keeps applying entries; the view stays at the current lastApplied. Serialise it with
   * `view.chunks()` (incrementally) or `view.toBytes()`.
   */
  snapshotView(): KvSnapshotView {
    return new KvSnapshotView(
      this.applied,
      this.store.clone(),
      this.dedup.config,
      this.dedup.snapshotRecords(),
    );
  }

  /** The whole snapshot at once: `snapshotView().toBytes()`. */
  snapshot(): Uint8Array {
    return this.snapshotView().toBytes();
  }
}
