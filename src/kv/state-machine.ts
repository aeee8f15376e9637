// The replicated key-value state machine. Deterministic and pure: its state is a function of the
// entries applied (and of the snapshot it was restored from), nothing else — no clock, no
// randomness, no I/O — so every node reaches the same state and the same results.

//
// Space (docs/space.md): the state machine keeps the size of its state — every pair at
// pairCharge() — and two replicated rules: a quota, and the set of nodes whose no-space alarm is
// raised. Idempotency records do not count toward the quota: they are bounded on their own
// (dedup.ts), and a client cannot delete them — were they counted, deletes carrying an
// Idempotency-Key would add to a full state and could jam it for good. A write that would grow
// the pairs is refused (`no_space`) if the state would pass the quota, or while any alarm is
// raised; deletes and writes that do not grow always apply. Both rules change only through log
// entries (quota and alarm commands), so every replica refuses exactly the same writes.

import { CodecError } from '../codec/index.js';
import type { Entry } from '../raft/types.js';
import { type Command, decodeCommand, type SpaceCommand, type WriteCommand } from './command.js';
import { DEFAULT_DEDUP_CONFIG, type DedupConfig, DedupTable } from './dedup.js';
import { KeyRecord, type KeyValue, keyValueOf, OrderedStore, type ScanResult } from './ordered-store.js';
import type { ApplyResult, NoSpaceResult, SpaceRefusal, SpaceResult, WriteResult } from './results.js';
import { decodeSnapshot, KvSnapshotView } from './snapshot.js';
import { pairCharge } from './space.js';

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
  /** Sum of pairCharge() over every pair. */
  private pairBytes = 0;
  /** Growing writes may not take the state past this; null: no quota. */
  private quota: number | null = null;
  /** Nodes whose no-space alarm is raised, in id order. */
  private alarms: string[] = [];

  /** An empty state machine (lastApplied 0). Throws RangeError for a bad dedup config. */
  constructor(options: KvStateMachineOptions = {}) {
    this.dedup = new DedupTable({ ...DEFAULT_DEDUP_CONFIG, ...options.dedup });
  }

  /** Rebuilds a state machine from snapshot bytes; throws CodecError if they are invalid. */
  static restore(bytes: Uint8Array): KvStateMachine {
    const decoded = decodeSnapshot(bytes);
    const sm = new KvStateMachine();
    sm.applied = decoded.lastApplied;
    sm.store = decoded.store;
    sm.dedup = decoded.dedup;
    sm.pairBytes = decoded.pairBytes;
    sm.quota = decoded.quotaBytes;
    sm.alarms = [...decoded.alarms];
    return sm;
  }

  /** The state's size as the quota counts it: every key and value (pairCharge). */
  get stateBytes(): number {
    return this.pairBytes;
  }

  /** What the idempotency records hold, bounded by their own rules (dedup.ts), not the quota. */
  get idempotencyBytes(): number {
    return this.dedup.chargedBytes;
  }

  /** The replicated quota in force (null: none). */
  get quotaBytes(): number | null {
    return this.quota;
  }

  /** Nodes whose no-space alarm is raised, in id order. */
  get noSpaceAlarms(): readonly string[] {
    return this.alarms;
  }

  /**
   * The refusal a write of `key` = `value` would meet now, or null — for a leader answering at
   * once instead of proposing what the log would refuse; the entry decides, as usual.
   */
  refusalFor(key: string, value: string): SpaceRefusal | null {
    // The common case, without a lookup: no alarm, and the pair fits even if the key is new.
    if (
      this.alarms.length === 0 &&
      (this.quota === null || this.pairBytes + pairCharge(key, value) <= this.quota)
    ) {
      return null;
    }
    const old = this.store.get(key);
    return this.refusal(pairCharge(key, value) - (old === undefined ? 0 : pairCharge(key, old.value)));
  }

  /** Why a write of `key` = `value` would be refused now, or null (see refusalFor). */
  wouldRefuse(key: string, value: string): SpaceRefusal['reason'] | null {
    return this.refusalFor(key, value)?.reason ?? null;
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
    if (entry.type !== 'noop' && entry.type !== 'command' && entry.type !== 'config') {
      throw new TypeError(`entry ${index} has unknown type ${String(entry.type)}`);
    }
    this.applied = index;
    this.dedup.expire(index);
    switch (entry.type) {
      case 'noop':
        return { kind: 'noop', index };
      // A membership change belongs to the core (src/raft/membership.ts); here it only takes an index.
      case 'config':
        return { kind: 'config', index };
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
      if (e instanceof CodecError) return { kind: 'invalid', index, error: e.message };
      throw e;
    }
    if (cmd.op === 'quota' || cmd.op === 'alarm') return this.applySpace(cmd, index);
    const idem = cmd.idempotencyKey;
    if (idem !== undefined) {
      const first = this.dedup.lookup(idem);
      if (first !== undefined) return { ...first, replayed: true };
    }
    const result = this.execute(cmd, index);
    // A refusal wrote nothing: no record, so a retry once space is back applies normally.
    if (idem !== undefined && result.kind !== 'no_space') this.dedup.record(idem, result);
    return result;
  }

  private execute(cmd: WriteCommand, index: number): WriteResult | NoSpaceResult {
    const { key } = cmd;
    switch (cmd.op) {
      case 'put':
        return this.set(key, cmd.value, index);
      case 'cas': {
        const current = this.store.get(key)?.value ?? null;
        if (current !== cmd.prevValue)
          return { kind: 'conflict', key, value: current, index, replayed: false };
        return this.set(key, cmd.value, index);
      }
      case 'delete': {
        const old = this.store.get(key);
        if (old === undefined) return { kind: 'delete', key, deleted: false, index, replayed: false };
        this.store.delete(key);
        this.pairBytes -= pairCharge(key, old.value);
        return { kind: 'delete', key, deleted: true, index, replayed: false };
      }
    }
  }

  private set(key: string, value: string, index: number): WriteResult | NoSpaceResult {
    const old = this.store.get(key);
    const growth = pairCharge(key, value) - (old === undefined ? 0 : pairCharge(key, old.value));
    const refused = this.refusal(growth);
    if (refused !== null) return { kind: 'no_space', key, index, ...refused };
    // etcd's metadata: a delete dropped the record, so a key created again starts at version 1.
    const record =
      old === undefined
        ? new KeyRecord(value, 1, index, index)
        : new KeyRecord(value, old.version + 1, old.createIndex, index);
    this.store.set(key, record);
    this.pairBytes += growth;
    const { version, createIndex, modIndex } = record;
    return { kind: 'put', key, value, index, version, createIndex, modIndex, replayed: false };
  }

  /** Why a write growing the pairs by `growth` bytes may not apply now, or null. */
  private refusal(growth: number): SpaceRefusal | null {
    if (growth <= 0) return null;
    const reason =
      this.alarms.length > 0
        ? 'alarm'
        : this.quota !== null && this.pairBytes + growth > this.quota
          ? 'quota'
          : null;
    if (reason === null) return null;
    return { reason, stateBytes: this.pairBytes, quotaBytes: this.quota, alarms: this.alarms };
  }

  private applySpace(cmd: SpaceCommand, index: number): SpaceResult {
    if (cmd.op === 'quota') this.quota = cmd.bytes === 0 ? null : cmd.bytes;
    else {
      const others = this.alarms.filter((n) => n !== cmd.node);
      this.alarms = cmd.active ? [...others, cmd.node].sort() : others;
    }
    return { kind: 'space', index, quotaBytes: this.quota, alarms: this.alarms };
  }

  /** The value of `key`, or null if absent. */
  get(key: string): string | null {
    return this.store.get(key)?.value ?? null;
  }

  /** `key` with its value and metadata (version, createIndex, modIndex), or null if absent. */
  read(key: string): KeyValue | null {
    const record = this.store.get(key);
    return record === undefined ? null : keyValueOf(key, record);
  }

  /**
   * Up to `limit` keys starting with `prefix` ('' for all), in key order (Unicode code point order,
   * the same as UTF-8 byte order), with their values and metadata. `more` says whether further keys match;
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
      { quotaBytes: this.quota, alarms: this.alarms },
    );
  }

  /** The whole snapshot at once: `snapshotView().toBytes()`. */
  snapshot(): Uint8Array {
    return this.snapshotView().toBytes();
  }
}
