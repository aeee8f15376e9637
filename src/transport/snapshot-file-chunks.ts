// The data of a snapshot the node keeps in its file (the message carries only a reference to it,
// StoredSnapshotData), read for one outgoing stream: the file is opened when the stream is
// created and stays open until it ends, so a newer snapshot removing the file meanwhile does not
// cut the stream short, and a stream started over after a reconnect reads the same file again.
// Reads are asynchronous, one chunk at a time and one chunk ahead of the socket: a stream holds
// about one chunk in memory, whatever the snapshot's size.
//
// The data's CRC32C, which the file's header records, is computed as the chunks are read; the
// last chunk is handed out only if it matches. So a damaged file never reaches a follower whole:
// the stream fails before its end, and the follower, which installs a snapshot only once its
// last byte has arrived, installs nothing.

import { crc32c } from '../codec/index.js';
import type { SnapshotDataFile, SnapshotFiles } from './types.js';

/** What a stream read from a file tells its connection. */
export interface FileStreamEvents {
  /** The file is open, or a chunk has been read: the connection may write again. */
  readonly ready: () => void;
  /** The stream cannot go on (the file is missing, unreadable or damaged); it is closed already. */
  readonly failed: (reason: string) => void;
}

export class FileChunks {
  private file: SnapshotDataFile | null = null;
  private closed = false;
  private failure: string | null = null;
  /** The chunk read ahead of the socket, and its offset in the data. */
  private ahead: Uint8Array | null = null;
  private aheadAt = 0;
  private reading = false;
  /** Where the next read starts; `crc` covers the data before it (in this pass). */
  private nextRead = 0;
  private crc = 0;
  /** Bumped by rewind(): a read of an earlier pass is discarded when it completes. */
  private pass = 0;

  constructor(
    files: SnapshotFiles,
    index: number,
    term: number,
    private readonly length: number,
    private readonly chunkBytes: number,
    private readonly events: FileStreamEvents,
  ) {
    files.openData(index, term).then(
      (file) => this.opened(file),
      (e: unknown) => this.fail(`its file could not be opened: ${messageOf(e)}`),
    );
  }

  /** The file is open: the stream may begin. */
  get isOpen(): boolean {
    return this.file !== null;
  }

  /** The chunk at `offset` is read and may be taken now. */
  has(offset: number): boolean {
    return this.ahead !== null && this.aheadAt === offset;
  }

  /** The chunk at `offset` if it has been read (the next one is read meanwhile), else null. */
  take(offset: number): Uint8Array | null {
    const chunk = this.ahead;
    if (chunk === null || this.aheadAt !== offset) {
      this.read();
      return null;
    }
    this.ahead = null;
    this.read();
    return chunk;
  }

  /** The stream starts over: the data is read again from its start, from the same open file. */
  rewind(): void {
    this.pass++;
    this.ahead = null;
    this.nextRead = 0;
    this.crc = 0;
    this.read();
  }

  /** Closes the file (once any read in flight is done). Nothing is reported after this. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ahead = null;
    const file = this.file;
    this.file = null;
    void file?.close().catch(() => {});
  }

  private opened(file: SnapshotDataFile): void {
    if (this.closed) {
      void file.close().catch(() => {});
      return;
    }
    this.file = file;
    if (file.dataLength !== this.length) {
      this.fail(`its file holds ${file.dataLength} data bytes, the snapshot ${this.length}`);
    } else if (this.length === 0 && file.dataCrc !== crc32c(new Uint8Array(0))) {
      this.fail('data checksum mismatch in its file');
    } else {
      this.read();
      this.events.ready();
    }
  }

  /** Starts reading the next chunk, unless one is read already or being read. */
  private read(): void {
    const file = this.file;
    if (file === null || this.reading || this.ahead !== null || this.nextRead >= this.length) return;
    this.reading = true;
    const pass = this.pass;
    const at = this.nextRead;
    const want = Math.min(this.chunkBytes, this.length - at);
    file.read(at, want).then(
      (bytes) => {
        this.reading = false;
        if (this.closed) return;
        if (pass !== this.pass) {
          // Started over meanwhile: read the first chunk of the new pass.
          this.read();
          return;
        }
        this.chunkRead(file, at, bytes, want);
      },
      (e: unknown) => {
        this.reading = false;
        this.fail(`reading its file failed: ${messageOf(e)}`);
      },
    );
  }

  private chunkRead(file: SnapshotDataFile, at: number, bytes: Uint8Array, want: number): void {
    if (bytes.length !== want) {
      this.fail(`its file ends ${at + bytes.length} bytes into the data, of ${this.length}`);
      return;
    }
    this.crc = crc32c(bytes, this.crc);
    this.nextRead = at + want;
    // The last chunk leaves only with the whole data checked.
    if (this.nextRead === this.length && this.crc !== file.dataCrc) {
      this.fail('data checksum mismatch in its file');
      return;
    }
    this.ahead = bytes;
    this.aheadAt = at;
    this.events.ready();
  }

  private fail(reason: string): void {
    if (this.closed || this.failure !== null) return;
    this.failure = reason;
    this.close();
    this.events.failed(reason);
  }
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
