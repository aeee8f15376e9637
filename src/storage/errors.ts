// Errors the storage layer raises. Damage is never repaired silently: anything that is not a
// torn tail (see wal-replay.ts) stops the node with the file and byte offset an operator needs.

export class StorageError extends Error {
  override name = 'StorageError';
}

/** Data on disk failed a checksum or a consistency check. `offset` is null for whole-file damage. */
export class CorruptionError extends StorageError {
  override name = 'CorruptionError';
  constructor(
    readonly file: string,
    readonly offset: number | null,
    readonly reason: string,
  ) {
    super(offset === null ? `corrupt ${file}: ${reason}` : `corrupt ${file} at byte ${offset}: ${reason}`);
  }
}

/** The data dir belongs to another node or cluster. */
export class IdentityMismatchError extends StorageError {
  override name = 'IdentityMismatchError';
}

/**
 * A write or fsync failed. The WAL refuses all further use: after a failed fsync the kernel may
 * have dropped the dirty pages, so retrying could report durable what is not (the "fsyncgate"
 * lesson). Reopen the storage to recover from what is really on disk.
 */
export class WalFailedError extends StorageError {
  override name = 'WalFailedError';
  constructor(cause: unknown) {
    super(`WAL unusable after an I/O failure: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}
