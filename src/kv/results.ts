// What applying one log entry answers. Results are plain data, identical on every node for the same
// entry, so any node can answer the client that proposed it.
//
// HTTP mapping (API.md): put → 200 {key, value, index}; conflict → 409 {error, key, value};
// delete → 200 {key, deleted}; invalid → the proposer sent bytes no node understands (a bug);
// noop → no client waits on it.

export interface PutResult {
  readonly kind: 'put';
  readonly key: string;
  readonly value: string;
  /** Log index at which the write was applied. */
  readonly index: number;
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

export interface NoopResult {
  readonly kind: 'noop';
  readonly index: number;
}

/** The entry's bytes were not a valid command; every node reaches the same verdict. */
export interface InvalidResult {
  readonly kind: 'invalid';
  readonly index: number;
  readonly error: string;
}

export type WriteResult = PutResult | ConflictResult | DeleteResult;
export type ApplyResult = WriteResult | NoopResult | InvalidResult;
