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
import {
  type Command,
  decodeCommand,
  type LeaseCommand,
  type SpaceCommand,
  type TxnCommand,
  type TxnCompare,
  type TxnOp,
  type WriteCommand,
} from './command.js';
import { DEFAULT_DEDUP_CONFIG, type DedupConfig, DedupTable } from './dedup.js';
import type { EventHistory } from './events.js';
import { DEFAULT_HISTORY_CONFIG, type HistoryConfig, HistoryWindow, historyView } from './history.js';
import { compareKeys } from './key-order.js';
import { type Lease, LeaseTable } from './leases.js';
import { KeyRecord, type KeyValue, keyValueOf, OrderedStore, type ScanResult } from './ordered-store.js';
import type {
  ApplyResult,
  LeaseApplyResult,
  LeaseNotFoundResult,
  NoSpaceResult,
  PutResult,
  SpaceRefusal,
  SpaceResult,
  TxnOpResult,
  TxnResult,
  WriteResult,
} from './results.js';
import {
  type DecodedSnapshot,
  decodeSnapshot,
  decodeSnapshotFrom,
  KvSnapshotView,
  type SnapshotSource,
} from './snapshot.js';
import { pairCharge } from './space.js';

export interface KvStateMachineOptions {
  /**
   * Idempotency rules. Part of the replicated semantics: every node must use the same values.
   * A restored state machine takes them from the snapshot.
   */
  readonly dedup?: Partial<DedupConfig>;
  /** The history window's bounds (replicated semantics too; a restore takes them from the snapshot). */
  readonly history?: Partial<HistoryConfig>;
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
  private leases = new LeaseTable();
  private window: HistoryWindow;
  /** The history as watchers read it (events.ts). */
  readonly history: EventHistory;

  /** An empty state machine (lastApplied 0). Throws RangeError for a bad dedup or history config. */
  constructor(options: KvStateMachineOptions = {}) {
    this.dedup = new DedupTable({ ...DEFAULT_DEDUP_CONFIG, ...options.dedup });
    this.window = new HistoryWindow({ ...DEFAULT_HISTORY_CONFIG, ...options.history }, 1);
    this.history = historyView(this.window, () => this.applied);
  }

  /** Rebuilds a state machine from snapshot bytes; throws CodecError if they are invalid. */
  static restore(bytes: Uint8Array): KvStateMachine {
    return KvStateMachine.fromDecoded(decodeSnapshot(bytes));
  }

  /**
   * Rebuilds a state machine from a snapshot read a window at a time (a snapshot file: its bytes
   * are never held whole); throws CodecError if they are invalid.
   */
  static async restoreFrom(source: SnapshotSource): Promise<KvStateMachine> {
    return KvStateMachine.fromDecoded(await decodeSnapshotFrom(source));
  }

  private static fromDecoded(decoded: DecodedSnapshot): KvStateMachine {
    const sm = new KvStateMachine();
    sm.applied = decoded.lastApplied;
    sm.store = decoded.store;
    sm.dedup = decoded.dedup;
    sm.pairBytes = decoded.pairBytes;
    sm.quota = decoded.quotaBytes;
    sm.alarms = [...decoded.alarms];
    sm.leases = decoded.leases;
    sm.window = decoded.history;
    (sm as { history: EventHistory }).history = historyView(sm.window, () => sm.applied);
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
    switch (cmd.op) {
      case 'quota':
      case 'alarm':
        return this.applySpace(cmd, index);
      case 'leaseGrant':
      case 'leaseKeepalive':
      case 'leaseRevoke':
      case 'leaseExpire':
        return this.applyLease(cmd, index);
    }
    const idem = cmd.idempotencyKey;
    if (idem !== undefined) {
      const first = this.dedup.lookup(idem);
      if (first !== undefined) return { ...first, replayed: true };
    }
    const result = this.execute(cmd, index);
    // A refusal wrote nothing: no record, so a retry once space is back applies normally.
    if (idem !== undefined && result.kind !== 'no_space' && result.kind !== 'lease_not_found')
      this.dedup.record(idem, result);
    return result;
  }

  private execute(cmd: WriteCommand, index: number): WriteResult | NoSpaceResult | LeaseNotFoundResult {
    if (cmd.op === 'txn') return this.transaction(cmd, index);
    const { key } = cmd;
    switch (cmd.op) {
      case 'put':
        return this.set(key, cmd.value, cmd.lease ?? 0, index);
      case 'cas': {
        const current = this.store.get(key)?.value ?? null;
        if (current !== cmd.prevValue)
          return { kind: 'conflict', key, value: current, index, replayed: false };
        return this.set(key, cmd.value, cmd.lease ?? 0, index);
      }
      case 'delete':
        return { kind: 'delete', key, deleted: this.remove(key, index), index, replayed: false };
    }
  }

  private set(
    key: string,
    value: string,
    lease: number,
    index: number,
  ): PutResult | NoSpaceResult | LeaseNotFoundResult {
    if (lease !== 0 && this.leases.get(lease) === undefined) {
      return { kind: 'lease_not_found', id: lease, index };
    }
    const old = this.store.get(key);
    const refused = this.refusal(
      pairCharge(key, value) - (old === undefined ? 0 : pairCharge(key, old.value)),
    );
    if (refused !== null) return { kind: 'no_space', key, index, ...refused };
    const { version, createIndex, modIndex } = this.write(key, value, lease, old, index);
    return lease === 0
      ? { kind: 'put', key, value, index, version, createIndex, modIndex, replayed: false }
      : { kind: 'put', key, value, index, version, createIndex, modIndex, lease, replayed: false };
  }

  /** Stores `key` = `value` (the space rules already checked) and records the event. */
  private write(
    key: string,
    value: string,
    lease: number,
    old: KeyRecord | undefined,
    index: number,
  ): KeyRecord {
    // etcd's metadata: a delete dropped the record, so a key created again starts at version 1.
    const record =
      old === undefined
        ? new KeyRecord(value, 1, index, index, lease)
        : new KeyRecord(value, old.version + 1, old.createIndex, index, lease);
    this.store.set(key, record);
    this.pairBytes += pairCharge(key, value) - (old === undefined ? 0 : pairCharge(key, old.value));
    // A put without the key's lease unties it from that lease (etcd's rule).
    if (old !== undefined && old.lease !== lease && old.lease !== 0)
      this.leases.get(old.lease)?.keys.delete(key);
    if (lease !== 0 && old?.lease !== lease) this.leases.get(lease)?.keys.add(key);
    this.window.record({ index, type: 'put', key, value, prevValue: old === undefined ? null : old.value });
    return record;
  }

  /** Deletes `key` if present (recording the event); whether it was. */
  private remove(key: string, index: number): boolean {
    const old = this.store.get(key);
    if (old === undefined) return false;
    this.store.delete(key);
    this.pairBytes -= pairCharge(key, old.value);
    if (old.lease !== 0) this.leases.get(old.lease)?.keys.delete(key);
    this.window.record({ index, type: 'delete', key, value: null, prevValue: old.value });
    return true;
  }

  /**
   * etcd's transaction: every compare is evaluated against the state before the entry; then one
   * branch's ops run in order (a get sees the puts and deletes before it). All or nothing: a put
   * naming a missing lease, or a branch that would take the state past its space rules, changes
   * nothing.
   */
  private transaction(cmd: TxnCommand, index: number): TxnResult | NoSpaceResult | LeaseNotFoundResult {
    const succeeded = cmd.compare.every((c) => this.holds(c));
    const ops = succeeded ? cmd.success : cmd.failure;
    let growth = 0;
    let firstPut: string | null = null;
    // The growth of the whole branch, through an overlay of the values its ops leave.
    const after = new Map<string, string | null>();
    for (const op of ops) {
      if (op.type === 'get') continue;
      if (op.type === 'put') {
        const lease = op.lease ?? 0;
        if (lease !== 0 && this.leases.get(lease) === undefined)
          return { kind: 'lease_not_found', id: lease, index };
        firstPut ??= op.key;
      }
      const before = after.has(op.key) ? after.get(op.key)! : (this.store.get(op.key)?.value ?? null);
      const next = op.type === 'put' ? op.value : null;
      growth +=
        (next === null ? 0 : pairCharge(op.key, next)) - (before === null ? 0 : pairCharge(op.key, before));
      after.set(op.key, next);
    }
    const refused = firstPut === null ? null : this.refusal(growth);
    if (refused !== null) return { kind: 'no_space', key: firstPut!, index, ...refused };
    const results: TxnOpResult[] = ops.map((op) => this.runTxnOp(op, index));
    return { kind: 'txn', succeeded, results, index, replayed: false };
  }

  private runTxnOp(op: TxnOp, index: number): TxnOpResult {
    const { key } = op;
    switch (op.type) {
      case 'put':
        return { put: keyValueOf(key, this.write(key, op.value, op.lease ?? 0, this.store.get(key), index)) };
      case 'delete':
        return { delete: { key, deleted: this.remove(key, index) } };
      case 'get': {
        const record = this.store.get(key);
        return { get: record === undefined ? { key, value: null } : keyValueOf(key, record) };
      }
    }
  }

  /** Whether a compare holds now. A missing key has version and indexes 0, and no value to compare. */
  private holds(c: TxnCompare): boolean {
    const record = this.store.get(c.key);
    let order: number;
    switch (c.target) {
      case 'value':
        if (record === undefined) return false;
        order = compareKeys(record.value, c.value);
        break;
      case 'exists':
        order = Number(record !== undefined) - Number(c.value);
        break;
      default:
        order = (record === undefined ? 0 : record[c.target]) - c.value;
    }
    switch (c.op) {
      case '==':
        return order === 0;
      case '!=':
        return order !== 0;
      case '<':
        return order < 0;
      case '>':
        return order > 0;
    }
  }

  private applyLease(cmd: LeaseCommand, index: number): LeaseApplyResult {
    if (cmd.op === 'leaseGrant') {
      this.leases.grant(index, cmd.ttl);
      return { kind: 'lease', id: index, ttl: cmd.ttl, index };
    }
    const lease = this.leases.get(cmd.id);
    if (lease === undefined) return { kind: 'lease_not_found', id: cmd.id, index };
    switch (cmd.op) {
      case 'leaseKeepalive':
        lease.renewIndex = index;
        return { kind: 'lease', id: lease.id, ttl: lease.ttl, index };
      case 'leaseRevoke':
        return this.endLease(lease, false, index);
      case 'leaseExpire':
        if (lease.renewIndex !== cmd.renewIndex) return { kind: 'lease_kept', id: lease.id, index };
        return this.endLease(lease, true, index);
    }
  }

  /** Ends a lease and deletes its keys, in key order (so every replica records the same events). */
  private endLease(lease: Lease, expired: boolean, index: number): LeaseApplyResult {
    const keys = [...lease.keys].sort(compareKeys);
    for (const key of keys) this.remove(key, index);
    this.leases.delete(lease.id);
    return { kind: 'lease_ended', id: lease.id, expired, keys, index };
  }

  /** A lease's TTL, renewal index and keys (in key order), or null if there is no such lease. */
  lease(id: number): { id: number; ttl: number; renewIndex: number; keys: string[] } | null {
    const l = this.leases.get(id);
    if (l === undefined) return null;
    return { id: l.id, ttl: l.ttl, renewIndex: l.renewIndex, keys: [...l.keys].sort(compareKeys) };
  }

  /** Every lease's id, TTL and renewal index, in id order. */
  leaseRecords(): { id: number; ttl: number; renewIndex: number }[] {
    return this.leases.records();
  }

  /** Number of leases. */
  get leaseCount(): number {
    return this.leases.size;
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
      this.leases.records(),
      this.window.snapshot(),
    );
  }

  /** The whole snapshot at once: `snapshotView().toBytes()`. */
  snapshot(): Uint8Array {
    return this.snapshotView().toBytes();
  }
}
