// What applying one log entry answers. Results are plain data, identical on every node for the same
// entry, so any node can answer the client that proposed it.
//
// HTTP mapping (API.md): put → 200 {key, value, index, version, createIndex, modIndex, lease?};
// conflict → 409 {error, key, value}; delete → 200 {key, deleted}; txn → 200 {succeeded, results,
// index}; no_space → 507 {error, code: no_space}; lease_not_found → 404; lease → 200 {id, ttl};
// invalid → the proposer sent bytes no node understands (a bug); noop → no client waits on it;
// space → an operator's or a node's quota or alarm command.

import type { KeyValue } from './ordered-store.js';

export interface PutResult {
  readonly kind: 'put';
  readonly key: string;
  readonly value: string;
  /** Log index at which the write was applied. */
  readonly index: number;
  /** The key's metadata right after this write (ordered-store.ts KeyRecord); modIndex = index. */
  readonly version: number;
  readonly createIndex: number;
  readonly modIndex: number;
  /** The lease the key is tied to; absent: none. */
  readonly lease?: number;
  /** True when this is a retry answered from the idempotency table (the first answer, unchanged). */
  readonly replayed: boolean;
}

/** A compare-and-set whose precondition failed; nothing was written. */
export interface ConflictResult {
  readonly kind: 'conflict';
  readonly key: string;
  /** The current value, or null if the key is absent. */
  readonly value: string | null;
  /** Log index at which the precondition was evaluated. */
  readonly index: number;
  readonly replayed: boolean;
}

export interface DeleteResult {
  readonly kind: 'delete';
  readonly key: string;
  /** Whether the key existed. */
  readonly deleted: boolean;
  readonly index: number;
  readonly replayed: boolean;
}

/** What one op of a transaction's chosen branch did or read, in the order of the ops. */
export type TxnOpResult =
  | { readonly put: KeyValue }
  | { readonly delete: { readonly key: string; readonly deleted: boolean } }
  | { readonly get: KeyValue | { readonly key: string; readonly value: null } };

/** A transaction: whether every compare held (so the success ops ran), and what the ops did. */
export interface TxnResult {
  readonly kind: 'txn';
  readonly succeeded: boolean;
  readonly results: readonly TxnOpResult[];
  readonly index: number;
  readonly replayed: boolean;
}

/** A write named a lease that does not exist (never granted, revoked or expired): nothing changed. */
export interface LeaseNotFoundResult {
  readonly kind: 'lease_not_found';
  readonly id: number;
  readonly index: number;
}

/** A lease granted (its id is `index`) or renewed: its TTL starts again at this entry. */
export interface LeaseResult {
  readonly kind: 'lease';
  readonly id: number;
  readonly ttl: number;
  readonly index: number;
}

/** A lease ended — revoked, or expired by the leader — and its keys deleted. */
export interface LeaseEndedResult {
  readonly kind: 'lease_ended';
  readonly id: number;
  readonly expired: boolean;
  /** The keys deleted with it, in key order. */
  readonly keys: readonly string[];
  readonly index: number;
}

/** An expiry that found the lease renewed after the timer started: the lease lives on. */
export interface LeaseKeptResult {
  readonly kind: 'lease_kept';
  readonly id: number;
  readonly index: number;
}

export type LeaseApplyResult = LeaseNotFoundResult | LeaseResult | LeaseEndedResult | LeaseKeptResult;

export interface NoopResult {
  readonly kind: 'noop';
  readonly index: number;
}

/** A membership change reached the state machine: it only takes its index (the core holds membership). */
export interface ConfigResult {
  readonly kind: 'config';
  readonly index: number;
}

/** The entry's bytes were not a valid command; every node reaches the same verdict. */
export interface InvalidResult {
  readonly kind: 'invalid';
  readonly index: number;
  readonly error: string;
}

/**
 * A write that would have grown the state while writes may not grow it: past the quota, or while
 * a node's no-space alarm is raised. Nothing was written, and no idempotency record was made (a
 * retry once space is back applies normally).
 */
export interface NoSpaceResult extends SpaceRefusal {
  readonly kind: 'no_space';
  readonly key: string;
  readonly index: number;
}

/** Why a write that would grow the state was refused, and the space rules at that moment. */
export interface SpaceRefusal {
  readonly reason: 'quota' | 'alarm';
  /** State size and quota when it was refused (quota null: none). */
  readonly stateBytes: number;
  readonly quotaBytes: number | null;
  /** Nodes whose no-space alarm was raised. */
  readonly alarms: readonly string[];
}

/** A quota or alarm command applied: the space rules now in force. */
export interface SpaceResult {
  readonly kind: 'space';
  readonly index: number;
  readonly quotaBytes: number | null;
  readonly alarms: readonly string[];
}

export type WriteResult = PutResult | ConflictResult | DeleteResult | TxnResult;
export type ApplyResult =
  | WriteResult
  | LeaseApplyResult
  | NoSpaceResult
  | SpaceResult
  | NoopResult
  | ConfigResult
  | InvalidResult;
