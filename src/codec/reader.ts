// ByteReader reads what ByteWriter wrote, under one policy for every format: every read is
// bounds-checked; varuints must be canonical (varuint.ts); strings must be valid UTF-8 (utf8.ts);
// end() refuses trailing bytes. So every byte string a decoder accepts re-encodes to itself.
// Every failure is a CodecError naming the field and the byte offset. Byte strings are returned
// as views into the input (no copy), as plain Uint8Arrays even when the input is a Buffer.

import { CodecError } from './errors.js';
import { utf8Decoder } from './utf8.js';
import { VARUINT_MAX_BYTES } from './varuint.js';

/** The little-endian u32 at `at` in `b` (the caller checks the bounds). */
export function u32leAt(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** The big-endian u32 at `at` in `b` (the caller checks the bounds). */
export function u32beAt(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}

/** Strings up to this many bytes are first tried as ASCII: a loop beats a native call. */
const SHORT_STRING_BYTES = 32;

export class ByteReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    /** What is being read, for errors: 'message', 'WAL record', 'command'… */
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  /** Throws a CodecError for the input, at `at` (default: the current offset). */
  fail(reason: string, at = this.pos): never {
    throw new CodecError(this.what, reason, at);
  }

  private need(n: number, field: string): void {
    if (this.buf.length - this.pos < n) {
      this.fail(`truncated: ${field} needs ${n} byte(s), ${this.buf.length - this.pos} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.buf[this.pos++]!;
  }

  /** One byte, 0 or 1. */
  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) this.fail(`${field} must be 0 or 1, got ${v}`, this.pos - 1);
    return v === 1;
  }

  /** A little-endian u32. */
  u32le(field: string): number {
    this.need(4, field);
    this.pos += 4;
    return u32leAt(this.buf, this.pos - 4);
  }

  varuint(field: string): number {
    const b = this.buf;
    const start = this.pos;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < VARUINT_MAX_BYTES; i++) {
      if (this.pos >= b.length) this.fail(`truncated: ${field} varint is cut short`);
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) this.fail(`${field} varint is not in its shortest form`, start);
        if (result > Number.MAX_SAFE_INTEGER) this.fail(`${field} exceeds Number.MAX_SAFE_INTEGER`, start);
        return result;
      }
      scale *= 128;
    }
    return this.fail(`${field} varint is longer than ${VARUINT_MAX_BYTES} bytes`, start);
  }

  /** An element count, refused at once when the bytes left cannot hold that many elements. */
  count(field: string, minBytesEach: number): number {
    const at = this.pos;
    const n = this.varuint(field);
    if (n * minBytesEach > this.remaining) {
      this.fail(`truncated: ${field} is ${n} but only ${this.remaining} byte(s) follow`, at);
    }
    return n;
  }

  /** A varuint byte length, then that many bytes of UTF-8. */
  string(field: string): string {
    const length = this.varuint(field);
    this.need(length, field);
    const b = this.buf;
    const start = this.pos;
    const end = start + length;
    this.pos = end;
    if (length <= SHORT_STRING_BYTES) {
      let s = '';
      let i = start;
      for (; i < end; i++) {
        const c = b[i]!;
        if (c >= 0x80) break;
        s += String.fromCharCode(c);
      }
      if (i === end) return s;
    }
    try {
      return utf8Decoder.decode(b.subarray(start, end));
    } catch {
      return this.fail(`${field} is not valid UTF-8`, start);
    }
  }

  /** A varuint length, then that many bytes (a view into the input). */
  bytes(field: string): Uint8Array {
    return this.raw(this.varuint(field), field);
  }

  /** The next `length` bytes (a view into the input). */
  raw(length: number, field: string): Uint8Array {
    this.need(length, field);
    const view = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, length);
    this.pos += length;
    return view;
  }

  /** Decoders call this last: trailing bytes mean the writer and the reader disagree. */
  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing byte(s)`);
  }
}
