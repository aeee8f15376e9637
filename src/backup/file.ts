// Checking a backup file on disk: read in fixed-size pieces through a BackupReader, so a file of
// any size is checked in constant memory.

import { open } from 'node:fs/promises';
import { type BackupCheck, BackupReader } from './read.js';

const readBytes = 1024 * 1024;

/**
 * Reads the file at `path` whole and judges it (see BackupReader; `onBody` as there). Rejects
 * with BackupFileError when its first bytes cannot start a snapshot file, and with the file
 * system's error when it cannot be read.
 */
export async function checkBackupFile(
  path: string,
  onBody?: (bytes: Uint8Array, offset: number) => void,
): Promise<BackupCheck> {
  const reader = new BackupReader(onBody);
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(readBytes);
    for (;;) {
      const { bytesRead } = await file.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      reader.push(buffer.subarray(0, bytesRead));
    }
  } finally {
    await file.close();
  }
  return reader.finish();
}
