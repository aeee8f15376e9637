// Small file systems for the nodes' data dirs (--small-disk): one tmpfs of the given size per
// node, so that the disk nemesis can bring a node's free space below its --min-free-bytes in a
// moment, by writing a filler file next to its data dir, and give it back by deleting the file.
//
//   <out>/disks/n<i>          tmpfs "rkvj-disk-n<i>" of --small-disk MiB (the mount point)
//   <out>/disks/n<i>/data     node i's --data-dir
//   <out>/disks/n<i>/filler   the disk nemesis's filler, outside the data dir the node owns
//
// The mounts are made in the root mount namespace before the nodes start; `ip netns exec` gives
// each node a slave copy of it, so the node's statfs sees the filler the runner writes, and an
// unmount here reaches its copy too. Like every other name the runner makes, each mount's source
// starts with "rkvj-" (`mount | grep rkvj-` shows them), which is how the next run's sweep finds
// the mounts of a runner that was SIGKILLed, wherever its --out was. Teardown is synchronous and
// never throws, for the exit and signal handlers; at a normal end the data dirs are first copied
// to <out>/data, where they are without --small-disk.

import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmdirSync,
  rmSync,
  statfsSync,
} from 'node:fs';
import { open, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { tryRun } from './exec.js';
import { prefix } from './netns.js';

export const diskSourcePrefix = `${prefix}disk-`;
const MiB = 1024 * 1024;

/** The smallest --small-disk: a node's few MiB of WAL and snapshots must fit below its threshold. */
export const minSmallDiskMiB = 16;

/** Blocks the thread for `ms`: teardown runs in exit handlers, where nothing asynchronous does. */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** The mount points of every tmpfs whose source starts with `rkvj-disk-` (ours). */
function ourMounts(): string[] {
  let table: string;
  try {
    table = readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return [];
  }
  const points: string[] = [];
  for (const line of table.split('\n')) {
    const [source, point, type] = line.split(' ');
    if (source?.startsWith(diskSourcePrefix) && type === 'tmpfs' && point !== undefined) {
      // The table escapes space, tab, newline and backslash as octal.
      points.push(
        point.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))),
      );
    }
  }
  return points;
}

/**
 * Unmounts `dir`. A node killed an instant ago may still hold files on it (its slave copy of the
 * mount is then busy), so a refused unmount is retried while that lasts, at most ~2 s; after that
 * a lazy unmount takes the mount out of every table at once and the kernel frees it when the
 * last user is gone. True if it is no longer mounted.
 */
function unmount(dir: string): boolean {
  for (let i = 0; i < 40; i++) {
    if (tryRun('umount', [dir]).status === 0) return true;
    if (!ourMounts().includes(dir)) return true;
    sleepSync(50);
  }
  return tryRun('umount', ['-l', dir]).status === 0 || !ourMounts().includes(dir);
}

/** Unmounts every rkvj-disk- tmpfs (a killed earlier run's) and removes its mount point. */
export function sweepDisks(): string[] {
  const removed: string[] = [];
  for (const point of ourMounts()) {
    if (unmount(point)) {
      removed.push(`tmpfs ${point}`);
      rmSync(point, { recursive: true, force: true });
      // The <out>/disks that held it, once empty (rmdir refuses otherwise).
      if (path.basename(path.dirname(point)) === 'disks') {
        try {
          rmdirSync(path.dirname(point));
        } catch {
          // another mount point is still there, or something else
        }
      }
    }
  }
  return removed;
}

/** Why this machine cannot give the nodes small disks (not root, no tmpfs), or null if it can. */
export function smallDiskSupportProblem(): string | null {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'needs root to mount a tmpfs';
  const dir = mkdtempSync(path.join(os.tmpdir(), `${prefix}probe-`));
  try {
    const m = tryRun('mount', ['-t', 'tmpfs', '-o', 'size=1m', `${diskSourcePrefix}probe`, dir]);
    if (m.status !== 0) return `cannot mount a tmpfs: ${m.stderr.trim() || `status ${m.status}`}`;
    unmount(dir);
    return null;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export class SmallDisks {
  private mounted: number[] = [];
  /** Absolute and free of symbolic links once set up, as the mount table names mount points. */
  private root: string;

  /** `root` holds the mount points (<out>/disks); each file system is `bytes` large. */
  constructor(
    readonly nodes: number,
    readonly bytes: number,
    root: string,
  ) {
    this.root = path.resolve(root);
  }

  /**
   * The --min-free-bytes the nodes get: a quarter of the disk. The alarm clears at 1.5 times that
   * free, so a node may fill up to 5/8 of its disk itself and still see its alarm clear once the
   * filler is gone; the filler leaves half of the threshold free, so the guard sees the disk low
   * while the node still has room for what is in flight and never hits ENOSPC.
   */
  get minFreeBytes(): number {
    return Math.floor(this.bytes / 4);
  }

  mountPoint(i: number): string {
    return path.join(this.root, `n${i}`);
  }

  dataDir(i: number): string {
    return path.join(this.mountPoint(i), 'data');
  }

  private filler(i: number): string {
    return path.join(this.mountPoint(i), 'filler');
  }

  /** Mounts one tmpfs per node. Throws (after undoing its work) on failure. */
  setup(): void {
    try {
      mkdirSync(this.root, { recursive: true });
      this.root = realpathSync(this.root);
      for (let i = 1; i <= this.nodes; i++) {
        const dir = this.mountPoint(i);
        mkdirSync(dir, { recursive: true });
        const size = `size=${Math.ceil(this.bytes / MiB)}m`;
        const m = tryRun('mount', [
          '-t',
          'tmpfs',
          '-o',
          `${size},mode=0755`,
          `${diskSourcePrefix}n${i}`,
          dir,
        ]);
        if (m.status !== 0) throw new Error(`mount -t tmpfs ${dir} failed: ${m.stderr.trim()}`);
        this.mounted.push(i);
        mkdirSync(this.dataDir(i));
      }
    } catch (e) {
      this.teardown();
      throw e;
    }
  }

  /** Bytes free on node i's file system, counted as the node's guard counts them (bavail). */
  freeBytes(i: number): number {
    const s = statfsSync(this.mountPoint(i));
    return s.bavail * s.bsize;
  }

  /**
   * Writes a filler until node i's file system has about `leaveBytes` free; returns what is free
   * then. In 1 MiB chunks, without blocking the event loop, so the clients keep going meanwhile.
   */
  async fill(i: number, leaveBytes: number): Promise<number> {
    const chunk = Buffer.alloc(MiB, 0x5a);
    const f = await open(this.filler(i), 'a');
    try {
      for (;;) {
        const missing = this.freeBytes(i) - leaveBytes;
        if (missing <= 0) break;
        await f.write(chunk, 0, Math.min(missing, MiB));
      }
    } finally {
      await f.close();
    }
    return this.freeBytes(i);
  }

  /** Deletes node i's filler (if any). */
  async unfill(i: number): Promise<void> {
    await rm(this.filler(i), { force: true });
  }

  /** Deletes every filler; synchronous, for the final heal. */
  unfillAllSync(): void {
    for (const i of this.mounted) rmSync(this.filler(i), { force: true });
  }

  /** Copies every data dir to `dir`/n<i>; only once the nodes have stopped. */
  saveData(dir: string): void {
    for (const i of this.mounted) cpSync(this.dataDir(i), path.join(dir, `n${i}`), { recursive: true });
  }

  /** Unmounts everything setup mounted and removes the mount points; idempotent, never throws. */
  teardown(): void {
    const mounted = this.mounted;
    this.mounted = [];
    for (const i of mounted) unmount(this.mountPoint(i));
    // Only if nothing is mounted there any more: rm would otherwise delete the tmpfs's contents.
    if (!ourMounts().some((p) => p.startsWith(`${this.root}/`))) {
      try {
        rmSync(this.root, { recursive: true, force: true });
      } catch {
        // left for the next run's sweep; the mounts are what matters
      }
    }
  }
}
