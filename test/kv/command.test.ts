// Goal: the command codec round-trips every valid command exactly, stays compact, refuses to
// encode what could not decode back identically, and turns any garbage into a CodecError
// (never another exception, never a wrong command).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import { type Command, decodeCommand, encodeCommand } from '../../src/kv/command.js';
import { commandArb, leaseCommandArb, txnArb } from './helpers.js';

const anyString = fc.string({ unit: 'binary', maxLength: 200 });
const anyCommand: fc.Arbitrary<Command> = fc.oneof(
  commandArb,
  fc.record(
    {
      op: fc.constant('put' as const),
      key: anyString.filter((k) => k.length > 0),
      value: anyString,
      idempotencyKey: anyString.filter((k) => k.length > 0),
    },
    { requiredKeys: ['op', 'key', 'value'] },
  ),
  fc.record({
    op: fc.constant('cas' as const),
    key: anyString.filter((k) => k.length > 0),
    value: anyString,
    prevValue: fc.option(anyString, { nil: null }),
  }),
  fc.record(
    {
      op: fc.constant('put' as const),
      key: anyString.filter((k) => k.length > 0),
      value: anyString,
      lease: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
      idempotencyKey: anyString.filter((k) => k.length > 0),
    },
    { requiredKeys: ['op', 'key', 'value', 'lease'] },
  ),
  txnArb,
  leaseCommandArb,
);

function decodeError(bytes: Uint8Array): CodecError {
  try {
    decodeCommand(bytes);
  } catch (e) {
    assert.ok(e instanceof CodecError, `expected CodecError, got ${String(e)}`);
    return e;
  }
  assert.fail('decoded without error');
}

describe('command codec', () => {
  it('round-trips every command', () => {
    fc.assert(
      fc.property(anyCommand, (cmd) => {
        // Spread: fc.record builds null-prototype objects, which deepEqual tells apart.
        assert.deepEqual(decodeCommand(encodeCommand(cmd)), { ...cmd });
      }),
      { numRuns: 2000 },
    );
  });

  it('keeps characters that naive UTF-8 handling would alter', () => {
    // A leading BOM, NUL, U+FFFD and an astral character must all survive.
    const cmd: Command = {
      op: 'put',
      key: '\uFEFFk\u0000',
      value: '\uFFFD\u{10FFFF}',
      idempotencyKey: '\uFEFF',
    };
    assert.deepEqual(decodeCommand(encodeCommand(cmd)), cmd);
  });

  it('is compact: two header bytes, then length-prefixed fields', () => {
    assert.equal(
      encodeCommand({ op: 'put', key: 'k'.repeat(10), value: 'v'.repeat(100) }).length,
      2 + 11 + 101,
    );
    assert.equal(encodeCommand({ op: 'delete', key: 'k' }).length, 4);
    assert.equal(encodeCommand({ op: 'cas', key: 'k', value: 'v', prevValue: null }).length, 6);
    assert.equal(encodeCommand({ op: 'cas', key: 'k', value: 'v', prevValue: 'p' }).length, 8);
  });

  it('tells "must be absent" from "must equal the empty string"', () => {
    const absent = decodeCommand(encodeCommand({ op: 'cas', key: 'k', value: 'v', prevValue: null }));
    const empty = decodeCommand(encodeCommand({ op: 'cas', key: 'k', value: 'v', prevValue: '' }));
    assert.equal(absent.op === 'cas' && absent.prevValue, null);
    assert.equal(empty.op === 'cas' && empty.prevValue, '');
  });

  it('round-trips a maximal value whose length prefix is shorter than reserved', () => {
    // ASCII: the prefix is sized for 3 bytes a unit, so the encoded bytes get shifted left.
    const value = 'x'.repeat(1024 * 1024);
    const decoded = decodeCommand(encodeCommand({ op: 'put', key: 'big', value }));
    assert.equal(decoded.op === 'put' && decoded.value === value, true);
  });

  it('refuses to encode what would not decode to the same command', () => {
    assert.throws(() => encodeCommand({ op: 'put', key: '', value: 'v' }), TypeError);
    assert.throws(() => encodeCommand({ op: 'put', key: 'a\uD800', value: 'v' }), TypeError);
    assert.throws(() => encodeCommand({ op: 'put', key: 'k', value: '\uDC00' }), TypeError);
    assert.throws(() => encodeCommand({ op: 'cas', key: 'k', value: 'v', prevValue: '\uD800' }), TypeError);
    assert.throws(() => encodeCommand({ op: 'delete', key: 'k', idempotencyKey: '' }), TypeError);
  });

  it('rejects every truncation of a valid command', () => {
    fc.assert(
      fc.property(anyCommand, (cmd) => {
        const bytes = encodeCommand(cmd);
        for (let n = 0; n < bytes.length; n++) decodeError(bytes.subarray(0, n));
      }),
      { numRuns: 300 },
    );
  });

  it('rejects trailing bytes, unknown versions and ops, bad UTF-8, empty keys', () => {
    const good = encodeCommand({ op: 'put', key: 'k', value: 'v' });
    assert.match(decodeError(Uint8Array.of(...good, 0)).message, /trailing/);
    assert.match(decodeError(Uint8Array.of(2, ...good.subarray(1))).message, /version 2/);
    assert.match(decodeError(Uint8Array.of(1, 13, 1, 0x6b)).message, /unknown op 13/);
    assert.match(decodeError(Uint8Array.of(1, 4, 1, 0xff)).message, /UTF-8/);
    assert.match(decodeError(Uint8Array.of(1, 4, 0)).message, /empty key/);
    assert.match(decodeError(Uint8Array.of(1, 0x84, 1, 0x6b, 0)).message, /empty idempotency key/);
    // A length far beyond the input must fail before allocating anything.
    assert.match(
      decodeError(Uint8Array.of(1, 4, 0xff, 0xff, 0xff, 0xff, 0x0f)).message,
      /truncated: key needs/,
    );
    assert.match(decodeError(Uint8Array.of(1, 4, 0x81, 0x00, 0x6b)).message, /not in its shortest form/);
  });

  it('throws only CodecError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          const cmd = decodeCommand(bytes);
          // Whatever decodes must be canonical: re-encoding gives the same bytes.
          assert.deepEqual(encodeCommand(cmd), bytes);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 5000 },
    );
  });

  it('throws only CodecError on corrupted valid commands', () => {
    fc.assert(
      fc.property(anyCommand, fc.nat(), fc.integer({ min: 1, max: 255 }), (cmd, at, flip) => {
        const bytes = encodeCommand(cmd);
        bytes[at % bytes.length] ^= flip;
        try {
          decodeCommand(bytes);
        } catch (e) {
          if (!(e instanceof CodecError)) throw e;
        }
      }),
      { numRuns: 3000 },
    );
  });
});
