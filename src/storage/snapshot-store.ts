// Snapshot files: the state machine's serialized state with the snapshot's metadata.
//
//   snap-<index:16 hex>-<term:16 hex>.snap
//     frame(u8 kind 6, u32 LE magic, u8 version,
//           snapshot metadata (codec/snapshot-meta.ts, as the wire carries it too: varuint index,
//           varuint term, the membership's JSON as bytes; version 1 had the voters as strings),
//           varuint data length, u32 LE CRC32C of the data)
//     data
//
// Each is written to a temp file, fdatasynced, renamed into place and the directory fsynced, so a
// snapshot file either exists whole or not at all; the checksums catch later damage. Names sort
// by index, so the newest is found without reading any file.
//
// A node does not keep its snapshot's data in memory: a leader streams it to a follower from the
// file (openData), a chunk at a time, checking the data's checksum as it goes.

import {
  ByteReader,
  ByteWriter,
  CodecError,
  crc32c,
  readSnapshotMeta,
  SNAPSHOT_META_VERSION,
  u32leAt,
  writeSnapshotMeta,
} from '../codec/index.js';
import type { Logger } from '../raft/config.js';
import type { HeldSnapshot, Snapshot, SnapshotMeta } from '../raft/types.js';
import type { Disk, DiskReader } from './disk.js';
import { isNotFound, joinPath, listOrCreateDir, writeFileDurably } from './disk.js';
import { CorruptionError } from './errors.js';
import { beginFrame, endFrame, FRAME_HEADER_SIZE, MAX_PAYLOAD, readFrame } from './frame.js';

const KIND_SNAPSHOT_FILE = 6;
/** Reads "RKVS" on disk. */
const SNAPSHOT_MAGIC = 0x53564b52;
/**
 * The file's version is its metadata's (codec/snapshot-meta.ts): 2 carries the whole membership;
 * 1 (voters only) is still read.
 */
const SNAPSHOT_VERSION = SNAPSHOT_META_VERSION;
/** verify() reads a snapshot's data this many bytes at a time. */
const VERIFY_WINDOW_BYTES = 1024 * 1024;
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

/**
 * A snapshot file opened to stream its data (SnapshotStore.openData): the header is checked, the
 * data is not — whoever reads it checks it against `dataCrc` (CRC32C), and closes the file.
 */
export interface SnapshotDataFile {
  readonly meta: SnapshotMeta;
  readonly dataLength: number;
  /** CRC32C of the whole data, as the header records it. */
  readonly dataCrc: number;
  /** Where the data starts in the file (after the header). */
  readonly dataOffset: number;
  /** Up to `length` data bytes from data offset `offset` (fewer only at the file's end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

export function encodeSnapshotHeader(snapshot: HeldSnapshot): Uint8Array {
  return encodeHeaderOf(snapshot.meta, snapshot.data.length, crc32c(snapshot.data));
}

function encodeHeaderOf(meta: SnapshotMeta, dataLength: number, dataCrc: number): Uint8Array {
  const w = new ByteWriter();
  const at = beginFrame(w);
  w.u8(KIND_SNAPSHOT_FILE);
  w.u32le(SNAPSHOT_MAGIC);
  w.u8(SNAPSHOT_VERSION);
  writeSnapshotMeta(w, meta);
  w.varuint(dataLength);
  w.u32le(dataCrc);
  endFrame(w, at);
  return w.take();
}

interface SnapshotHeader {
  readonly meta: SnapshotMeta;
  readonly dataLength: number;
  readonly dataCrc: number;
}

/** Decodes a snapshot file's header payload; throws CodecError. */
function decodeSnapshotHeader(payload: Uint8Array): SnapshotHeader {
  const r = new ByteReader(payload, 'snapshot header');
  if (r.u8('kind') !== KIND_SNAPSHOT_FILE || r.u32le('magic') !== SNAPSHOT_MAGIC)
    r.fail('not a snapshot file', 0);
  const version = r.u8('version');
  if (version !== 1 && version !== SNAPSHOT_VERSION) r.fail(`unsupported snapshot version ${version}`);
  const meta = readSnapshotMeta(r, version === 1 ? 1 : SNAPSHOT_VERSION);
  const dataLength = r.varuint('data length');
  const dataCrc = r.u32le('data checksum');
  r.end();
  return { meta, dataLength, dataCrc };
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
  save(snapshot: HeldSnapshot): Promise<SnapshotFile> {
    return this.saveParts(snapshot.meta, [snapshot.data]);
  }

  /**
   * Writes a snapshot whose data is `parts` in order, as save() writes their concatenation: a
   * snapshot serialised in chunks is written from them, never joined into a second copy of itself
   * (at a million keys, 300 MB more at the peak).
   */
  async saveParts(meta: SnapshotMeta, parts: readonly Uint8Array[]): Promise<SnapshotFile> {
    const f: SnapshotFile = {
      name: snapshotFileName(meta.index, meta.term),
      index: meta.index,
      term: meta.term,
    };
    let length = 0;
    let crc = 0;
    for (const part of parts) {
      length += part.byteLength;
      crc = crc32c(part, crc);
    }
    await writeFileDurably(this.disk, this.pathOf(f), [encodeHeaderOf(meta, length, crc), ...parts]);
    this.files = sortNewestFirst([...this.files.filter((x) => x.name !== f.name), f]);
    return f;
  }

  /** Reads and verifies a snapshot. Throws CorruptionError if it is damaged in any way. */
  async load(f: SnapshotFile): Promise<HeldSnapshot> {
    const path = this.pathOf(f);
    const buf = await this.disk.readFile(path);
    const frame = readFrame(buf, 0);
    if (!frame.ok) throw new CorruptionError(path, 0, frame.problem);
    const { meta, dataLength, dataCrc } = checkedHeader(path, f, frame.payload);
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
    return { meta, data };
  }

  /**
   * Checks a snapshot as load() does — header, size, the data's checksum — reading its data a
   * window at a time, and returns it with its data left in the file (a reference to it: read it
   * with openData). Throws CorruptionError if it is damaged in any way.
   */
  async verify(f: SnapshotFile, windowBytes = VERIFY_WINDOW_BYTES): Promise<Snapshot> {
    const file = await this.openData(f.index, f.term);
    try {
      let crc = 0;
      for (let at = 0; at < file.dataLength; ) {
        const chunk = await file.read(at, Math.min(windowBytes, file.dataLength - at));
        // openData checked the size: a short read means the file changed under us.
        if (chunk.length === 0) {
          throw new CorruptionError(this.pathOf(f), file.dataOffset + at, 'the data ended early');
        }
        crc = crc32c(chunk, crc);
        at += chunk.length;
      }
      if (crc !== file.dataCrc) {
        throw new CorruptionError(this.pathOf(f), file.dataOffset, 'snapshot data checksum mismatch');
      }
      return { meta: file.meta, data: { stored: true, byteLength: file.dataLength } };
    } finally {
      await file.close();
    }
  }

  /**
   * Opens the file of snapshot (index, term) to stream its data, whether or not this store still
   * lists it: the header is read and checked now (CorruptionError if damaged, ENOENT if there is
   * no such file), the data is read by the caller a piece at a time. The open file stays readable
   * when a newer snapshot removes it meanwhile; the caller closes it.
   */
  async openData(index: number, term: number): Promise<SnapshotDataFile> {
    const f: SnapshotFile = { name: snapshotFileName(index, term), index, term };
    const path = this.pathOf(f);
    const reader = await this.disk.openRead(path);
    try {
      const dataStart = await frameEnd(reader);
      const frame = readFrame(await reader.read(0, dataStart), 0);
      if (!frame.ok) throw new CorruptionError(path, 0, frame.problem);
      const { meta, dataLength, dataCrc } = checkedHeader(path, f, frame.payload);
      const found = (await reader.size()) - dataStart;
      if (found !== dataLength) {
        throw new CorruptionError(path, dataStart, `expected ${dataLength} data bytes, found ${found}`);
      }
      return {
        meta,
        dataLength,
        dataCrc,
        dataOffset: dataStart,
        read: (offset, length) => reader.read(dataStart + offset, length),
        close: () => reader.close(),
      };
    } catch (e) {
      await reader.close().catch(() => {});
      throw e;
    }
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

/**
 * Where the header frame of an open snapshot file ends (the data's offset), from its checked
 * frame header alone; the frame itself is read and verified next.
 */
async function frameEnd(reader: DiskReader): Promise<number> {
  const head = await reader.read(0, FRAME_HEADER_SIZE);
  if (head.length < FRAME_HEADER_SIZE || crc32c(head.subarray(0, 8)) !== u32leAt(head, 8)) {
    const problem = readFrame(head, 0);
    throw new CorruptionError(reader.path, 0, problem.ok ? 'bad snapshot header' : problem.problem);
  }
  const len = u32leAt(head, 0);
  if (len === 0 || len > MAX_PAYLOAD)
    throw new CorruptionError(reader.path, 0, `implausible header length ${len}`);
  return FRAME_HEADER_SIZE + len;
}

/** The header of the file of `f`, checked against its name. Throws CorruptionError. */
function checkedHeader(path: string, f: SnapshotFile, payload: Uint8Array): SnapshotHeader {
  let header: SnapshotHeader;
  try {
    header = decodeSnapshotHeader(payload);
  } catch (e) {
    if (e instanceof CodecError) throw new CorruptionError(path, 0, `bad snapshot header: ${e.message}`);
    throw e;
  }
  const { index, term } = header.meta;
  if (index !== f.index || term !== f.term) {
    throw new CorruptionError(path, 0, `header says index ${index} term ${term}, unlike the file name`);
  }
  return header;
}

function sortNewestFirst(files: SnapshotFile[]): SnapshotFile[] {
  return files.sort((a, b) => b.index - a.index || b.term - a.term);
}
