// ByteWriter appends the codec's primitives to a buffer that grows as needed. Given a buffer of
// exactly the size to be written (measured first), it fills it with no growth and no copy: take()
// then hands over that very buffer.

import { CodecError } from './errors.js';
import { isWellFormed, utf8Encoder, utf8Length } from './utf8.js';
import { isVaruint, varuintSize } from './varuint.js';

/** A buffer grown past this size is dropped at take() rather than kept for the next use. */
const SHRINK_ABOVE_BYTES = 4 * 1024 * 1024;
/** Strings up to this many UTF-16 units are first tried as ASCII: a loop beats a native call. */
const SHORT_STRING_UNITS = 64;
const EMPTY = new Uint8Array(0);

export class ByteWriter {
  private buf: Uint8Array;
  /** buf.length, kept in a field: every write compares against it. */
  private capacity: number;
  private pos = 0;
  private readonly initialCapacity: number;

  /**
   * `initial`: the capacity to start with, or the buffer to write into (one of exactly the
   * measured size makes writing copy-free; the writer still grows past it if it must).
   */
  constructor(initial: number | Uint8Array = 256) {
    const buf = typeof initial === 'number' ? new Uint8Array(initial) : initial;
    this.buf = buf;
    this.capacity = buf.length;
    this.initialCapacity = buf.length;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.pos;
  }

  private ensure(extra: number): void {
    if (this.pos + extra > this.capacity) this.grow(this.pos + extra);
  }

  private grow(need: number): void {
    let capacity = Math.max(64, this.initialCapacity, this.capacity * 2);
    while (capacity < need) capacity *= 2;
    const next = new Uint8Array(capacity);
    next.set(this.buf.subarray(0, this.pos));
    this.setBuffer(next);
  }

  private setBuffer(buf: Uint8Array): void {
    this.buf = buf;
    this.capacity = buf.length;
  }

  private cannot(what: string): CodecError {
    return new CodecError('output', `cannot encode ${what}`, this.pos);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  /** One byte, 0 or 1. */
  bool(v: boolean): void {
    this.u8(v ? 1 : 0);
  }

  /** A little-endian u32 (the storage and kv formats' fixed-width fields). */
  u32le(v: number): void {
    this.ensure(4);
    this.patchU32le(this.pos, v);
    this.pos += 4;
  }

  /** A big-endian u32 (the peer wire's frame length). */
  u32be(v: number): void {
    this.ensure(4);
    this.patchU32be(this.pos, v);
    this.pos += 4;
  }

  /** Overwrites 4 bytes written (or reserved) earlier, little-endian. */
  patchU32le(at: number, v: number): void {
    const b = this.buf;
    b[at] = v & 0xff;
    b[at + 1] = (v >>> 8) & 0xff;
    b[at + 2] = (v >>> 16) & 0xff;
    b[at + 3] = (v >>> 24) & 0xff;
  }

  /** Overwrites 4 bytes written (or reserved) earlier, big-endian. */
  patchU32be(at: number, v: number): void {
    const b = this.buf;
    b[at] = (v >>> 24) & 0xff;
    b[at + 1] = (v >>> 16) & 0xff;
    b[at + 2] = (v >>> 8) & 0xff;
    b[at + 3] = v & 0xff;
  }

  /** An unsigned LEB128 varint (varuint.ts) of a safe integer ≥ 0. */
  varuint(n: number): void {
    // The common case in one test: below 2^32, and room for the 5 bytes that can take.
    const start = this.pos;
    if (n >>> 0 === n && start + 5 <= this.capacity) {
      const b = this.buf;
      let p = start;
      let v = n;
      while (v >= 0x80) {
        b[p++] = (v & 0x7f) | 0x80;
        v >>>= 7;
      }
      b[p++] = v;
      this.pos = p;
      return;
    }
    this.varuintChecked(n);
  }

  /** Any safe integer, at the end of a buffer of exactly the measured size, too. */
  private varuintChecked(n: number): void {
    if (!isVaruint(n)) this.notVaruint(n);
    this.ensure(varuintSize(n));
    const b = this.buf;
    let p = this.pos;
    let v = n;
    while (v >= 0x80) {
      // `& 0x7f` is exact for any safe integer (ToInt32 keeps the low 32 bits); `>>>` is not
      // past 2^32, hence the division there.
      b[p++] = (v & 0x7f) | 0x80;
      v = v < 0x80000000 ? v >>> 7 : Math.floor(v / 128);
    }
    b[p++] = v;
    this.pos = p;
  }

  private notVaruint(n: number): never {
    throw this.cannot(`${String(n)} as a varuint: not a non-negative safe integer`);
  }

  /** Varuint byte length, then the UTF-8 bytes (utf8.ts has the rules). */
  string(s: string): void {
    const units = s.length;
    if (units <= SHORT_STRING_UNITS) {
      // Node ids, most keys: ASCII, one length byte.
      this.ensure(1 + units);
      const b = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < units; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[start + i] = c;
      }
      if (i === units) {
        b[this.pos] = units;
        this.pos = start + units;
        return;
      }
    }
    const maxBytes = 3 * units;
    const reserved = varuintSize(maxBytes);
    if (this.capacity - this.pos >= reserved + maxBytes) {
      // encodeInto would turn a lone surrogate into U+FFFD silently.
      if (!isWellFormed(s)) throw this.cannot('a string with a lone surrogate');
      // Room for the worst case: encode in place behind a prefix of the worst-case size, then
      // shift the bytes left in the (rare) case their real length needs a shorter prefix.
      const start = this.pos + reserved;
      const { written } = utf8Encoder.encodeInto(s, this.buf.subarray(start));
      this.varuint(written);
      if (this.pos !== start) this.buf.copyWithin(this.pos, start, start + written);
      this.pos += written;
      return;
    }
    const bytes = utf8Length(s);
    if (bytes < 0) throw this.cannot('a string with a lone surrogate');
    this.varuint(bytes);
    this.ensure(bytes);
    utf8Encoder.encodeInto(s, this.buf.subarray(this.pos, this.pos + bytes));
    this.pos += bytes;
  }

  /** Varuint length, then the bytes. */
  bytes(data: Uint8Array): void {
    this.varuint(data.length);
    this.raw(data);
  }

  /** The bytes as they are, no length. */
  raw(data: Uint8Array): void {
    const n = data.length;
    this.ensure(n);
    this.buf.set(data, this.pos);
    this.pos += n;
  }

  /** Reserves `n` zero bytes to be patched later (a frame header); returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.buf.fill(0, at, at + n);
    this.pos += n;
    return at;
  }

  /** A view of bytes written, valid until the next write. */
  view(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
  }

  /**
   * Hands over everything written and empties the writer. A buffer written exactly full (the
   * measure-then-write path) is handed over itself; otherwise the bytes are copied out and the
   * buffer kept for the next use (a copy costs far less than a new zero-filled buffer of the full
   * capacity per call), unless it grew past 4 MiB.
   */
  take(): Uint8Array {
    const buf = this.buf;
    const n = this.pos;
    this.pos = 0;
    if (n === this.capacity) {
      this.setBuffer(EMPTY);
      return buf;
    }
    if (this.capacity > SHRINK_ABOVE_BYTES) this.setBuffer(EMPTY);
    return buf.slice(0, n);
  }
}
