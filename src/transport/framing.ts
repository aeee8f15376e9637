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

import type { Message } from '../raft/types.js';
import { measureMessage, writeMessage } from './codec.js';
import { FrameTooLargeError } from './errors.js';
import { WireWriter } from './wire-primitives.js';

export const FRAME_HEADER_BYTES = 4;
/** Default largest payload accepted: big enough for a batch of entries, small enough to bound memory. */
export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
/** The wire cannot express more than this in the 4-byte header. */
export const ABSOLUTE_MAX_FRAME_BYTES = 0xffffffff;

/**
 * Allocates a frame whose payload is `payloadSize` bytes, writes the header, and returns a writer
 * positioned at the start of the payload.
 */
export function allocFrame(payloadSize: number): WireWriter {
  const w = new WireWriter(Buffer.allocUnsafe(FRAME_HEADER_BYTES + payloadSize));
  w.u32(payloadSize);
  return w;
}

/** The frame carrying `m`; throws CodecError if `m` cannot be encoded. */
export function encodeMessageFrame(m: Message): Buffer {
  const w = allocFrame(measureMessage(m));
  writeMessage(w, m);
  return w.buf;
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
        size =
          ((chunk[off]! << 24) | (chunk[off + 1]! << 16) | (chunk[off + 2]! << 8) | chunk[off + 3]!) >>> 0;
        off += FRAME_HEADER_BYTES;
      } else {
        const take = Math.min(FRAME_HEADER_BYTES - this.headerFilled, end - off);
        this.header.set(chunk.subarray(off, off + take), this.headerFilled);
        this.headerFilled += take;
        off += take;
        if (this.headerFilled < FRAME_HEADER_BYTES) return;
        this.headerFilled = 0;
        size = this.header.readUInt32BE(0);
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
