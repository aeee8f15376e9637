// Goal: no input, however hostile, makes the decoders fail with anything but a CodecError (no
// RangeError, no TypeError, no hang), and whatever they do accept is canonical: it re-encodes to
// exactly the bytes it came from.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { CodecError } from '../../src/codec/index.js';
import { decodeMessage, encodeMessage, LAST_MESSAGE_TAG } from '../../src/transport/codec.js';
import {
  CONTROL_TAGS,
  decodeFrame,
  encodeForwardFrame,
  type ForwardFrame,
} from '../../src/transport/control-frames.js';
import { FRAME_HEADER_BYTES } from '../../src/transport/framing.js';
import { anyMessage } from './message-arbitraries.js';

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'insert'; at: number; value: number }
  | { kind: 'delete'; at: number }
  | { kind: 'truncate'; at: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
);

function mutate(input: Uint8Array, mutations: readonly Mutation[]): Uint8Array {
  const bytes = [...input];
  for (const m of mutations) {
    const at = bytes.length === 0 ? 0 : m.at % bytes.length;
    if (m.kind === 'set' && bytes.length > 0) bytes[at] = m.value;
    else if (m.kind === 'insert') bytes.splice(at, 0, m.value);
    else if (m.kind === 'delete') bytes.splice(at, 1);
    else if (m.kind === 'truncate') bytes.length = at;
  }
  return Uint8Array.from(bytes);
}

/** Decodes `bytes`; a success must re-encode identically, a failure must be a CodecError. */
function checkDecode(bytes: Uint8Array): void {
  let decoded: ReturnType<typeof decodeMessage>;
  try {
    decoded = decodeMessage(bytes);
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected a CodecError, got ${String(err)}`);
    return;
  }
  assert.deepStrictEqual(Uint8Array.from(encodeMessage(decoded)), Uint8Array.from(bytes));
}

function checkDecodeFrame(bytes: Uint8Array): void {
  try {
    decodeFrame(bytes);
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected a CodecError, got ${String(err)}`);
  }
}

const requestId = fc.maxSafeNat();
/** Every forwarding frame (protocol version 4), with any ids, indexes, strings and data. */
const anyForwardFrame: fc.Arbitrary<ForwardFrame> = fc.oneof(
  fc.record({
    kind: fc.constant('forwardProposal' as const),
    requestId,
    data: fc.uint8Array({ maxLength: 64 }),
  }),
  fc.record({
    kind: fc.constant('forwardAppended' as const),
    requestId,
    index: fc.maxSafeNat(),
    term: fc.maxSafeNat(),
  }),
  fc.record({
    kind: fc.constant('forwardRefused' as const),
    requestId,
    code: fc.string({ maxLength: 20 }),
    message: fc.string({ unit: 'grapheme', maxLength: 40 }),
    definite: fc.boolean(),
  }),
);

const payloadOf = (f: ForwardFrame): Uint8Array => encodeForwardFrame(f).subarray(FRAME_HEADER_BYTES);

/** A forwarding frame's payload either fails with a CodecError or re-encodes to the same bytes. */
function checkForwardFrame(bytes: Uint8Array): void {
  let decoded: ReturnType<typeof decodeFrame>;
  try {
    decoded = decodeFrame(bytes);
  } catch (err) {
    assert.ok(err instanceof CodecError, `expected a CodecError, got ${String(err)}`);
    return;
  }
  if (
    decoded.kind === 'forwardProposal' ||
    decoded.kind === 'forwardAppended' ||
    decoded.kind === 'forwardRefused'
  ) {
    assert.deepStrictEqual(Uint8Array.from(payloadOf(decoded)), Uint8Array.from(bytes));
  }
}

describe('codec fuzzing', () => {
  it('forwarding frames round-trip; mutated ones are canonical or fail with a CodecError', () => {
    fc.assert(
      fc.property(anyForwardFrame, fc.array(mutation, { maxLength: 4 }), (f, mutations) => {
        const bytes = payloadOf(f);
        const decoded = decodeFrame(bytes);
        // Plain objects both (the arbitrary's records have no prototype), data as plain arrays.
        const plain = (x: object): unknown =>
          JSON.parse(JSON.stringify(x, (_k, v: unknown) => (v instanceof Uint8Array ? [...v] : v)));
        assert.deepStrictEqual(plain(decoded), plain(f));
        checkForwardFrame(mutate(bytes, mutations));
      }),
      { numRuns: 3000 },
    );
    fc.assert(
      fc.property(
        fc.constantFrom(
          CONTROL_TAGS.ForwardProposal,
          CONTROL_TAGS.ForwardAppended,
          CONTROL_TAGS.ForwardRefused,
        ),
        fc.uint8Array({ maxLength: 60 }),
        (tag, rest) => checkForwardFrame(Uint8Array.from([tag, ...rest])),
      ),
      { numRuns: 3000 },
    );
  });

  it('random bytes decode to a canonical message or fail with a CodecError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        checkDecode(bytes);
        checkDecodeFrame(bytes);
      }),
      { numRuns: 3000 },
    );
  });

  it('random bytes behind a valid tag do the same (reaching deeper into each decoder)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: LAST_MESSAGE_TAG }),
        fc.uint8Array({ maxLength: 200 }),
        (tag, rest) => {
          const bytes = Uint8Array.from([tag, ...rest]);
          checkDecode(bytes);
          checkDecodeFrame(bytes);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('mutated valid encodings decode to a canonical message or fail with a CodecError', () => {
    fc.assert(
      fc.property(anyMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (m, mutations) => {
        const bytes = mutate(encodeMessage(m), mutations);
        checkDecode(bytes);
        checkDecodeFrame(bytes);
      }),
      { numRuns: 3000 },
    );
  });
});
