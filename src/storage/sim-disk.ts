// An in-memory Disk for tests and the simulator. Deterministic: the only source of chance is the
// injected seeded generator, consulted by `crash()` alone. It models what a power loss keeps:
//  - a file keeps the bytes it had at its last completed sync, plus (torn write) a random prefix
//    of what was appended since, the end of which may read back as zeros (size persisted before
//    the data, as some file systems allow);
//  - a directory keeps its entries as of its last completed syncDir, plus a random prefix, in
//    order, of the creates/renames/removes made since (journalled metadata is replayed in order).
// Syncs can be held (they complete only when the test releases them) and operations can be made
// to fail, so tests can crash a writer in the middle of a group commit or feed it an EIO.

import type { Prng } from '../random.js';
import type { Disk, DiskFile, DiskReader } from './disk.js';
import { DiskError, parentDir } from './disk.js';
import { type Node, SimDir, SimFile } from './sim-nodes.js';

interface PendingSync {
  readonly apply: () => void;
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
}

export type SimOp = 'append' | 'sync' | 'syncDir' | 'create' | 'rename' | 'remove' | 'truncate';

export interface SimDiskStats {
  appends: number;
  bytesAppended: number;
  fileSyncs: number;
  dirSyncs: number;
}

export interface CrashOptions {
  /** Keep random prefixes of unsynced data and directory changes (default); false keeps none. */
  readonly tear?: boolean;
}

class SimHandle implements DiskFile {
  private closed = false;

  constructor(
    private readonly disk: SimDisk,
    readonly path: string,
    private readonly file: SimFile,
    private readonly epoch: number,
  ) {}

  private check(): void {
    if (this.closed) throw new DiskError('EBADF', `${this.path} is closed`);
    if (this.epoch !== this.disk.epoch)
      throw new DiskError('EBADF', `${this.path} was opened before a crash`);
  }

  async append(data: Uint8Array): Promise<void> {
    this.check();
    this.disk.fault('append', this.path);
    this.disk.stats.appends++;
    this.disk.stats.bytesAppended += data.length;
    this.file.append(data);
  }

  sync(): Promise<void> {
    try {
      this.check();
      this.disk.fault('sync', this.path);
    } catch (e) {
      return Promise.reject(e);
    }
    this.disk.stats.fileSyncs++;
    const f = this.file;
    const len = f.size;
    const gen = f.generation;
    const copy = this.disk.holding ? f.data.slice(0, len) : null;
    return this.disk.schedule(() => {
      if (f.generation === gen) {
        f.durableLen = len;
        f.durableCopy = null;
      } else if (copy !== null) {
        f.durableCopy = copy;
      }
    });
  }

  async close(): Promise<void> {
    this.check();
    this.closed = true;
  }
}

export class SimDisk implements Disk {
  /** Bumped by crash(): handles and held syncs from before it are dead. */
  epoch = 0;
  holding = false;
  readonly stats: SimDiskStats = { appends: 0, bytesAppended: 0, fileSyncs: 0, dirSyncs: 0 };
  private root = new SimDir();
  private opSeq = 0;
  private pendingSyncs: PendingSync[] = [];
  private syncWaiters: { n: number; resolve: () => void }[] = [];
  private readonly faults = new Map<SimOp, number>();

  /** `random` decides what a crash keeps: the same seed, the same crash outcomes. */
  constructor(private readonly random: Prng) {}

  // --- Disk -------------------------------------------------------------------------------

  async mkdir(dir: string): Promise<void> {
    let cur = this.root;
    for (const name of splitPath(dir)) {
      const next = cur.entries.get(name);
      if (next?.kind === 'file') throw new DiskError('ENOTDIR', `${name} in ${dir} is a file`);
      if (next !== undefined) {
        cur = next;
        continue;
      }
      const created = new SimDir();
      cur.entries.set(name, created);
      this.pushOp(cur, (m) => m.set(name, created));
      cur = created;
    }
  }

  async list(dir: string): Promise<string[]> {
    return [...this.dirAt(dir).entries.keys()].sort();
  }

  async size(path: string): Promise<number | null> {
    const node = this.lookup(path);
    if (node === undefined) return null;
    if (node.kind === 'dir') throw new DiskError('EISDIR', path);
    return node.size;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const f = this.fileAt(path);
    return f.data.slice(0, f.size);
  }

  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const f = this.fileAt(path);
    const from = Math.min(offset, f.size);
    return f.data.slice(from, Math.min(f.size, offset + length));
  }

  /** The handle reads the file it opened, as POSIX does: its name may be removed meanwhile. */
  async openRead(path: string): Promise<DiskReader> {
    const f = this.fileAt(path);
    const epoch = this.epoch;
    let closed = false;
    const check = (): void => {
      if (closed) throw new DiskError('EBADF', `${path} is closed`);
      if (epoch !== this.epoch) throw new DiskError('EBADF', `${path} was opened before a crash`);
    };
    return {
      path,
      size: async () => {
        check();
        return f.size;
      },
      read: async (offset, length) => {
        check();
        const from = Math.min(offset, f.size);
        return f.data.slice(from, Math.min(f.size, offset + length));
      },
      close: async () => {
        check();
        closed = true;
      },
    };
  }

  async create(path: string): Promise<DiskFile> {
    this.fault('create', path);
    const { dir, name } = this.parentOf(path);
    if (dir.entries.has(name)) throw new DiskError('EEXIST', path);
    const file = new SimFile();
    dir.entries.set(name, file);
    this.pushOp(dir, (m) => m.set(name, file));
    return new SimHandle(this, path, file, this.epoch);
  }

  async openAppend(path: string): Promise<DiskFile> {
    return new SimHandle(this, path, this.fileAt(path), this.epoch);
  }

  async truncate(path: string, size: number): Promise<void> {
    this.fault('truncate', path);
    this.fileAt(path).truncate(size);
  }

  async rename(from: string, to: string): Promise<void> {
    this.fault('rename', from);
    if (parentDir(from) !== parentDir(to))
      throw new DiskError('EINVAL', 'SimDisk renames within one directory');
    const { dir, name } = this.parentOf(from);
    const toName = this.parentOf(to).name;
    const node = dir.entries.get(name);
    if (node === undefined) throw new DiskError('ENOENT', from);
    if (node.kind === 'dir' || dir.entries.get(toName)?.kind === 'dir') throw new DiskError('EISDIR', from);
    dir.entries.delete(name);
    dir.entries.set(toName, node);
    this.pushOp(dir, (m) => {
      m.delete(name);
      m.set(toName, node);
    });
  }

  async remove(path: string): Promise<void> {
    this.fault('remove', path);
    const { dir, name } = this.parentOf(path);
    const node = dir.entries.get(name);
    if (node === undefined) throw new DiskError('ENOENT', path);
    if (node.kind === 'dir') throw new DiskError('EISDIR', path);
    dir.entries.delete(name);
    this.pushOp(dir, (m) => m.delete(name));
  }

  syncDir(path: string): Promise<void> {
    let dir: SimDir;
    try {
      dir = this.dirAt(path);
      this.fault('syncDir', path);
    } catch (e) {
      return Promise.reject(e);
    }
    this.stats.dirSyncs++;
    const upTo = this.opSeq;
    return this.schedule(() => {
      for (const op of dir.pending) if (op.seq <= upTo) op.apply(dir.durable);
      dir.pending = dir.pending.filter((op) => op.seq > upTo);
    });
  }

  // --- Test controls ------------------------------------------------------------------------

  /**
   * Power loss. Everything synced survives; of the rest, random prefixes survive (see above),
   * or none with `tear: false`. Open handles die; held syncs reject.
   */
  crash(options: CrashOptions = {}): void {
    const tear = options.tear ?? true;
    this.epoch++;
    const held = this.pendingSyncs;
    this.pendingSyncs = [];
    this.holding = false;
    for (const p of held) p.reject(new DiskError('EIO', 'crashed before the sync completed'));
    const seen = new Set<SimFile>();
    const crashDir = (dir: SimDir): void => {
      const kept = new Map(dir.durable);
      const n = tear ? this.random.nextInt(dir.pending.length + 1) : 0;
      for (let i = 0; i < n; i++) dir.pending[i]!.apply(kept);
      dir.pending = [];
      dir.entries = new Map(kept);
      dir.durable = kept;
      for (const node of kept.values()) {
        if (node.kind === 'dir') crashDir(node);
        else if (!seen.has(node)) {
          seen.add(node);
          this.crashFile(node, tear);
        }
      }
    };
    crashDir(this.root);
  }

  /** From now on syncs (file and directory) wait until released. */
  holdSyncs(): void {
    this.holding = true;
  }

  /** Completes the oldest `n` held syncs, in the order they were issued; returns how many. */
  releaseSyncs(n = 1): number {
    let done = 0;
    while (done < n && this.pendingSyncs.length > 0) {
      const p = this.pendingSyncs.shift()!;
      p.apply();
      p.resolve();
      done++;
    }
    return done;
  }

  /** Releases every held sync and stops holding. */
  resumeSyncs(): void {
    this.holding = false;
    this.releaseSyncs(Number.POSITIVE_INFINITY);
  }

  get pendingSyncCount(): number {
    return this.pendingSyncs.length;
  }

  /** Resolves once at least `n` syncs are held: lets a test wait for a writer to reach its fsync. */
  whenSyncsPending(n = 1): Promise<void> {
    if (this.pendingSyncs.length >= n) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push({ n, resolve }));
  }

  /** The next `count` operations of this kind fail with EIO. */
  failNext(op: SimOp, count = 1): void {
    this.faults.set(op, (this.faults.get(op) ?? 0) + count);
  }

  /** Bit rot: XORs a byte of a file's current and durable content. */
  corrupt(path: string, offset: number, mask = 0xff): void {
    const f = this.fileAt(path);
    if (offset >= f.size) throw new RangeError(`offset ${offset} beyond ${path} (${f.size} bytes)`);
    f.data[offset] = f.data[offset]! ^ mask;
    if (f.durableCopy !== null && offset < f.durableCopy.length) {
      f.durableCopy[offset] = f.durableCopy[offset]! ^ mask;
    }
  }

  // --- Internals ----------------------------------------------------------------------------

  /** Runs `apply` now, or when released if syncs are held. */
  schedule(apply: () => void): Promise<void> {
    if (!this.holding) {
      apply();
      return Promise.resolve();
    }
    const p = new Promise<void>((resolve, reject) => this.pendingSyncs.push({ apply, resolve, reject }));
    const ready = this.syncWaiters.filter((w) => this.pendingSyncs.length >= w.n);
    this.syncWaiters = this.syncWaiters.filter((w) => this.pendingSyncs.length < w.n);
    for (const w of ready) w.resolve();
    return p;
  }

  fault(op: SimOp, path: string): void {
    const left = this.faults.get(op) ?? 0;
    if (left === 0) return;
    this.faults.set(op, left - 1);
    throw new DiskError('EIO', `injected ${op} failure on ${path}`);
  }

  private crashFile(f: SimFile, tear: boolean): void {
    if (f.durableCopy !== null) {
      f.reset(f.durableCopy);
      return;
    }
    const extra = f.size - f.durableLen;
    const keep = tear && extra > 0 ? this.random.nextInt(extra + 1) : 0;
    const content = f.data.slice(0, f.durableLen + keep);
    if (keep > 0 && this.random.chance(0.25)) content.fill(0, f.durableLen + this.random.nextInt(keep + 1));
    f.reset(content);
  }

  private pushOp(dir: SimDir, apply: (m: Map<string, Node>) => void): void {
    dir.pending.push({ seq: ++this.opSeq, apply });
  }

  private lookup(path: string): Node | undefined {
    let cur: Node = this.root;
    for (const name of splitPath(path)) {
      if (cur.kind !== 'dir') return undefined;
      const next: Node | undefined = cur.entries.get(name);
      if (next === undefined) return undefined;
      cur = next;
    }
    return cur;
  }

  private dirAt(path: string): SimDir {
    const node = this.lookup(path);
    if (node === undefined) throw new DiskError('ENOENT', path);
    if (node.kind !== 'dir') throw new DiskError('ENOTDIR', path);
    return node;
  }

  private fileAt(path: string): SimFile {
    const node = this.lookup(path);
    if (node === undefined) throw new DiskError('ENOENT', path);
    if (node.kind !== 'file') throw new DiskError('EISDIR', path);
    return node;
  }

  private parentOf(path: string): { dir: SimDir; name: string } {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new DiskError('EINVAL', `no file name in ${path}`);
    return { dir: this.dirAt(parts.join('/')), name };
  }
}

function splitPath(path: string): string[] {
  return path.split('/').filter((p) => p.length > 0 && p !== '.');
}
