// Size and shape limits for keys, values and idempotency keys, checked at the edge (the HTTP
// server answers 400 or 413 with `message`). The state machine itself does not re-check sizes:
// an entry already in the log must apply the same way on every node and on every future version,
// even one whose limits have changed, so only structural rules (non-empty key, valid UTF-8) are
// part of the replicated semantics.

import { isWellFormed, utf8Length } from '../codec/index.js';

export { isWellFormed };

/** Largest key, in UTF-8 bytes (as etcd's default request limits, keys stay small). */
export const MAX_KEY_BYTES = 4 * 1024;
/** Largest value, in UTF-8 bytes. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Largest Idempotency-Key header value, in UTF-8 bytes (a UUID needs 36). */
export const MAX_IDEMPOTENCY_KEY_BYTES = 256;

/** Most compares in a transaction, and most ops in each branch (etcd's --max-txn-ops default). */
export const MAX_TXN_OPS = 128;
/** Most UTF-8 bytes of keys and values a transaction carries in all (one largest value fits). */
export const MAX_TXN_BYTES = 2 * 1024 * 1024;

/** The same limits as one object, for callers that pass them around. */
export const KV_LIMITS = {
  maxKeyBytes: MAX_KEY_BYTES,
  maxValueBytes: MAX_VALUE_BYTES,
  maxIdempotencyKeyBytes: MAX_IDEMPOTENCY_KEY_BYTES,
  maxTxnOps: MAX_TXN_OPS,
  maxTxnBytes: MAX_TXN_BYTES,
} as const;

export interface ValidationError {
  /** `invalid` → 400, `too_large` → 413. */
  readonly kind: 'invalid' | 'too_large';
  readonly status: 400 | 413;
  readonly message: string;
}

/**
 * Whether `s` fits in `maxBytes` of UTF-8, without scanning when the UTF-16 length decides it:
 * every unit takes 1–3 bytes (a pair takes 4 for 2 units).
 */
function fitsUtf8(s: string, maxBytes: number): boolean {
  if (s.length > maxBytes) return false;
  if (s.length * 3 <= maxBytes) return true;
  // -1 (a lone surrogate) fits: the caller refuses it as not UTF-8 next.
  return utf8Length(s) <= maxBytes;
}

function invalid(message: string): ValidationError {
  return { kind: 'invalid', status: 400, message };
}

/** "N bytes", or "more bytes than allowed" for a string with a lone surrogate (no exact UTF-8 length). */
function sizeOf(s: string): string {
  const n = utf8Length(s);
  return n >= 0 ? `${n} bytes` : 'more bytes';
}

/** `what` over `maxBytes` of UTF-8: says how big it is, counted only now that it failed. */
function tooLarge(what: string, s: string, maxBytes: number): ValidationError {
  return {
    kind: 'too_large',
    status: 413,
    message: `${what} is ${sizeOf(s)} of UTF-8; the limit is ${maxBytes}`,
  };
}

/** null if `key` is acceptable; otherwise why not. */
export function validateKey(key: unknown): ValidationError | null {
  if (typeof key !== 'string') return invalid('key must be a string');
  if (key.length === 0) return invalid('key must not be empty');
  if (!fitsUtf8(key, MAX_KEY_BYTES)) return tooLarge('key', key, MAX_KEY_BYTES);
  if (!isWellFormed(key)) return invalid('key is not valid UTF-8 (lone surrogate)');
  return null;
}

/** null if `value` is acceptable (the empty string is); otherwise why not. */
export function validateValue(value: unknown): ValidationError | null {
  if (typeof value !== 'string') return invalid('value must be a string');
  if (!fitsUtf8(value, MAX_VALUE_BYTES)) return tooLarge('value', value, MAX_VALUE_BYTES);
  if (!isWellFormed(value)) return invalid('value is not valid UTF-8 (lone surrogate)');
  return null;
}

/** For `prevValue` in compare-and-set: null means "must be absent"; a string is a value. */
export function validatePrevValue(prevValue: unknown): ValidationError | null {
  if (prevValue === null) return null;
  if (typeof prevValue !== 'string') return invalid('prevValue must be a string or null');
  const error = validateValue(prevValue);
  return error === null ? null : { ...error, message: error.message.replace(/^value/, 'prevValue') };
}

export function validateIdempotencyKey(idempotencyKey: unknown): ValidationError | null {
  if (typeof idempotencyKey !== 'string') return invalid('Idempotency-Key must be a string');
  if (idempotencyKey.length === 0) return invalid('Idempotency-Key must not be empty');
  if (!fitsUtf8(idempotencyKey, MAX_IDEMPOTENCY_KEY_BYTES)) {
    return tooLarge('Idempotency-Key', idempotencyKey, MAX_IDEMPOTENCY_KEY_BYTES);
  }
  if (!isWellFormed(idempotencyKey)) return invalid('Idempotency-Key is not valid UTF-8 (lone surrogate)');
  return null;
}
