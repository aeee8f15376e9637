// Goal: one node incarnation's view of its SimDisk. A crashed process does nothing more: once the
// incarnation's domain is dead, every disk call it makes, and every answer still on its way to it,
// turns into a promise that never settles, so code still running in its promise chains (a WAL
// flush, a snapshot being written) cannot touch the disk its successor recovers from. A paused
// process (see virtual-clock.ts) hears of a completion only once it runs again: the disk goes on
// (a sync completes while the process is stopped), the answer waits for the resume.
//
// Test-only switch: `lyingFsync` makes a file sync resolve at once while the real sync completes
// later in the background — the classic durability bug (votes and acknowledgements leave before
// the data is durable). The node simulator must catch it.

import type { Disk, DiskFile, DiskReader } from '../../src/storage/index.js';
import type { Domain } from './virtual-clock.js';

const never = <T>(): Promise<T> => new Promise<T>(() => {});

export interface GateOptions {
  readonly lyingFsync?: boolean;
}

export class GatedDisk implements Disk {
  constructor(
    private readonly disk: Disk,
    private readonly domain: Domain,
    private readonly options: GateOptions = {},
  ) {}

  /** Runs op if the incarnation is alive, and passes its outcome on only while it still is. */
  gate<T>(op: () => Promise<T>): Promise<T> {
    if (!this.domain.alive) return never();
    let p: Promise<T>;
    try {
      p = op();
    } catch (e) {
      p = Promise.reject(e);
    }
    return p.then(
      (v) => this.whenRunning(() => v),
      (e: unknown) => this.whenRunning(() => Promise.reject(e)),
    );
  }

  /** The outcome, passed on now, on resume if the process is paused, or never if it is dead. */
  private whenRunning<T>(outcome: () => T | Promise<T>): T | Promise<T> {
    if (!this.domain.alive) return never<T>();
    if (!this.domain.paused) return outcome();
    return new Promise<T>((resolve) => this.domain.runOrHold(() => resolve(outcome())));
  }

  mkdir(dir: string): Promise<void> {
    return this.gate(() => this.disk.mkdir(dir));
  }
  list(dir: string): Promise<string[]> {
    return this.gate(() => this.disk.list(dir));
  }
  size(path: string): Promise<number | null> {
    return this.gate(() => this.disk.size(path));
  }
  readFile(path: string): Promise<Uint8Array> {
    return this.gate(() => this.disk.readFile(path));
  }
  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return this.gate(() => this.disk.read(path, offset, length));
  }
  openRead(path: string): Promise<DiskReader> {
    return this.gate(async () => {
      const r = await this.disk.openRead(path);
      return {
        path: r.path,
        size: () => this.gate(() => r.size()),
        read: (offset, length) => this.gate(() => r.read(offset, length)),
        close: () => this.gate(() => r.close()),
      };
    });
  }
  create(path: string): Promise<DiskFile> {
    return this.gate(async () => this.wrap(await this.disk.create(path)));
  }
  openAppend(path: string): Promise<DiskFile> {
    return this.gate(async () => this.wrap(await this.disk.openAppend(path)));
  }
  truncate(path: string, size: number): Promise<void> {
    return this.gate(() => this.disk.truncate(path, size));
  }
  rename(from: string, to: string): Promise<void> {
    return this.gate(() => this.disk.rename(from, to));
  }
  remove(path: string): Promise<void> {
    return this.gate(() => this.disk.remove(path));
  }
  syncDir(dir: string): Promise<void> {
    return this.gate(() => this.disk.syncDir(dir));
  }

  private wrap(f: DiskFile): DiskFile {
    const lying = this.options.lyingFsync === true;
    return {
      path: f.path,
      append: (data) => this.gate(() => f.append(data)),
      sync: () => {
        if (!lying) return this.gate(() => f.sync());
        // The bug: report durable now, become durable whenever the disk gets to it.
        void f.sync().catch(() => {});
        return this.gate(() => Promise.resolve());
      },
      close: () => this.gate(() => f.close()),
    };
  }
}
