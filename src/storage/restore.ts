// A data dir built from a snapshot rather than grown from an empty log: what `raftkv snapshot
// restore` makes, one per member of a new cluster. It holds what a follower holds right after
// installing a leader's snapshot — the snapshot file, and a WAL whose log starts at it (its
// marker, and a hard state with its term and commit index, no vote) — plus the RESTORED record
// (restore-record.ts) and the identity. A node opens it like any other (openStorage) and its log
// continues from the snapshot's index.

import { silentLogger } from '../raft/config.js';
import type { HeldSnapshot } from '../raft/types.js';
import { type Disk, joinPath, listOrCreateDir } from './disk.js';
import { StorageError } from './errors.js';
import { IDENTITY_FILE, type StorageIdentity, writeIdentity } from './identity.js';
import { type RestoreRecord, writeRestoreRecord } from './restore-record.js';
import { SnapshotStore } from './snapshot-store.js';
import { Wal } from './wal.js';

/**
 * Builds the data dir `dir` (missing or empty; StorageError otherwise) of node `identity` from
 * `snapshot`. The RESTORED record is written first and the identity last: a restore cut short
 * leaves a dir with the record but no identity, on which openStorage refuses to start (and a new
 * restore refuses too, the dir not being empty) — never a node starting with part of its state.
 */
export async function restoreDataDir(
  disk: Disk,
  dir: string,
  identity: StorageIdentity,
  snapshot: HeldSnapshot,
  record: RestoreRecord,
): Promise<void> {
  const names = await listOrCreateDir(disk, dir);
  if (names.length > 0) {
    throw new StorageError(
      `data dir ${dir} is not empty (${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}): a restore builds a new one`,
    );
  }
  await writeRestoreRecord(disk, dir, record);
  const { index, term } = snapshot.meta;
  const snapshots = await SnapshotStore.open(disk, joinPath(dir, 'snap'), silentLogger);
  await snapshots.save(snapshot);
  const { wal } = await Wal.open(disk, joinPath(dir, 'wal'));
  try {
    // As a follower persists a leader's snapshot: the file first, then its marker.
    wal.saveSnapshot({ index, term });
    wal.save([], { term, votedFor: null, commitIndex: index });
    await wal.sync();
  } finally {
    await wal.close();
  }
  await writeIdentity(disk, joinPath(dir, IDENTITY_FILE), identity);
}
