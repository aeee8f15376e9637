// The seam between the storage layer and the file system: just the operations the WAL, the
// snapshot store and the identity file need. RealDisk maps them onto node:fs; SimDisk keeps
// files in memory and models what a crash keeps, so recovery can be tested deterministically.
//
// Durability contract (what the storage layer relies on, and what SimDisk enforces):
//  - bytes appended to a file are durable once a later `sync()` on that file has resolved;
//  - a create, rename or remove is durable once a later `syncDir()` of its directory resolved;
//  - until then a crash may keep any prefix of the unsynced appends of a file (a torn write)
//    and any prefix, in order, of a directory's unsynced changes.
// Paths are '/'-separated; rename stays within one directory.

export interface DiskFile {
  readonly path: string;
  /** Writes `data` at the end of the file. */
  append(data: Uint8Array): Promise<void>;
  /** fdatasync: everything appended before the call is durable once this resolves. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * A file opened for reading. Reads go to the file opened, whatever happens to its name later: a
 * file removed or replaced meanwhile stays readable through the handle until it is closed.
 */
export interface DiskReader {
  readonly path: string;
  /** The file's size now. */
  size(): Promise<number>;
  /** Up to `length` bytes from `offset`; fewer only at end of file. */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export interface Disk {
  /** Creates the directory and any missing parents; no error if it exists. */
  mkdir(dir: string): Promise<void>;
  /** Names in `dir`, sorted. Rejects with code ENOENT if `dir` does not exist. */
  list(dir: string): Promise<string[]>;
  /** Size in bytes of the file, or null if there is none. */
  size(path: string): Promise<number | null>;
  readFile(path: string): Promise<Uint8Array>;
  /** Up to `length` bytes from `offset`; fewer only at end of file. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Opens an existing file for reading; rejects with ENOENT if missing. */
  openRead(path: string): Promise<DiskReader>;
  /** Creates a new empty file for appending; rejects with EEXIST if it exists. */
  create(path: string): Promise<DiskFile>;
  /** Opens an existing file for appending at its end; rejects with ENOENT if missing. */
  openAppend(path: string): Promise<DiskFile>;
  /** Cuts the file to `size` bytes (a metadata change: sync the file to make it durable). */
  truncate(path: string, size: number): Promise<void>;
  /** Atomically replaces `to` (if any) with `from`. */
  rename(from: string, to: string): Promise<void>;
  /** Removes a file. */
  remove(path: string): Promise<void>;
  /** fsync of a directory: makes its creates, renames and removes durable. */
  syncDir(dir: string): Promise<void>;
}

export type DiskErrorCode = 'ENOENT' | 'EEXIST' | 'EIO' | 'EISDIR' | 'ENOTDIR' | 'EBADF' | 'EINVAL';

/** SimDisk's errors; RealDisk passes node's own, which carry the same `code` values. */
export class DiskError extends Error {
  override readonly name = 'DiskError';
  constructor(
    readonly code: DiskErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
  }
}

export function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export function isNotFound(err: unknown): boolean {
  return errorCode(err) === 'ENOENT';
}

export function joinPath(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

/** The directory holding `path` ('/' for top-level names, '.' for bare relative names). */
export function parentDir(path: string): string {
  const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
  const i = trimmed.lastIndexOf('/');
  if (i < 0) return '.';
  if (i === 0) return '/';
  return trimmed.slice(0, i);
}

/**
 * Writes a whole file so that a crash leaves either no file or all of it under `path`: write to
 * `path.tmp`, fdatasync, rename into place, fsync the directory.
 */
export async function writeFileDurably(
  disk: Disk,
  path: string,
  chunks: readonly Uint8Array[],
): Promise<void> {
  const tmp = `${path}.tmp`;
  try {
    await disk.remove(tmp);
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  const f = await disk.create(tmp);
  try {
    for (const c of chunks) await f.append(c);
    await f.sync();
  } finally {
    await f.close();
  }
  await disk.rename(tmp, path);
  await disk.syncDir(parentDir(path));
}

/**
 * Creates `dir` and any missing parents so that they survive a crash: each new level's parent
 * is fsynced (a bare mkdir can vanish with everything later written inside it).
 */
export async function mkdirDurably(disk: Disk, dir: string): Promise<void> {
  const missing: string[] = [];
  for (let cur = dir; ; cur = parentDir(cur)) {
    try {
      await disk.list(cur);
      break;
    } catch (e) {
      if (!isNotFound(e)) throw e;
      missing.push(cur);
      if (parentDir(cur) === cur) break;
    }
  }
  if (missing.length === 0) return;
  await disk.mkdir(dir);
  for (const level of missing.reverse()) await disk.syncDir(parentDir(level));
}

/** The names in `dir`, creating it durably (empty) if it does not exist yet. */
export async function listOrCreateDir(disk: Disk, dir: string): Promise<string[]> {
  try {
    return await disk.list(dir);
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await mkdirDurably(disk, dir);
    return [];
  }
}
