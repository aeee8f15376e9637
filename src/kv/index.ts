// The replicated key-value state machine and what the server needs around it.

export {
  type CasCommand,
  COMMAND_FORMAT_VERSION,
  type Command,
  CommandDecodeError,
  type DeleteCommand,
  decodeCommand,
  encodeCommand,
  type PutCommand,
} from './command.js';
export { DEFAULT_DEDUP_CONFIG, type DedupConfig } from './dedup.js';
export { compareKeys } from './key-order.js';
export {
  isWellFormed,
  KV_LIMITS,
  MAX_IDEMPOTENCY_KEY_BYTES,
  MAX_KEY_BYTES,
  MAX_VALUE_BYTES,
  utf8ByteLength,
  type ValidationError,
  validateIdempotencyKey,
  validateKey,
  validatePrevValue,
  validateValue,
} from './limits.js';
export type { KeyValue, ScanResult } from './ordered-store.js';
export type {
  ApplyResult,
  ConflictResult,
  DeleteResult,
  InvalidResult,
  NoopResult,
  PutResult,
  WriteResult,
} from './results.js';
export {
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  KvSnapshotView,
  SNAPSHOT_FORMAT_VERSION,
  SnapshotDecodeError,
} from './snapshot.js';
export { KvStateMachine, type KvStateMachineOptions } from './state-machine.js';
