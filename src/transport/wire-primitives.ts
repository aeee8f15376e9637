// Cursor-style writer and reader for the primitives every frame is built from: bytes, booleans,
// unsigned LEB128 varints, big-endian u32, length-prefixed UTF-8 strings and byte strings.
//
// Numbers: Raft indexes and terms are JS numbers that may exceed 2^32, so varints are computed
// with arithmetic above 2^31 (bitwise operators would truncate) and are exact up to
// Number.MAX_SAFE_INTEGER (8 varint bytes hold 56 bits). The reader accepts only the canonical
// (shortest) encoding of each value, so every accepted byte string re-encodes to itself.
//
// The writer fills a buffer whose exact size was measured first: nothing grows, nothing is
// copied twice. The reader never allocates for byte strings: it returns views into its input.

import { CodecError } from './errors.js';

const MAX_VARUINT_BYTES = 8;

/** Lone UTF-16 surrogates cannot be encoded as UTF-8; with the `u` flag a valid pair never matches. */
const LONE_SURROGATE = /\p{Cs}/u;

/** Strict so that malformed bytes fail loudly; keeps a leading BOM so strings round-trip exactly. */
const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function checkUint(n: number, field: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new CodecError(`cannot encode ${field}: ${String(n)} is not a non-negative safe integer`);
  }
}

export function varUintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  if (n < 0x800000000) return 5;
  if (n < 0x40000000000) return 6;
  if (n < 0x2000000000000) return 7;
  return 8;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) >= 0x80) return false;
  }
  return true;
}

/** UTF-8 byte length of `s`; rejects strings that UTF-8 cannot represent. */
export function utf8Length(s: string, field: string): number {
  if (isAscii(s)) return s.length;
  if (LONE_SURROGATE.test(s)) throw new CodecError(`cannot encode ${field}: string has a lone surrogate`);
  return Buffer.byteLength(s, 'utf8');
}

/** Size on the wire of a length-prefixed string (validating it). */
export function stringSize(s: string, field: string): number {
  const n = utf8Length(s, field);
  return varUintSize(n) + n;
}

/** Size on the wire of a varint (validating the number). */
export function uintSize(n: number, field: string): number {
  checkUint(n, field);
  return varUintSize(n);
}

/** Writes into a pre-sized buffer. Callers validate through the *Size functions first. */
export class WireWriter {
  constructor(
    readonly buf: Buffer,
    public pos = 0,
  ) {}

  u8(v: number): void {
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }

  varUint(n: number): void {
    const b = this.buf;
    let p = this.pos;
    let v = n;
    while (v >= 0x80) {
      // `& 0x7f` is exact for any safe integer: ToInt32 keeps the low 32 bits.
      b[p++] = (v & 0x7f) | 0x80;
      v = v < 0x80000000 ? v >>> 7 : Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  string(s: string): void {
    const byteLength = isAscii(s) ? s.length : Buffer.byteLength(s, 'utf8');
    this.varUint(byteLength);
    if (byteLength === s.length && byteLength <= 32) {
      // Node ids are short ASCII: a loop beats a call into the native encoder.
      const b = this.buf;
      const p = this.pos;
      for (let i = 0; i < byteLength; i++) b[p + i] = s.charCodeAt(i);
    } else {
      this.buf.write(s, this.pos, byteLength, byteLength === s.length ? 'latin1' : 'utf8');
    }
    this.pos += byteLength;
  }

  bytes(data: Uint8Array): void {
    this.varUint(data.length);
    this.raw(data);
  }

  raw(data: Uint8Array): void {
    this.buf.set(data, this.pos);
    this.pos += data.length;
  }
}

/** Reads with bounds checks; every failure is a CodecError naming the field and the offset. */
export class WireReader {
  private pos = 0;

  constructor(
    private readonly buf: Uint8Array,
    private readonly what: string,
  ) {}

  get offset(): number {
    return this.pos;
  }

  remaining(): number {
    return this.buf.length - this.pos;
  }

  fail(problem: string): never {
    throw new CodecError(`${this.what}: ${problem} (at byte ${this.pos} of ${this.buf.length})`);
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

  bool(field: string): boolean {
    const v = this.u8(field);
    if (v > 1) this.fail(`${field} must be 0 or 1, got ${v}`);
    return v === 1;
  }

  varUint(field: string): number {
    const b = this.buf;
    let result = 0;
    let scale = 1;
    for (let i = 0; i < MAX_VARUINT_BYTES; i++) {
      if (this.pos >= b.length) this.fail(`truncated: ${field} varint is cut short`);
      const byte = b[this.pos++]!;
      result += (byte & 0x7f) * scale;
      if (byte < 0x80) {
        if (byte === 0 && i > 0) this.fail(`${field} varint is not in its shortest form`);
        if (result > Number.MAX_SAFE_INTEGER) this.fail(`${field} exceeds Number.MAX_SAFE_INTEGER`);
        return result;
      }
      scale *= 128;
    }
    return this.fail(`${field} varint is longer than ${MAX_VARUINT_BYTES} bytes`);
  }

  /** An element count, rejected early when the remaining bytes cannot hold that many elements. */
  count(field: string, minBytesEach: number): number {
    const n = this.varUint(field);
    if (n * minBytesEach > this.remaining()) {
      this.fail(`truncated: ${field} is ${n} but only ${this.remaining()} byte(s) follow`);
    }
    return n;
  }

  string(field: string): string {
    const len = this.varUint(field);
    this.need(len, field);
    const start = this.pos;
    const end = start + len;
    const b = this.buf;
    this.pos = end;
    if (len <= 32) {
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
      this.pos = start;
      return this.fail(`${field} is not valid UTF-8`);
    }
  }

  /** A length-prefixed byte string, as a view into the input (no copy). */
  bytes(field: string): Uint8Array {
    const len = this.varUint(field);
    return this.raw(len, field);
  }

  /** `len` bytes as a plain Uint8Array view into the input (never a Buffer, so values compare equal). */
  raw(len: number, field: string): Uint8Array {
    this.need(len, field);
    const view = new Uint8Array(this.buf.buffer, this.buf.byteOffset + this.pos, len);
    this.pos += len;
    return view;
  }

  end(): void {
    if (this.pos !== this.buf.length) this.fail(`${this.buf.length - this.pos} trailing byte(s)`);
  }
}
