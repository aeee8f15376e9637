// The client of raftkv's HTTP API: what a program that uses a raftkv cluster imports.

export { BackupFailedError, type SaveBackupOptions, type SavedBackup, saveBackup } from './backup-file.js';
export {
  type Answer,
  type AnswerHeaders,
  type BackupOptions,
  type BackupResult,
  type CallOptions,
  type ClientOptions,
  type DeleteResult,
  type Faults,
  type FaultsPatch,
  type GetResult,
  type KeyItem,
  type KeyMetadata,
  type LeaderResult,
  type LeaseInfoResult,
  type LeaseResult,
  type LeaseRevokeResult,
  type ListResult,
  type MembersResult,
  type NodeStatus,
  type Probe,
  type PutResult,
  RaftkvClient,
  type RawRequest,
  type SnapshotResult,
  type SpaceResult,
  type StreamAnswer,
  type TxnResult,
} from './client.js';
export {
  ClusterClient as Client,
  ClusterClient,
  type ClusterClientOptions,
  OutcomeUnknownError,
} from './cluster-client.js';
export {
  type CampaignOptions,
  campaign,
  type Election,
  type ElectionNode,
  electionOn,
  type Leader,
  type Leadership,
  LeadershipLostError,
  leader,
  observe,
} from './election.js';
export { PreconditionFailedError, RaftkvApiError, RaftkvConnectionError } from './errors.js';
export {
  acquireLock,
  type HeldLock,
  type KeptLease,
  keepLease,
  type LeaseNode,
  LockLostError,
  type LockNode,
  type LockOptions,
  lockPrefix,
} from './lock.js';
export {
  type ApiRequest,
  apiRequests,
  type Consistency,
  type ListOptions,
  type PutOptions,
  type ReadOptions,
  type TxnBody,
  type TxnBodyOp,
  type WriteOptions,
} from './requests.js';
export { type SseBlock, SseParser } from './sse.js';
export { type ClientTls, checkClientTls, type Pem, TlsOptionsError } from './tls.js';
export {
  ResumePoint,
  WatchCompactedError,
  type WatchEvent,
  type WatchOptions,
  type WatchResume,
  type WatchTarget,
  watchChanges,
  watchPath,
} from './watch.js';
