// Unsigned LEB128 varints: 7 bits a byte, least significant group first, the high bit set on
// every byte but the last. Raft indexes and terms are JS numbers that may exceed 2^32, so the
// codec carries every safe integer, [0, 2^53): at most 8 bytes. Only the shortest encoding of a
// value is accepted (ByteReader.varuint), so each value has exactly one encoding.

import { CodecError } from './errors.js';

export const VARUINT_MAX_BYTES = 8;

/** Bytes the varuint encoding of `n` takes (n a safe non-negative integer). */
export function varuintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 0x800000000) return 5;
  if (n < 0x40000000000) return 6;
  if (n < 0x2000000000000) return 7;
  return 8;
}

/** True if `n` has a varuint encoding: a safe integer ≥ 0. */
export function isVaruint(n: number): boolean {
  // The first test settles the common case, an integer below 2^32, at the cost of one shift.
  return n >>> 0 === n || (Number.isSafeInteger(n) && n >= 0);
}

/** varuintSize(n), after checking that `n` has an encoding; `field` names it in the error. */
export function checkedVaruintSize(n: number, field: string): number {
  if (!isVaruint(n)) {
    throw new CodecError('value', `cannot encode ${field}: ${String(n)} is not a non-negative safe integer`);
  }
  return varuintSize(n);
}
