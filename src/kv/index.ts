// The replicated key-value state machine and what the server needs around it.

export {
  type AlarmCommand,
  type CasCommand,
  COMMAND_FORMAT_VERSION,
  type Command,
  type CompareOperator,
  type CompareTarget,
  type DeleteCommand,
  decodeCommand,
  encodeCommand,
  keyWrittenTwice,
  type LeaseCommand,
  type PutCommand,
  type QuotaCommand,
  type SpaceCommand,
  type TxnCommand,
  type TxnCompare,
  type TxnOp,
  type WriteCommand,
} from './command.js';
export { DEFAULT_DEDUP_CONFIG, type DedupConfig } from './dedup.js';
export { describeCommandBytes } from './describe.js';
export type { EventHistory, KvEvent } from './events.js';
export { DEFAULT_HISTORY_CONFIG, type HistoryConfig } from './history.js';
export { compareKeys } from './key-order.js';
export {
  isWellFormed,
  KV_LIMITS,
  MAX_IDEMPOTENCY_KEY_BYTES,
  MAX_KEY_BYTES,
  MAX_TXN_BYTES,
  MAX_TXN_OPS,
  MAX_VALUE_BYTES,
  type ValidationError,
  validateIdempotencyKey,
  validateKey,
  validatePrevValue,
  validateValue,
} from './limits.js';
export type { KeyValue, ScanResult } from './ordered-store.js';
export type {
  ApplyResult,
  ConfigResult,
  ConflictResult,
  DeleteResult,
  InvalidResult,
  LeaseApplyResult,
  LeaseEndedResult,
  LeaseKeptResult,
  LeaseNotFoundResult,
  LeaseResult,
  NoopResult,
  NoSpaceResult,
  PutResult,
  SpaceRefusal,
  SpaceResult,
  TxnOpResult,
  TxnResult,
  WriteResult,
} from './results.js';
export {
  DEFAULT_SNAPSHOT_CHUNK_BYTES,
  KvSnapshotView,
  SNAPSHOT_FORMAT_VERSION,
  type SnapshotSource,
} from './snapshot.js';
export { pairCharge } from './space.js';
export { KvStateMachine, type KvStateMachineOptions } from './state-machine.js';
