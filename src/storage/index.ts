// The durable storage layer's public surface: a disk seam (real and simulated), the WAL, the
// snapshot store and openStorage, which ties them to one node's data dir.

export { crc32c } from '../codec/index.js';
export { DelayingDisk } from './delaying-disk.js';
export {
  type Disk,
  DiskError,
  type DiskErrorCode,
  type DiskFile,
  type DiskReader,
  errorCode,
  isNotFound,
  joinPath,
  mkdirDurably,
  parentDir,
  writeFileDurably,
} from './disk.js';
export { CorruptionError, IdentityMismatchError, StorageError, WalFailedError } from './errors.js';
export { DATA_DIR_VERSION, IDENTITY_FILE, type StorageIdentity } from './identity.js';
export { RealDisk } from './real-disk.js';
export { restoreDataDir } from './restore.js';
export { RESTORE_FILE, type RestoreRecord, readRestoreRecord } from './restore-record.js';
export { type CrashOptions, SimDisk, type SimDiskStats, type SimOp } from './sim-disk.js';
export { type SnapshotDataFile, type SnapshotFile, SnapshotStore } from './snapshot-store.js';
export {
  type DiscardedSnapshot,
  openStorage,
  type RecoveredState,
  Storage,
  type StorageOptions,
} from './storage.js';
export { DEFAULT_SEGMENT_SIZE, Wal, type WalOptions, type WalRecovery } from './wal.js';
export type { LogPosition } from './wal-record.js';
export type { TornTail } from './wal-replay.js';
