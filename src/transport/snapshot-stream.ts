// InstallSnapshot carries the whole state machine, which may be far larger than a frame. The
// sender streams it as one SnapshotBegin frame (metadata and data length) followed by chunk
// frames of bounded size; the receiver reassembles them and delivers one ordinary InstallSnapshot
// message. So maxFrameBytes bounds every frame while snapshots are bounded only by
// maxSnapshotBytes, and other messages can be interleaved between chunks.
//
// A snapshot held in memory is never copied by the sender: each chunk is written to the socket
// as a small header plus a view into the snapshot's data. A snapshot the node keeps in its file
// (the message carries a reference, StoredSnapshotData) is read from the file a chunk at a time
// and checked as it goes (snapshot-file-chunks.ts); the frames are the same either way. The
// receiver copies each chunk once, into a buffer of the announced size allocated when the stream
// begins.

import { assert } from '../assert.js';
import { CodecError } from '../codec/index.js';
import { heldSnapshotData } from '../raft/snapshot-data.js';
import type { InstallSnapshot } from '../raft/types.js';
import { encodeSnapshotBeginFrame, encodeSnapshotChunkHeader } from './control-frames.js';
import { FileChunks, type FileStreamEvents } from './snapshot-file-chunks.js';
import type { SnapshotFiles } from './types.js';

/** Default data bytes per chunk frame: small enough that a heartbeat behind one waits only milliseconds. */
export const DEFAULT_SNAPSHOT_CHUNK_BYTES = 512 * 1024;
export const DEFAULT_MAX_SNAPSHOT_BYTES = 1024 * 1024 * 1024;

/** Times a snapshot stream may be cut off by a broken connection and resent from the start. */
export const MAX_SNAPSHOT_RESTARTS = 3;

/** Where a stream of a snapshot kept in a file reads it, and whom it tells. */
export interface StreamFromFile extends FileStreamEvents {
  readonly files: SnapshotFiles;
}

/** One snapshot being sent to one peer; restartable from the beginning after a reconnect. */
export class OutgoingSnapshot {
  readonly beginFrame: Buffer;
  /** Data bytes already handed to the socket; -1 before the SnapshotBegin frame. */
  private sent = -1;
  private restarts = 0;
  private readonly length: number;
  /** The data held in memory; null when it is read from the file. */
  private readonly held: Uint8Array | null;
  private readonly file: FileChunks | null;

  /** `fromFile` is needed, and used, only when the message's data is a reference to a file. */
  constructor(
    readonly message: InstallSnapshot,
    private readonly chunkBytes: number,
    fromFile: StreamFromFile | null = null,
  ) {
    if (chunkBytes < 1) throw new RangeError('snapshot chunk size must be at least 1 byte');
    this.beginFrame = encodeSnapshotBeginFrame(message);
    const { meta, data } = message.snapshot;
    this.length = data.byteLength;
    this.held = heldSnapshotData(message.snapshot);
    if (this.held !== null) {
      this.file = null;
    } else {
      assert(fromFile !== null, () => `snapshot ${meta.index} is in a file, and no file source was given`);
      this.file = new FileChunks(fromFile.files, meta.index, meta.term, this.length, chunkBytes, fromFile);
    }
  }

  get done(): boolean {
    return this.sent >= this.length;
  }

  /** nextFrame() has a frame to give now (for a file, once it is open and the chunk read). */
  get hasFrame(): boolean {
    if (this.done) return false;
    if (this.file === null) return true;
    return this.sent < 0 ? this.file.isOpen : this.file.has(this.sent);
  }

  /**
   * A connection broke: the receiver dropped any partial copy, so start over. Returns false once
   * the stream has been cut off MAX_SNAPSHOT_RESTARTS times: a receiver that keeps refusing it
   * (say, over its size limit) must not make the sender resend it forever; the snapshot is then
   * dropped, and Raft's leader sends a new one when the follower still needs it.
   */
  restart(): boolean {
    if (this.sent < 0) return true;
    this.sent = -1;
    this.file?.rewind();
    this.restarts++;
    return this.restarts <= MAX_SNAPSHOT_RESTARTS;
  }

  /** The buffers of the next frame to write, in order; empty when done or nothing is read yet. */
  nextFrame(): Uint8Array[] {
    if (this.sent < 0) {
      if (this.file !== null && !this.file.isOpen) return [];
      this.sent = 0;
      return [this.beginFrame];
    }
    if (this.sent >= this.length) return [];
    const chunk = this.nextChunk();
    if (chunk === null) return [];
    this.sent += chunk.length;
    return [encodeSnapshotChunkHeader(chunk.length), chunk];
  }

  /** Releases the file, if the data is read from one. Call it once the stream is done or dropped. */
  close(): void {
    this.file?.close();
  }

  private nextChunk(): Uint8Array | null {
    if (this.held === null) return this.file?.take(this.sent) ?? null;
    return this.held.subarray(this.sent, Math.min(this.length, this.sent + this.chunkBytes));
  }
}

/** Reassembles the snapshot streamed over one inbound connection. */
export class SnapshotAssembler {
  private head: InstallSnapshot | null = null;
  private data: Uint8Array = new Uint8Array(0);
  private filled = 0;

  constructor(private readonly maxBytes: number) {}

  get inProgress(): boolean {
    return this.head !== null;
  }

  /** Starts a stream (abandoning any unfinished one); returns the message if it has no data. */
  begin(head: InstallSnapshot, dataLength: number): InstallSnapshot | null {
    if (dataLength > this.maxBytes) {
      throw new CodecError(
        'snapshot stream',
        `snapshot of ${dataLength} bytes exceeds the maximum of ${this.maxBytes} bytes`,
      );
    }
    this.head = head;
    this.data = new Uint8Array(dataLength);
    this.filled = 0;
    return this.completeIfFull();
  }

  /** Appends a chunk; returns the whole message once the last byte has arrived. */
  chunk(bytes: Uint8Array): InstallSnapshot | null {
    if (this.head === null) throw new CodecError('snapshot stream', 'snapshot chunk without a SnapshotBegin');
    if (bytes.length > this.data.length - this.filled) {
      throw new CodecError(
        'snapshot stream',
        `snapshot chunk overruns the announced ${this.data.length} bytes (${this.filled} received, ${bytes.length} more)`,
      );
    }
    this.data.set(bytes, this.filled);
    this.filled += bytes.length;
    return this.completeIfFull();
  }

  private completeIfFull(): InstallSnapshot | null {
    const head = this.head;
    if (head === null || this.filled < this.data.length) return null;
    const message: InstallSnapshot = { ...head, snapshot: { meta: head.snapshot.meta, data: this.data } };
    this.head = null;
    this.data = new Uint8Array(0);
    this.filled = 0;
    return message;
  }
}
