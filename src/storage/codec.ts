// Little binary writer/reader used by every on-disk format here. Numbers that can grow large
// (indexes, terms, lengths) are unsigned LEB128 varints, so small values cost one or two bytes;
// fixed-width fields (checksums, magic numbers) are little-endian u32.

/** Thrown when bytes that passed their checksum still do not decode: a format bug or version skew. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** A writer's buffer past this size is dropped at take(), not kept for the next batch. */
const shrinkAboveBytes = 4 * 1024 * 1024;

export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;

  constructor(private readonly initialCapacity = 256) {
    this.buf = new Uint8Array(initialCapacity);
    this.view = new DataView(this.buf.buffer);
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
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** Overwrites a u32 written earlier (used to fill in a frame header once the payload is known). */
  u32At(offset: number, v: number): void {
    this.view.setUint32(offset, v >>> 0, true);
  }

  varint(v: number): void {
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`varint out of range: ${v}`);
    this.ensure(8);
    let n = v;
    // Division rather than shifts: JS bit operations truncate to 32 bits.
    while (n >= 0x80) {
      this.buf[this.pos++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.pos++] = n;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-prefixed UTF-8. */
  string(s: string): void {
    const b = textEncoder.encode(s);
    this.varint(b.length);
    this.bytes(b);
  }

  /** Reserves n bytes to be filled later; returns their offset. */
  skip(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.buf.fill(0, at, at + n);
    this.pos += n;
    return at;
  }

  /** A view of the bytes written between two offsets (valid until the next write). */
  written(from: number, to: number): Uint8Array {
    return this.buf.subarray(from, to);
  }

  /**
   * Hands over a copy of the written bytes and starts afresh, keeping the buffer. A copy of what
   * was written costs far less than a new zero-filled buffer of the full capacity per call: the WAL
   * takes a batch per fsync, and a fresh 64 KiB–1 MiB buffer each time was hundreds of MB/s of
   * allocation, enough to keep V8's old-space collector running several times a second.
   */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.pos);
    this.pos = 0;
    // A rare huge batch (a snapshot marker with big entries) does not pin its buffer for good.
    if (this.buf.length > shrinkAboveBytes) {
      this.buf = new Uint8Array(this.initialCapacity);
      this.view = new DataView(this.buf.buffer);
    }
    return out;
  }
}

export class ByteReader {
  private pos = 0;
  private readonly view: DataView;

  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.buf.length - this.pos;
  }

  private need(n: number): void {
    if (this.pos + n > this.buf.length) {
      throw new DecodeError(`needed ${n} bytes at ${this.pos}, only ${this.buf.length - this.pos} left`);
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      result += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(result)) throw new DecodeError(`varint beyond 2^53 at ${this.pos}`);
        return result;
      }
      scale *= 0x80;
    }
    throw new DecodeError(`varint longer than 8 bytes at ${this.pos}`);
  }

  bytes(n: number): Uint8Array {
    this.need(n);
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** Everything left, copied so it does not pin the (possibly large) buffer it came from. */
  rest(): Uint8Array {
    const out = this.buf.slice(this.pos);
    this.pos = this.buf.length;
    return out;
  }

  string(): string {
    const n = this.varint();
    try {
      return textDecoder.decode(this.bytes(n));
    } catch (e) {
      if (e instanceof DecodeError) throw e;
      throw new DecodeError(`invalid UTF-8 string at ${this.pos - n}`);
    }
  }

  /** Decoders call this last: trailing bytes mean the writer and reader disagree on the format. */
  end(): void {
    if (this.pos !== this.buf.length) {
      throw new DecodeError(`${this.buf.length - this.pos} unexpected trailing bytes`);
    }
  }
}
