// Disk over node:fs. `sync` is a real fdatasync and `syncDir` a real fsync of the directory:
// without the latter a freshly created or renamed file can vanish in a power loss on ext4/xfs.

import { fdatasync, writeSync } from 'node:fs';
import {
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  truncate,
  unlink,
} from 'node:fs/promises';
import type { Disk, DiskFile, DiskReader } from './disk.js';
import { isNotFound } from './disk.js';

/**
 * Batches up to this size are written synchronously: for a WAL batch that is a copy into the page
 * cache of a few microseconds, cheaper than a thread-pool round trip (two thread wake-ups, costly
 * on a VM) — the fdatasync after it is what waits for the disk, and that stays off the event loop.
 * Larger batches (big values) go to the thread pool so the copy does not hold up the loop. A write
 * into the page cache waits for the disk only when the kernel throttles dirty pages, and the
 * fdatasync after every batch keeps those few; a stalled disk shows up in the fdatasync, where
 * the disk-stall guard sees it.
 */
const syncWriteMaxBytes = 256 * 1024;

class RealFile implements DiskFile {
  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    /** Explicit write position: appends never depend on the kernel's file offset. */
    private position: number,
  ) {}

  async append(data: Uint8Array): Promise<void> {
    if (data.length <= syncWriteMaxBytes) {
      let done = 0;
      while (done < data.length) {
        const n = writeSync(this.fh.fd, data, done, data.length - done, this.position);
        done += n;
        this.position += n;
      }
      return;
    }
    let done = 0;
    while (done < data.length) {
      const { bytesWritten } = await this.fh.write(data, done, data.length - done, this.position);
      done += bytesWritten;
      this.position += bytesWritten;
    }
  }

  sync(): Promise<void> {
    // The callback API: one thread-pool job, without FileHandle's promise bookkeeping.
    return new Promise((resolve, reject) => {
      fdatasync(this.fh.fd, (e) => (e === null ? resolve() : reject(e)));
    });
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

export class RealDisk implements Disk {
  async mkdir(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
  }

  async list(dir: string): Promise<string[]> {
    return (await readdir(dir)).sort();
  }

  async size(path: string): Promise<number | null> {
    try {
      const st = await stat(path);
      return st.size;
    } catch (e) {
      if (isNotFound(e)) return null;
      throw e;
    }
  }

  async readFile(path: string): Promise<Uint8Array> {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const fh = await open(path, 'r');
    try {
      return await readAt(fh, offset, length);
    } finally {
      await fh.close();
    }
  }

  async openRead(path: string): Promise<DiskReader> {
    const fh = await open(path, 'r');
    return {
      path,
      size: async () => (await fh.stat()).size,
      read: (offset, length) => readAt(fh, offset, length),
      close: () => fh.close(),
    };
  }

  async create(path: string): Promise<DiskFile> {
    return new RealFile(path, await open(path, 'wx'), 0);
  }

  async openAppend(path: string): Promise<DiskFile> {
    const fh = await open(path, 'r+');
    try {
      const { size } = await fh.stat();
      return new RealFile(path, fh, size);
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  truncate(path: string, size: number): Promise<void> {
    return truncate(path, size);
  }

  rename(from: string, to: string): Promise<void> {
    return rename(from, to);
  }

  remove(path: string): Promise<void> {
    return unlink(path);
  }

  async syncDir(dir: string): Promise<void> {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  }
}

/** Up to `length` bytes from `offset` of an open file (fewer only at its end), off the event loop. */
async function readAt(fh: FileHandle, offset: number, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const { bytesRead } = await fh.read(out, got, length - got, offset + got);
    if (bytesRead === 0) break;
    got += bytesRead;
  }
  return got === length ? out : out.subarray(0, got);
}
