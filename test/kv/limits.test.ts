// Goal: the edge validators accept exactly the keys, values and idempotency keys the store can
// hold, measure sizes in UTF-8 bytes (not UTF-16 units), and say clearly why anything else is
// refused, with the status (400 or 413) the HTTP server answers.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { utf8Length } from '../../src/codec/index.js';
import {
  isWellFormed,
  MAX_IDEMPOTENCY_KEY_BYTES,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  validateIdempotencyKey,
  validateKey,
  validatePrevValue,
  validateValue,
} from '../../src/kv/limits.js';

describe('limits', () => {
  it('counts UTF-8 bytes like an encoder does', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 100 }), (s) => {
        assert.equal(utf8Length(s), isWellFormed(s) ? Buffer.byteLength(s, 'utf8') : -1);
      }),
    );
  });

  it('accepts keys up to the limit in bytes, whatever their characters', () => {
    assert.equal(validateKey('k'), null);
    assert.equal(validateKey('a'.repeat(MAX_KEY_BYTES)), null);
    // 3-byte characters: fewer units, same byte limit.
    assert.equal(validateKey('€'.repeat(MAX_KEY_BYTES / 4)), null);
    assert.equal(validateKey('\u{1F600}'.repeat(MAX_KEY_BYTES / 4)), null);
  });

  it('answers 413 for keys and values over the limit', () => {
    const key = validateKey('a'.repeat(MAX_KEY_BYTES + 1));
    assert.equal(key?.status, 413);
    assert.equal(key?.kind, 'too_large');
    assert.match(key?.message ?? '', /^key is 4097 bytes of UTF-8; the limit is 4096$/);
    // Fits in UTF-16 units, not in UTF-8 bytes.
    assert.equal(validateKey('€'.repeat(MAX_KEY_BYTES / 3 + 1))?.status, 413);
    assert.equal(validateValue('v'.repeat(MAX_VALUE_BYTES)), null);
    assert.equal(validateValue('v'.repeat(MAX_VALUE_BYTES + 1))?.status, 413);
    assert.equal(validateValue('é'.repeat(MAX_VALUE_BYTES / 2 + 1))?.status, 413);
    assert.equal(validateIdempotencyKey('i'.repeat(MAX_IDEMPOTENCY_KEY_BYTES + 1))?.status, 413);
  });

  it('answers 400 for malformed keys and values', () => {
    assert.deepEqual(validateKey(''), { kind: 'invalid', status: 400, message: 'key must not be empty' });
    assert.equal(validateKey(42)?.message, 'key must be a string');
    assert.equal(validateKey(null)?.status, 400);
    assert.match(validateKey('a\uD800b')?.message ?? '', /lone surrogate/);
    assert.equal(validateValue(undefined)?.message, 'value must be a string');
    assert.equal(validateValue('\uDFFF')?.status, 400);
    assert.equal(validateValue(''), null);
    assert.equal(validateIdempotencyKey('')?.status, 400);
    assert.equal(validateIdempotencyKey('5f0c6a52-8a3e-4c1e-9d7b-2f3b1a6c9e01'), null);
  });

  it('checks prevValue like a value, with null meaning "absent"', () => {
    assert.equal(validatePrevValue(null), null);
    assert.equal(validatePrevValue('old'), null);
    assert.equal(validatePrevValue(3)?.message, 'prevValue must be a string or null');
    assert.match(
      validatePrevValue('v'.repeat(MAX_VALUE_BYTES + 1))?.message ?? '',
      /^prevValue is \d+ bytes/,
    );
  });

  it('knows which strings have a UTF-8 form', () => {
    assert.equal(isWellFormed('\u{1F600}'), true);
    assert.equal(isWellFormed('\uD83D'), false);
    assert.equal(isWellFormed('\uDE00\uD83D'), false);
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 50 }), (s) => {
        assert.equal(isWellFormed(s), true);
        assert.equal(validateValue(s), null);
      }),
    );
  });
});
