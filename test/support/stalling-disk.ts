// The real disk with a switch that stalls it: while stalled, every fsync (of a file or of a
// directory) waits until the disk is resumed, as on a disk that stopped answering. Everything else
// goes through at once. For tests of the node's disk-stall guard on real nodes.

import { type DiskFile, RealDisk } from '../../src/storage/index.js';

export class StallingDisk extends RealDisk {
  private stalled: { readonly over: Promise<void>; readonly end: () => void } | null = null;

  /** From now on fsyncs wait (those in flight included, if they have not finished yet). */
  stall(): void {
    if (this.stalled !== null) return;
    let end!: () => void;
    const over = new Promise<void>((r) => {
      end = r;
    });
    this.stalled = { over, end };
  }

  /** Lets every waiting fsync go on. */
  resume(): void {
    this.stalled?.end();
    this.stalled = null;
  }

  private async whileStalled(): Promise<void> {
    while (this.stalled !== null) await this.stalled.over;
  }

  override async create(path: string): Promise<DiskFile> {
    return this.stalling(await super.create(path));
  }

  override async openAppend(path: string): Promise<DiskFile> {
    return this.stalling(await super.openAppend(path));
  }

  override async syncDir(dir: string): Promise<void> {
    await this.whileStalled();
    await super.syncDir(dir);
  }

  private stalling(file: DiskFile): DiskFile {
    return {
      path: file.path,
      append: (data) => file.append(data),
      sync: async () => {
        await this.whileStalled();
        await file.sync();
      },
      close: () => file.close(),
    };
  }
}
