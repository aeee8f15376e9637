// Goal: the streaming frame decoder yields exactly the frames that were sent, however TCP splits
// or coalesces them into chunks, and stops with FrameTooLargeError at a frame over the limit.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeMessage } from '../../src/transport/codec.js';
import { FrameTooLargeError } from '../../src/transport/errors.js';
import { encodeMessageFrame, FRAME_HEADER_BYTES, FrameDecoder } from '../../src/transport/framing.js';
import { anyMessage } from './message-arbitraries.js';

function frame(payload: Uint8Array): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payload.length);
  return Buffer.concat([header, payload]);
}

/** Cuts `stream` at the given offsets (taken modulo its length, in any order). */
function split(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => (stream.length === 0 ? 0 : c % (stream.length + 1))))].sort(
    (a, b) => a - b,
  );
  const chunks: Buffer[] = [];
  let start = 0;
  for (const p of [...points, stream.length]) {
    chunks.push(stream.subarray(start, p));
    start = p;
  }
  return chunks;
}

function decodeAll(decoder: FrameDecoder, chunks: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) decoder.push(c, (p) => out.push(Uint8Array.from(p)));
  return out;
}

describe('frame decoder', () => {
  it('yields the same frames for arbitrary chunk splits', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (payloads, cuts) => {
          const stream = Buffer.concat(payloads.map(frame));
          const decoder = new FrameDecoder(1024);
          const got = decodeAll(decoder, split(stream, cuts));
          assert.deepStrictEqual(
            got,
            payloads.map((p) => Uint8Array.from(p)),
          );
          assert.equal(decoder.bufferedBytes, 0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reassembles encoded messages fed one byte at a time', () => {
    fc.assert(
      fc.property(fc.array(anyMessage, { maxLength: 8 }), (messages) => {
        const stream = Buffer.concat(messages.map(encodeMessageFrame));
        const oneByteChunks = [...stream].map((b) => Uint8Array.of(b));
        const got = decodeAll(new FrameDecoder(), oneByteChunks).map(decodeMessage);
        assert.deepStrictEqual(got, messages);
      }),
      { numRuns: 100 },
    );
  });

  it('hands out frames that lie inside one chunk as views of it, without copying', () => {
    const stream = Buffer.concat([frame(Buffer.from('abc')), frame(Buffer.from('defg'))]);
    const views: Uint8Array[] = [];
    new FrameDecoder().push(stream, (p) => views.push(p));
    assert.equal(views.length, 2);
    for (const v of views) assert.equal(v.buffer, stream.buffer);
  });

  it('accepts empty frames', () => {
    assert.deepStrictEqual(decodeAll(new FrameDecoder(), [frame(new Uint8Array(0))]), [new Uint8Array(0)]);
  });

  it('delivers the frames before an oversized one, then throws FrameTooLargeError', () => {
    const stream = Buffer.concat([frame(Buffer.from('ok')), frame(Buffer.alloc(17))]);
    const got: Uint8Array[] = [];
    assert.throws(
      () => new FrameDecoder(16).push(stream, (p) => got.push(p)),
      (err: unknown) => err instanceof FrameTooLargeError && err.size === 17 && err.max === 16,
    );
    assert.deepStrictEqual(
      got.map((g) => Buffer.from(g).toString()),
      ['ok'],
    );
  });

  it('checks the limit as soon as the header is complete, before the payload arrives', () => {
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(0xffffffff);
    const decoder = new FrameDecoder(1024);
    decoder.push(header.subarray(0, 2), () => {});
    assert.throws(() => decoder.push(header.subarray(2), () => {}), FrameTooLargeError);
  });

  it('applies a raised limit to the frames that follow', () => {
    const decoder = new FrameDecoder(4);
    assert.throws(() => decoder.push(frame(Buffer.alloc(5)), () => {}), FrameTooLargeError);
    const next = new FrameDecoder(4);
    next.setMaxFrameBytes(8);
    assert.equal(decodeAll(next, [frame(Buffer.alloc(5))]).length, 1);
  });
});
