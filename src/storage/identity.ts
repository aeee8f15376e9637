// The data dir's identity: which cluster and node it belongs to, written once at bootstrap.
// Starting a node on another node's data dir (a copy-paste slip, a wrong volume mount) would
// make it vote and acknowledge with someone else's log: that is refused here.
//
//   IDENTITY: frame(u8 kind 7, u32 LE magic, u8 format version, string clusterId, string nodeId)

import { ByteReader, ByteWriter, CodecError } from '../codec/index.js';
import type { Disk } from './disk.js';
import { writeFileDurably } from './disk.js';
import { CorruptionError, IdentityMismatchError } from './errors.js';
import { beginFrame, endFrame, readFrame } from './frame.js';

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

export function encodeIdentity(id: StorageIdentity): Uint8Array {
  const w = new ByteWriter();
  const at = beginFrame(w);
  w.u8(KIND_IDENTITY);
  w.u32le(IDENTITY_MAGIC);
  w.u8(DATA_DIR_VERSION);
  w.string(id.clusterId);
  w.string(id.nodeId);
  endFrame(w, at);
  return w.take();
}

export function decodeIdentity(buf: Uint8Array, path: string): StorageIdentity {
  const frame = readFrame(buf, 0);
  if (!frame.ok) throw new CorruptionError(path, 0, frame.problem);
  if (frame.end !== buf.length)
    throw new CorruptionError(path, frame.end, 'trailing bytes after the identity');
  try {
    const r = new ByteReader(frame.payload, 'identity');
    if (r.u8('kind') !== KIND_IDENTITY || r.u32le('magic') !== IDENTITY_MAGIC)
      r.fail('not an identity file', 0);
    const version = r.u8('version');
    if (version !== DATA_DIR_VERSION) r.fail(`unsupported data dir version ${version}`);
    const clusterId = r.string('clusterId');
    const nodeId = r.string('nodeId');
    r.end();
    return { clusterId, nodeId };
  } catch (e) {
    if (e instanceof CodecError) throw new CorruptionError(path, 0, e.message);
    throw e;
  }
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
