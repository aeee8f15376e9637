// The data dir's identity: which cluster and node it belongs to, written once at bootstrap.
// Starting a node on another node's data dir (a copy-paste slip, a wrong volume mount) would
// make it vote and acknowledge with someone else's log: that is refused here.
//
//   IDENTITY: frame(u8 kind 7, u32 LE magic, u8 format version, string clusterId, string nodeId)

import type { Disk } from './disk.js';
import { writeFileDurably } from './disk.js';
import { IdentityMismatchError } from './errors.js';
import { decodeRecordFile, encodeRecordFile, type RecordFileFormat } from './record-file.js';

export const IDENTITY_FILE = 'IDENTITY';
const KIND_IDENTITY = 7;
/** Reads "RKVI" on disk. */
const IDENTITY_MAGIC = 0x49564b52;
/** Version of the whole data dir layout (WAL, snapshots, this file). */
export const DATA_DIR_VERSION = 1;

export interface StorageIdentity {
  readonly clusterId: string;
  readonly nodeId: string;
}

const format: RecordFileFormat = {
  kind: KIND_IDENTITY,
  magic: IDENTITY_MAGIC,
  version: DATA_DIR_VERSION,
  what: 'identity',
  notThis: 'not an identity file',
  versionOf: 'data dir',
};

export function encodeIdentity(id: StorageIdentity): Uint8Array {
  return encodeRecordFile(format, (w) => {
    w.string(id.clusterId);
    w.string(id.nodeId);
  });
}

export function decodeIdentity(buf: Uint8Array, path: string): StorageIdentity {
  return decodeRecordFile(format, buf, path, (r) => ({
    clusterId: r.string('clusterId'),
    nodeId: r.string('nodeId'),
  }));
}

export async function writeIdentity(disk: Disk, path: string, id: StorageIdentity): Promise<void> {
  await writeFileDurably(disk, path, [encodeIdentity(id)]);
}

/** Throws IdentityMismatchError unless the data dir belongs to `expected`. */
export function checkIdentity(found: StorageIdentity, expected: StorageIdentity, dir: string): void {
  if (found.clusterId !== expected.clusterId) {
    throw new IdentityMismatchError(
      `data dir ${dir} belongs to cluster "${found.clusterId}", not "${expected.clusterId}": refusing to start`,
    );
  }
  if (found.nodeId !== expected.nodeId) {
    throw new IdentityMismatchError(
      `data dir ${dir} belongs to node "${found.nodeId}" of cluster "${found.clusterId}", ` +
        `not "${expected.nodeId}": refusing to start`,
    );
  }
}
