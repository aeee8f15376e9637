// The backup file format (README.md): written as a stream by a node serving GET /admin/snapshot,
// read back and judged by the CLI's snapshot save, status and restore.

export { type BodySink, checkBackupFile } from './file.js';
export {
  BACKUP_FORMAT_VERSION,
  type BackupHeader,
  PREAMBLE_BYTES,
  TRAILER_BYTES,
} from './format.js';
export {
  type BackupCheck,
  BackupFileError,
  type BackupProblem,
  BackupReader,
  expectIntact,
  type IntactBackup,
} from './read.js';
export { backupFileChunks } from './write.js';
