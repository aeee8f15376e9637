// A disk whose every fsync takes longer: fault injection's diskDelayMs (docs/faults.md), a slow
// disk on demand. It wraps the node's real disk; the delay is read at each fsync (of a file or a
// directory), so a change applies from the next one. Reads, writes into the page cache, renames
// and removals are not delayed: on a slow disk it is the fsync that waits for the device.

import type { Disk, DiskFile, DiskReader } from './disk.js';

/** How the delay is waited out: a timer by default, the test's own clock in a simulation. */
export type Sleep = (ms: number) => Promise<void>;

const timerSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class DelayingDisk implements Disk {
  /**
   * @param delayMs the extra milliseconds of the next fsync (0: none), read at each one.
   */
  constructor(
    private readonly inner: Disk,
    private readonly delayMs: () => number,
    private readonly sleep: Sleep = timerSleep,
  ) {}

  mkdir(dir: string): Promise<void> {
    return this.inner.mkdir(dir);
  }

  list(dir: string): Promise<string[]> {
    return this.inner.list(dir);
  }

  size(path: string): Promise<number | null> {
    return this.inner.size(path);
  }

  readFile(path: string): Promise<Uint8Array> {
    return this.inner.readFile(path);
  }

  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.inner.read(path, offset, length);
  }

  openRead(path: string): Promise<DiskReader> {
    return this.inner.openRead(path);
  }

  async create(path: string): Promise<DiskFile> {
    return this.delaying(await this.inner.create(path));
  }

  async openAppend(path: string): Promise<DiskFile> {
    return this.delaying(await this.inner.openAppend(path));
  }

  truncate(path: string, size: number): Promise<void> {
    return this.inner.truncate(path, size);
  }

  rename(from: string, to: string): Promise<void> {
    return this.inner.rename(from, to);
  }

  remove(path: string): Promise<void> {
    return this.inner.remove(path);
  }

  async syncDir(dir: string): Promise<void> {
    await this.wait();
    await this.inner.syncDir(dir);
  }

  private async wait(): Promise<void> {
    const ms = this.delayMs();
    if (ms > 0) await this.sleep(ms);
  }

  private delaying(file: DiskFile): DiskFile {
    return {
      path: file.path,
      append: (data) => file.append(data),
      sync: async () => {
        await this.wait();
        await file.sync();
      },
      close: () => file.close(),
    };
  }
}
