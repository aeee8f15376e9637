// The RESTORED file: written into a data dir built from a backup (restore.ts), it says which new
// cluster the dir belongs to and for which membership it was built, and where its state came
// from. A node started on the dir with that same membership (--cluster) and no --cluster-token
// takes the cluster id from here — so a restored member starts "as usual", while every member
// restored from the same file for the same membership agrees on the id without being told it.
//
//   RESTORED: frame(u8 kind 9, u32 LE magic, u8 version, string clusterId, string clusterSpec,
//                   string sourceClusterId, varuint index, varuint term, bytes sha256)

import { type Disk, isNotFound, joinPath, writeFileDurably } from './disk.js';
import { decodeRecordFile, encodeRecordFile, type RecordFileFormat } from './record-file.js';

export const RESTORE_FILE = 'RESTORED';
const KIND_RESTORE = 9;
/** Reads "RKVR" on disk. */
const RESTORE_MAGIC = 0x52564b52;
const RESTORE_VERSION = 1;

export interface RestoreRecord {
  /** The new cluster's id (what IDENTITY holds). */
  readonly clusterId: string;
  /** The membership the dir was restored for, as `id=host:port,...` sorted by id. */
  readonly clusterSpec: string;
  /** The cluster the backup was taken from. */
  readonly sourceClusterId: string;
  /** The backup's log index and term: the restored state's, and where the new log starts. */
  readonly index: number;
  readonly term: number;
  /** The backup file's SHA-256. */
  readonly sha256: Uint8Array;
}

const format: RecordFileFormat = {
  kind: KIND_RESTORE,
  magic: RESTORE_MAGIC,
  version: RESTORE_VERSION,
  what: 'restore record',
  notThis: 'not a restore record',
  versionOf: 'restore record',
};

export function encodeRestoreRecord(r: RestoreRecord): Uint8Array {
  return encodeRecordFile(format, (w) => {
    w.string(r.clusterId);
    w.string(r.clusterSpec);
    w.string(r.sourceClusterId);
    w.varuint(r.index);
    w.varuint(r.term);
    w.bytes(r.sha256);
  });
}

export function decodeRestoreRecord(buf: Uint8Array, path: string): RestoreRecord {
  return decodeRecordFile(format, buf, path, (r) => ({
    clusterId: r.string('clusterId'),
    clusterSpec: r.string('clusterSpec'),
    sourceClusterId: r.string('sourceClusterId'),
    index: r.varuint('index'),
    term: r.varuint('term'),
    sha256: r.bytes('sha256').slice(),
  }));
}

export async function writeRestoreRecord(disk: Disk, dir: string, r: RestoreRecord): Promise<void> {
  await writeFileDurably(disk, joinPath(dir, RESTORE_FILE), [encodeRestoreRecord(r)]);
}

/** The dir's restore record; null when it has none (it was not built by a restore, or is not there). */
export async function readRestoreRecord(disk: Disk, dir: string): Promise<RestoreRecord | null> {
  const path = joinPath(dir, RESTORE_FILE);
  try {
    return decodeRestoreRecord(await disk.readFile(path), path);
  } catch (e) {
    if (isNotFound(e)) return null;
    throw e;
  }
}
