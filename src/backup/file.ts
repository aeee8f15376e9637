// Checking a backup file on disk: read in fixed-size pieces through a BackupReader, so a file of
// any size is checked in constant memory.

import { open } from 'node:fs/promises';
import { PREAMBLE_BYTES, TRAILER_BYTES } from './format.js';
import { type BackupCheck, BackupReader } from './read.js';

const readBytes = 1024 * 1024;

/**
 * Receives the body's bytes as BackupReader's `onBody` does, and `bodyBytes`: the body's size if
 * the file is whole (from the file's size and its header's length), so a caller can make room for
 * it once instead of growing a copy.
 */
export type BodySink = (bytes: Uint8Array, offset: number, bodyBytes: number) => void;

/**
 * Reads the file at `path` whole and judges it (see BackupReader). Rejects with BackupFileError
 * when its first bytes cannot start a snapshot file, and with the file system's error when it
 * cannot be read.
 */
export async function checkBackupFile(path: string, onBody?: BodySink): Promise<BackupCheck> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const reader: BackupReader = new BackupReader(
      onBody &&
        ((bytes, offset) =>
          onBody(bytes, offset, size - PREAMBLE_BYTES - (reader.headerBytesLength ?? 0) - TRAILER_BYTES)),
    );
    const buffer = new Uint8Array(readBytes);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      reader.push(buffer.subarray(0, bytesRead));
    }
    return reader.finish();
  } finally {
    await file.close();
  }
}
