// Length-prefixed framing over a byte stream: each frame is a 4-byte big-endian payload length
// followed by the payload. The decoder is a small state machine fed arbitrary TCP chunks: frames
// split across chunks are reassembled, frames coalesced within one chunk are split out.
//
// Frames that lie wholly inside one chunk are handed out as views of that chunk (no copy); a frame
// that spans chunks is assembled into a buffer of its exact size (one copy). Chunks and assembled
// buffers are never reused, so views stay valid for as long as anyone holds them.
//
// No CRC: TCP (and Ethernet's CRC-32 below it) already checks every segment, the codec rejects
// any structurally invalid payload, and a per-byte checksum in JavaScript would cost more than the
// rest of the receive path for large snapshots. Deployments that need end-to-end integrity against
// hostile or faulty middleboxes should run the peer port over TLS.

import { AssertionError } from '../assert.js';
import { ByteWriter, u32beAt } from '../codec/index.js';
import type { Message } from '../raft/types.js';
import { measureMessage, writeMessage } from './codec.js';
import { FrameTooLargeError } from './errors.js';

export const FRAME_HEADER_BYTES = 4;
/** Default largest payload accepted: big enough for a batch of entries, small enough to bound memory. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** The wire cannot express more than this in the 4-byte header. */
export const ABSOLUTE_MAX_FRAME_BYTES = 0xffffffff;

/**
 * The frame whose payload `write` writes in exactly `payloadSize` bytes (measured first): one
 * allocation of the exact size, the payload written straight into it, no copy. `value`, if given,
 * is passed on to `write` (a hot path then needs no closure).
 */
export function encodeFrame(payloadSize: number, write: (w: ByteWriter) => void): Buffer;
export function encodeFrame<T>(
  payloadSize: number,
  write: (w: ByteWriter, value: T) => void,
  value: T,
): Buffer;
export function encodeFrame<T>(
  payloadSize: number,
  write: (w: ByteWriter, value?: T) => void,
  value?: T,
): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadSize);
  const w = new ByteWriter(frame);
  w.u32be(payloadSize);
  write(w, value);
  // A measuring bug (the message is built only when it fires: this is the hot path).
  if (w.length !== frame.length) {
    throw new AssertionError(`frame payload measured as ${payloadSize} bytes, written ${w.length - 4}`);
  }
  return frame;
}

/** The frame carrying `m`; throws CodecError if `m` cannot be encoded. */
export function encodeMessageFrame(m: Message): Buffer {
  return encodeFrame(measureMessage(m), writeMessage, m);
}

export class FrameDecoder {
  private readonly header = Buffer.alloc(FRAME_HEADER_BYTES);
  private headerFilled = 0;
  /** The frame being assembled across chunks, or null between frames. */
  private partial: Buffer | null = null;
  private partialFilled = 0;

  constructor(private maxFrameBytes: number = DEFAULT_MAX_FRAME_BYTES) {}

  /** Changes the limit for frames whose header has not been read yet (e.g. after a handshake). */
  setMaxFrameBytes(max: number): void {
    this.maxFrameBytes = max;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.headerFilled + this.partialFilled;
  }

  /**
   * Feeds one chunk; calls `onFrame` for each complete payload, in order. Throws
   * FrameTooLargeError, after delivering the frames before it, when a header exceeds the limit;
   * the stream cannot be resynchronised after that, so the caller must close the connection.
   */
  push(chunk: Uint8Array, onFrame: (payload: Uint8Array) => void): void {
    let off = 0;
    const end = chunk.length;
    while (off < end) {
      const partial = this.partial;
      if (partial !== null) {
        const take = Math.min(partial.length - this.partialFilled, end - off);
        partial.set(chunk.subarray(off, off + take), this.partialFilled);
        this.partialFilled += take;
        off += take;
        if (this.partialFilled === partial.length) {
          this.partial = null;
          this.partialFilled = 0;
          onFrame(partial);
        }
        continue;
      }

      let size: number;
      if (this.headerFilled === 0 && end - off >= FRAME_HEADER_BYTES) {
        size = u32beAt(chunk, off);
        off += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, end - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFilled);
        this.headerFilled += take;
        off += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) return;
        this.headerFilled = 0;
        size = u32beAt(this.header, 0);
      }

      if (size > this.maxFrameBytes) throw new FrameTooLargeError(size, this.maxFrameBytes);
      if (end - off >= size) {
        onFrame(chunk.subarray(off, off + size));
        off += size;
      } else {
        this.partial = Buffer.allocUnsafe(size);
        this.partialFilled = 0;
      }
    }
  }
}
