// Snapshot files: the state machine's serialized state with the snapshot's metadata.
//
//   snap-<index:16 hex>-<term:16 hex>.snap
//     frame(u8 kind 6, u32 magic, u8 version, varint index, varint term,
//           varint voter count, voters (strings), varint data length, u32 CRC32C of data)
//     data
//
// Each is written to a temp file, fdatasynced, renamed into place and the directory fsynced, so a
// snapshot file either exists whole or not at all; the checksums catch later damage. Names sort
// by index, so the newest is found without reading any file.

import type { Logger } from '../raft/config.js';
import type { Snapshot } from '../raft/types.js';
import { ByteReader, ByteWriter, DecodeError } from './codec.js';
import { crc32c } from './crc32c.js';
import type { Disk } from './disk.js';
import { isNotFound, joinPath, listOrCreateDir, writeFileDurably } from './disk.js';
import { CorruptionError } from './errors.js';
import { beginFrame, endFrame, readFrame } from './frame.js';

const KIND_SNAPSHOT_FILE = 6;
/** Reads "RKVS" on disk. */
const SNAPSHOT_MAGIC = 0x53564b52;
const SNAPSHOT_VERSION = 1;
const NAME_RE = /^snap-([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapshotFile {
  readonly name: string;
  readonly index: number;
  readonly term: number;
}

export function snapshotFileName(index: number, term: number): string {
  return `snap-${index.toString(16).padStart(16, '0')}-${term.toString(16).padStart(16, '0')}.snap`;
}

export function parseSnapshotName(name: string): SnapshotFile | null {
  const m = NAME_RE.exec(name);
  if (m === null) return null;
  return { name, index: Number.parseInt(m[1]!, 16), term: Number.parseInt(m[2]!, 16) };
}

export function encodeSnapshotHeader(snapshot: Snapshot): Uint8Array {
  const w = new ByteWriter();
  const at = beginFrame(w);
  w.u8(KIND_SNAPSHOT_FILE);
  w.u32(SNAPSHOT_MAGIC);
  w.u8(SNAPSHOT_VERSION);
  w.varint(snapshot.meta.index);
  w.varint(snapshot.meta.term);
  w.varint(snapshot.meta.membership.voters.length);
  for (const v of snapshot.meta.membership.voters) w.string(v);
  w.varint(snapshot.data.length);
  w.u32(crc32c(snapshot.data));
  endFrame(w, at);
  return w.take();
}

export class SnapshotStore {
  /** Newest first. */
  private files: SnapshotFile[];

  private constructor(
    private readonly disk: Disk,
    readonly dir: string,
    files: SnapshotFile[],
  ) {
    this.files = files;
  }

  /** Opens (creating if needed) the snapshot directory; removes temp files of interrupted saves. */
  static async open(disk: Disk, dir: string, logger: Logger): Promise<SnapshotStore> {
    const names = await listOrCreateDir(disk, dir);
    const files: SnapshotFile[] = [];
    let removedTemp = false;
    for (const name of names) {
      const f = parseSnapshotName(name);
      if (f !== null) {
        files.push(f);
      } else if (name.endsWith('.tmp')) {
        // A save that crashed before its rename: it was never acknowledged.
        await disk.remove(joinPath(dir, name));
        removedTemp = true;
        logger.log('info', 'snapshot removed unfinished temp file', { file: joinPath(dir, name) });
      } else if (!name.endsWith('.broken')) {
        logger.log('warn', 'snapshot ignoring unknown file', { file: joinPath(dir, name) });
      }
    }
    if (removedTemp) await disk.syncDir(dir);
    return new SnapshotStore(disk, dir, sortNewestFirst(files));
  }

  list(): readonly SnapshotFile[] {
    return this.files;
  }

  pathOf(f: SnapshotFile): string {
    return joinPath(this.dir, f.name);
  }

  /** Writes the snapshot durably; returns once file and directory entry are on disk. */
  async save(snapshot: Snapshot): Promise<SnapshotFile> {
    const f: SnapshotFile = {
      name: snapshotFileName(snapshot.meta.index, snapshot.meta.term),
      index: snapshot.meta.index,
      term: snapshot.meta.term,
    };
    await writeFileDurably(this.disk, this.pathOf(f), [encodeSnapshotHeader(snapshot), snapshot.data]);
    this.files = sortNewestFirst([...this.files.filter((x) => x.name !== f.name), f]);
    return f;
  }

  /** Reads and verifies a snapshot. Throws CorruptionError if it is damaged in any way. */
  async load(f: SnapshotFile): Promise<Snapshot> {
    const path = this.pathOf(f);
    const buf = await this.disk.readFile(path);
    const frame = readFrame(buf, 0);
    if (!frame.ok) throw new CorruptionError(path, 0, frame.problem);
    let index: number;
    let term: number;
    let voters: string[];
    let dataLength: number;
    let dataCrc: number;
    try {
      const r = new ByteReader(frame.payload);
      const kind = r.u8();
      const magic = r.u32();
      const version = r.u8();
      if (kind !== KIND_SNAPSHOT_FILE || magic !== SNAPSHOT_MAGIC)
        throw new DecodeError('not a snapshot file');
      if (version !== SNAPSHOT_VERSION) throw new DecodeError(`unsupported snapshot version ${version}`);
      index = r.varint();
      term = r.varint();
      const n = r.varint();
      voters = [];
      for (let i = 0; i < n; i++) voters.push(r.string());
      dataLength = r.varint();
      dataCrc = r.u32();
      r.end();
    } catch (e) {
      if (e instanceof DecodeError) throw new CorruptionError(path, 0, `bad snapshot header: ${e.message}`);
      throw e;
    }
    if (index !== f.index || term !== f.term) {
      throw new CorruptionError(path, 0, `header says index ${index} term ${term}, unlike the file name`);
    }
    if (buf.length - frame.end !== dataLength) {
      throw new CorruptionError(
        path,
        frame.end,
        `expected ${dataLength} data bytes, found ${buf.length - frame.end}`,
      );
    }
    const data = buf.slice(frame.end);
    if (crc32c(data) !== dataCrc)
      throw new CorruptionError(path, frame.end, 'snapshot data checksum mismatch');
    return { meta: { index, term, membership: { voters } }, data };
  }

  /**
   * Keeps the newest `keep` snapshots among those at or below `maxIndex` and deletes the older
   * ones (newer snapshots are not touched). Returns the names removed.
   */
  async prune(keep: number, maxIndex = Number.POSITIVE_INFINITY): Promise<string[]> {
    const eligible = this.files.filter((f) => f.index <= maxIndex);
    const doomed = eligible.slice(Math.max(keep, 0));
    for (const f of doomed) await this.delete(f);
    if (doomed.length > 0) await this.disk.syncDir(this.dir);
    return doomed.map((f) => f.name);
  }

  /** Renames a damaged snapshot to *.broken, out of the way but kept for inspection. */
  async quarantine(f: SnapshotFile): Promise<string> {
    const to = `${this.pathOf(f)}.broken`;
    await this.disk.rename(this.pathOf(f), to);
    await this.disk.syncDir(this.dir);
    this.files = this.files.filter((x) => x.name !== f.name);
    return to;
  }

  /** Deletes one snapshot file. */
  async remove(f: SnapshotFile): Promise<void> {
    await this.delete(f);
    await this.disk.syncDir(this.dir);
  }

  private async delete(f: SnapshotFile): Promise<void> {
    try {
      await this.disk.remove(this.pathOf(f));
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
    this.files = this.files.filter((x) => x.name !== f.name);
  }
}

function sortNewestFirst(files: SnapshotFile[]): SnapshotFile[] {
  return files.sort((a, b) => b.index - a.index || b.term - a.term);
}
