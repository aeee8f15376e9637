// The ordered key → record map behind the state machine: a B+ tree from `sorted-btree`.
// Chosen because it is maintained, typed, fast at 10^6 keys (point ops O(log n) with a fan-out of
// 64, so few cache misses; ordered iteration from any key) and, above all, has O(1) copy-on-write
// clone(): a snapshot captures a consistent view without copying, and later writes copy only the
// nodes on their path. Keys are stored as tree keys (key-order.ts) so the order is UTF-8 order.

import BTreeModule from 'sorted-btree';
import { bulkLoad } from 'sorted-btree/extended/bulkLoad.js';
import { compareTreeKeys, fromTreeKey, toTreeKey } from './key-order.js';

type BTree<K, V> = BTreeModule.default<K, V>;
// sorted-btree is CommonJS; from ESM its class is the `default` property of module.exports.
const BTreeClass = BTreeModule.default;

const NODE_SIZE = 64;

/**
 * One key's value and metadata (etcd's, derived only from the log): `version` counts the writes
 * since the key was created (1 on create, reset when it is deleted and created again),
 * `createIndex` is the log index of the write that created it, `modIndex` of the latest write.
 *
 * Immutable, and one small object per key: the store must hold 10^6 keys, and a snapshot view
 * shares the tree copy-on-write, so a write replaces a key's record instead of changing it.
 */
export class KeyRecord {
  constructor(
    readonly value: string,
    readonly version: number,
    readonly createIndex: number,
    readonly modIndex: number,
    /** The lease the key is tied to (0: none): the key is deleted when the lease ends. */
    readonly lease: number,
  ) {}
}

/** A key with its value and metadata, as listings and reads answer it. */
export interface KeyValue {
  readonly key: string;
  readonly value: string;
  readonly version: number;
  readonly createIndex: number;
  readonly modIndex: number;
  /** Present when the key is tied to a lease. */
  readonly lease?: number;
}

/** The listing form of a stored key. */
export function keyValueOf(key: string, r: KeyRecord): KeyValue {
  const { value, version, createIndex, modIndex, lease } = r;
  return lease === 0
    ? { key, value, version, createIndex, modIndex }
    : { key, value, version, createIndex, modIndex, lease };
}

export interface ScanResult {
  readonly items: KeyValue[];
  /** True if at least one more key matches after the last item. */
  readonly more: boolean;
}

export class OrderedStore {
  private constructor(private readonly tree: BTree<string, KeyRecord>) {}

  static empty(): OrderedStore {
    return new OrderedStore(new BTreeClass<string, KeyRecord>(undefined, compareTreeKeys, NODE_SIZE));
  }

  /**
   * Builds a store from keys in strictly increasing order (as a snapshot holds them) and their
   * records, in O(n) with full leaves. Throws RangeError if the order is wrong.
   */
  static fromSorted(keys: readonly string[], records: KeyRecord[]): OrderedStore {
    const treeKeys = keys.map(toTreeKey);
    for (let i = 1; i < treeKeys.length; i++) {
      if (compareTreeKeys(treeKeys[i - 1]!, treeKeys[i]!) >= 0) {
        throw new RangeError(`keys not in strictly increasing order at position ${i}`);
      }
    }
    return new OrderedStore(bulkLoad(treeKeys, records, NODE_SIZE, compareTreeKeys));
  }

  get size(): number {
    return this.tree.size;
  }

  get(key: string): KeyRecord | undefined {
    return this.tree.get(toTreeKey(key));
  }

  set(key: string, record: KeyRecord): void {
    this.tree.set(toTreeKey(key), record);
  }

  /** True if the key was present. */
  delete(key: string): boolean {
    return this.tree.delete(toTreeKey(key));
  }

  /** O(1): an independent store sharing nodes copy-on-write with this one. */
  clone(): OrderedStore {
    return new OrderedStore(this.tree.clone());
  }

  /**
   * Up to `limit` keys whose key starts with `prefix`, in key order, starting after `startAfter`
   * if given (exclusive cursor for paging).
   */
  scan(prefix: string, limit: number, startAfter?: string): ScanResult {
    const treePrefix = toTreeKey(prefix);
    let from = treePrefix;
    let skip: string | undefined;
    if (startAfter !== undefined) {
      const after = toTreeKey(startAfter);
      if (compareTreeKeys(after, from) >= 0) {
        from = after;
        skip = after;
      }
    }
    const items: KeyValue[] = [];
    for (const [treeKey, record] of this.tree.entries(from, [])) {
      if (treeKey === skip) continue;
      if (!treeKey.startsWith(treePrefix)) break;
      if (items.length === limit) return { items, more: true };
      items.push(keyValueOf(fromTreeKey(treeKey), record));
    }
    return { items, more: false };
  }

  /** All keys and their records in key order. Iterate a clone() if writes may happen meanwhile. */
  *entries(): Generator<[key: string, record: KeyRecord]> {
    for (const [treeKey, record] of this.tree.entries(undefined, [])) yield [fromTreeKey(treeKey), record];
  }
}
