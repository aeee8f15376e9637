// Binary primitives shared by the command codec and the snapshot format: a growable writer, a
// bounds-checked reader, LEB128 varints, length-prefixed UTF-8 strings and CRC-32.
// Everything is pure computation (TextEncoder/TextDecoder are part of the language platform), so
// the state machine stays deterministic.

import { crc32 as nativeCrc32 } from '@node-rs/crc32';

const encoder = new TextEncoder();
// fatal: invalid UTF-8 is an error, not U+FFFD (two different byte strings must never decode to
// the same key). ignoreBOM: a leading U+FEFF is part of the key, not a marker to strip.
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes a varuint encoding of `n` takes. */
export function varuintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 0x80);
    size++;
  }
  return size;
}

export class ByteWriter {
  private buf: Uint8Array;
  private pos = 0;

  constructor(initialCapacity = 256) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
  }

  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    const need = this.pos + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32le(v: number): void {
    this.ensure(4);
    const b = this.buf;
    b[this.pos++] = v & 0xff;
    b[this.pos++] = (v >>> 8) & 0xff;
    b[this.pos++] = (v >>> 16) & 0xff;
    b[this.pos++] = (v >>> 24) & 0xff;
  }

  /** Unsigned LEB128 of an integer in [0, 2^53). Uses arithmetic, not bit ops, past 32 bits. */
  varuint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`varuint out of range: ${n}`);
    this.ensure(8);
    const b = this.buf;
    while (n >= 0x80) {
      b[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    b[this.pos++] = n;
  }

  bytes(src: Uint8Array): void {
    this.ensure(src.length);
    this.buf.set(src, this.pos);
    this.pos += src.length;
  }

  /**
   * Varuint byte length, then the UTF-8 bytes. Encodes straight into the buffer: the prefix is
   * sized for the worst case (3 bytes per UTF-16 unit) and the bytes are shifted left in the rare
   * case the real length needs a shorter prefix. Strings of ≤ 42 units never shift.
   */
  string(s: string): void {
    const maxBytes = s.length * 3;
    const reserved = varuintSize(maxBytes);
    // 8 ≥ any prefix, so the varuint() below never reallocates away the bytes just encoded.
    this.ensure(8 + maxBytes);
    const start = this.pos + reserved;
    const { written } = encoder.encodeInto(s, this.buf.subarray(start));
    const actual = varuintSize(written);
    this.varuint(written);
    if (actual !== reserved) this.buf.copyWithin(this.pos, start, start + written);
    this.pos += written;
  }

  /** A copy of everything written so far (exactly sized). */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }

  /** A copy of everything written so far; the writer is then empty and reusable. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    return out;
  }
}

/** Reads what ByteWriter wrote. Every read is bounds-checked and reports through `fail`. */
export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly fail: (message: string, offset: number) => Error,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  error(message: string): Error {
    return this.fail(message, this.pos);
  }

  u8(): number {
    if (this.pos >= this.buf.length) throw this.error('unexpected end of input');
    return this.buf[this.pos++]!;
  }

  u32le(): number {
    if (this.remaining < 4) throw this.error('unexpected end of input');
    const b = this.buf;
    const p = this.pos;
    this.pos += 4;
    return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
  }

  varuint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const byte = this.u8();
      result += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) {
        if (!Number.isSafeInteger(result)) throw this.error('varuint exceeds 2^53');
        // Reject non-minimal encodings (trailing zero groups) so each value has one encoding.
        if (i > 0 && byte === 0) throw this.error('non-minimal varuint');
        return result;
      }
      scale *= 0x80;
    }
    throw this.error('varuint longer than 8 bytes');
  }

  bytes(length: number): Uint8Array {
    if (length > this.remaining)
      throw this.error(`length ${length} exceeds remaining ${this.remaining} bytes`);
    const out = this.buf.subarray(this.pos, this.pos + length);
    this.pos += length;
    return out;
  }

  string(): string {
    const length = this.varuint();
    const at = this.pos;
    const raw = this.bytes(length);
    try {
      return decoder.decode(raw);
    } catch {
      throw this.fail('invalid UTF-8', at);
    }
  }

  expectEnd(): void {
    if (this.remaining !== 0) throw this.error(`${this.remaining} trailing bytes`);
  }
}

/**
 * CRC-32 (IEEE 802.3, as in zlib) of `bytes`, continuing from `previous` (start with 0): the
 * project's native implementation, which uses the CPU's CRC instructions.
 */
export function crc32(bytes: Uint8Array, previous = 0): number {
  return nativeCrc32(bytes, previous) >>> 0;
}
