// The frame around every record on disk:
//
//   u32 LE  payload length
//   u32 LE  CRC32C of the payload
//   u32 LE  CRC32C of the 8 bytes above
//   payload (first byte: the record kind)
//
// The header has its own checksum so that a damaged length field is recognised as damage: without
// it a flipped bit in a length could make a record in the middle of a segment look like one that
// runs past the end of the file, i.e. like a torn write, and recovery would drop what follows.

import { type ByteWriter, crc32c, u32leAt } from '../codec/index.js';

export const FRAME_HEADER_SIZE = 12;
/** No record is this large; a length above it is damage, not data. */
export const MAX_PAYLOAD = 1 << 30;

/** Reserves a frame header in `w`; write the payload next, then call endFrame with the result. */
export function beginFrame(w: ByteWriter): number {
  return w.reserve(FRAME_HEADER_SIZE);
}

export function endFrame(w: ByteWriter, start: number): void {
  const payloadStart = start + FRAME_HEADER_SIZE;
  const len = w.length - payloadStart;
  if (len <= 0 || len > MAX_PAYLOAD) throw new RangeError(`record payload of ${len} bytes`);
  w.patchU32le(start, len);
  w.patchU32le(start + 4, crc32c(w.view(payloadStart, w.length)));
  w.patchU32le(start + 8, headerCrc(w.view(start, start + 8), 0));
}

/** CRC32C's table (reflected polynomial 0x82F63B78), for headerCrc. */
const CRC32C_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/**
 * CRC32C of the 8 header bytes at `at` in `b` — the same value crc32c gives, computed here: for 8
 * bytes a table lookup per byte is over ten times cheaper than a call into the native checksum,
 * and recovery checks one header per record (10^6 of them for a WAL of 10^6 entries).
 */
export function headerCrc(b: Uint8Array, at: number): number {
  let c = -1;
  for (let i = at; i < at + 8; i++) c = CRC32C_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

export type FrameRead =
  | { readonly ok: true; readonly payload: Uint8Array; readonly end: number }
  | {
      readonly ok: false;
      readonly problem: string;
      /**
       * Where an independent record could begin after this damage: just past the damaged frame
       * when its header is intact (its payload may hold any bytes, even frame-like ones), the next
       * byte when the header is damaged, null when an intact header claims the rest of the file.
       */
      readonly resumeAt: number | null;
    };

/** Reads and verifies the frame at `offset`. Never throws: the caller decides what damage means. */
export function readFrame(buf: Uint8Array, offset: number): FrameRead {
  const remaining = buf.length - offset;
  if (remaining < FRAME_HEADER_SIZE) {
    return {
      ok: false,
      problem: `incomplete frame header (${remaining} bytes before end of file)`,
      resumeAt: null,
    };
  }
  if (headerCrc(buf, offset) !== u32leAt(buf, offset + 8)) {
    return { ok: false, problem: 'frame header checksum mismatch', resumeAt: offset + 1 };
  }
  const len = u32leAt(buf, offset);
  if (len === 0 || len > MAX_PAYLOAD) {
    return { ok: false, problem: `implausible record length ${len}`, resumeAt: offset + 1 };
  }
  const start = offset + FRAME_HEADER_SIZE;
  if (start + len > buf.length) {
    return {
      ok: false,
      problem: `record of ${len} bytes runs past end of file (${remaining - FRAME_HEADER_SIZE} left)`,
      resumeAt: null,
    };
  }
  const payload = buf.subarray(start, start + len);
  if (crc32c(payload) !== u32leAt(buf, offset + 4)) {
    return { ok: false, problem: 'record checksum mismatch', resumeAt: start + len };
  }
  return { ok: true, payload, end: start + len };
}

/**
 * Offset of the first intact frame starting at or after `from`, or -1. Recovery uses it to tell a
 * torn tail (nothing intact follows the damage) from corruption (intact records follow it).
 */
export function findFrameAfter(buf: Uint8Array, from: number): number {
  for (let at = from; at + FRAME_HEADER_SIZE < buf.length; at++) {
    // Cheap plausibility test before any checksum: most garbage fails it.
    const len = u32leAt(buf, at);
    if (len === 0 || len > buf.length - at - FRAME_HEADER_SIZE) continue;
    if (readFrame(buf, at).ok) return at;
  }
  return -1;
}
