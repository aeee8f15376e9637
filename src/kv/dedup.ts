// The idempotency table: Idempotency-Key → the first answer of the write that carried it.
// It is part of the replicated state (applied identically everywhere, saved in snapshots), so a
// retry is recognised on whichever node leads when it arrives.
//
// Expiry is by log index, never by time, so every node forgets the same records at the same
// entry. The window rule: a record made by the write applied at index i is forgotten when the
// entry at index i + window is applied; a retry applied at an index < i + window gets the first
// answer. Besides, the table holds at most `maxEntries` records and about `maxBytes` of keys and
// results; past either bound the oldest records (lowest index) go first. Both bounds are
// deterministic too. So a retry is de-duplicated if fewer than `window` entries and fewer than
// `maxEntries` idempotent writes (and about `maxBytes` of their answers) came after the original.
// With the defaults, at 10,000 writes/s that is ≥ 10 s of idempotent writes and 100 s of log.
//
// Why the index and not a proposer timestamp in the entry: the index is free and agreed by
// construction; a timestamp needs a clock, can go backwards across leader changes, and would
// make every entry 8 bytes larger. The cost: the window counts writes, not seconds.

import BTreeModule from 'sorted-btree';
import type { WriteResult } from './results.js';

type BTree<K, V> = BTreeModule.default<K, V>;
const BTreeClass = BTreeModule.default;

export interface DedupConfig {
  /** Log indexes a record lives: made at i, forgotten when i + window is applied. */
  readonly window: number;
  /** Most records kept at once. */
  readonly maxEntries: number;
  /** Approximate memory the records may hold (see `recordCharge`). */
  readonly maxBytes: number;
}

export const DEFAULT_DEDUP_CONFIG: DedupConfig = {
  window: 1_000_000,
  maxEntries: 100_000,
  maxBytes: 64 * 1024 * 1024,
};

export function validateDedupConfig(config: DedupConfig): void {
  for (const [name, v] of Object.entries(config)) {
    if (!Number.isSafeInteger(v) || v < 1) throw new RangeError(`dedup ${name} must be a positive integer`);
  }
}

export interface DedupRecord {
  readonly idempotencyKey: string;
  /** The first answer; `result.index` is the index at which the record was made. */
  readonly result: WriteResult;
}

/** Approximate bytes a record holds: UTF-16 strings (2 bytes a unit) plus object overhead. */
export function recordCharge(record: DedupRecord): number {
  const r = record.result;
  if (r.kind === 'txn') {
    let units = record.idempotencyKey.length;
    for (const op of r.results) {
      const kv = 'put' in op ? op.put : 'delete' in op ? op.delete : op.get;
      units += kv.key.length + ('value' in kv && kv.value !== null ? kv.value.length : 0) + 16;
    }
    return 64 + 2 * units;
  }
  let units = record.idempotencyKey.length + r.key.length;
  if (r.kind === 'put') units += r.value.length;
  else if (r.kind === 'conflict' && r.value !== null) units += r.value.length;
  return 64 + 2 * units;
}

const compareIndexes = (a: number, b: number): number => a - b;

export class DedupTable {
  private readonly byKey = new Map<string, DedupRecord>();
  /** The same records by index: oldest first, and cheaply cloned for snapshots. */
  private readonly byIndex: BTree<number, DedupRecord> = new BTreeClass<number, DedupRecord>(
    undefined,
    compareIndexes,
  );
  private bytes = 0;

  constructor(readonly config: DedupConfig = DEFAULT_DEDUP_CONFIG) {
    validateDedupConfig(config);
  }

  /**
   * Rebuilds a table from records in increasing index order (from a snapshot). Throws RangeError
   * on records no table could have held: indexes not increasing, a key twice, or bounds exceeded.
   */
  static fromRecords(config: DedupConfig, records: Iterable<DedupRecord>): DedupTable {
    const table = new DedupTable(config);
    let last = 0;
    for (const record of records) {
      if (record.result.index <= last)
        throw new RangeError('idempotency records not in increasing index order');
      if (table.byKey.has(record.idempotencyKey)) throw new RangeError('idempotency key recorded twice');
      last = record.result.index;
      table.insert(record);
    }
    if (table.byKey.size > config.maxEntries || table.bytes > config.maxBytes) {
      throw new RangeError('idempotency records exceed the configured bounds');
    }
    return table;
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Approximate bytes held (the quantity bounded by maxBytes). */
  get chargedBytes(): number {
    return this.bytes;
  }

  /** Forgets records made at or before `index - window`. Call before applying entry `index`. */
  expire(index: number): void {
    const horizon = index - this.config.window;
    for (let oldest = this.byIndex.minKey(); oldest !== undefined && oldest <= horizon; ) {
      this.remove(oldest);
      oldest = this.byIndex.minKey();
    }
  }

  lookup(idempotencyKey: string): WriteResult | undefined {
    return this.byKey.get(idempotencyKey)?.result;
  }

  /** Records a first answer (its key must not be present), then enforces the bounds. */
  record(idempotencyKey: string, result: WriteResult): void {
    this.insert({ idempotencyKey, result });
    while (this.byKey.size > this.config.maxEntries || this.bytes > this.config.maxBytes) {
      this.remove(this.byIndex.minKey()!);
    }
  }

  /** O(1) consistent copy of the records, oldest first, unaffected by later changes. */
  snapshotRecords(): { readonly count: number; readonly records: Iterable<DedupRecord> } {
    const frozen = this.byIndex.clone();
    return { count: frozen.size, records: { [Symbol.iterator]: () => frozen.values() } };
  }

  private insert(record: DedupRecord): void {
    this.byKey.set(record.idempotencyKey, record);
    this.byIndex.set(record.result.index, record);
    this.bytes += recordCharge(record);
  }

  private remove(index: number): void {
    const record = this.byIndex.get(index)!;
    this.byIndex.delete(index);
    this.byKey.delete(record.idempotencyKey);
    this.bytes -= recordCharge(record);
  }
}
