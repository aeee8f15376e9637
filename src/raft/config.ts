// Configuration of one consensus core, and the seams through which randomness and logging are
// injected (the core owns no clock, no RNG and no output of its own).

import type { NodeId } from './types.js';

/** Uniform integers; the simulator passes a seeded PRNG, the driver a crypto-backed one. */
export interface Random {
  /** An integer in [0, maxExclusive). */
  nextInt(maxExclusive: number): number;
}

export type LogLevel = 'debug' | 'info' | 'warn';

/** One call per event that matters, saying why ("ignored AppendEntries: stale term"). */
export interface Logger {
  log(
    level: LogLevel,
    event: string,
    fields: Readonly<Record<string, string | number | boolean | null>>,
  ): void;
}

export const silentLogger: Logger = { log: () => {} };

/**
 * Deliberately broken rules, for the mutation tests only: each one re-introduces a known Raft bug
 * so the tests can show the simulator catches it. Never set outside tests.
 */
export interface Mutations {
  /** Commit an entry of an older term by counting replicas (the thesis's Figure 3.7). */
  commitOldTermByCounting?: boolean;
  /** Grant votes without the candidate's-log-is-up-to-date check (§3.6.1). */
  skipLogUpToDateCheck?: boolean;
  /** Emit hard states with votedFor cleared, so a restart forgets the vote (Figure 3.1). */
  forgetVotePersist?: boolean;
  /** Release ReadIndex reads without confirming leadership with a heartbeat round (§6.4). */
  readIndexWithoutHeartbeat?: boolean;
  /**
   * Keep the leader lease for the rest of the term once one heartbeat round was confirmed,
   * whatever the time (§6.4.1 bounds it by the election timeout): a deposed leader cut off from
   * the majority serves lease reads until CheckQuorum steps it down.
   */
  leaseNeverExpires?: boolean;
  /** Hand entries to the state machine as soon as they are appended, before they commit. */
  applyBeforeCommit?: boolean;
  /** Append a configuration change before committing an entry of the leader's own term (the 2015 single-server bug). */
  changeBeforeTermCommit?: boolean;
  /** Append a configuration change while another one is still uncommitted (§4.2: one at a time). */
  concurrentChanges?: boolean;
  /** While joint, count only the incoming voters' majority (§4.3 needs both). */
  jointCountsIncomingOnly?: boolean;
  /** Count learners as voters in elections and commitment. */
  learnersVote?: boolean;
}

export type ReadMode =
  /** ReadIndex confirmed by a heartbeat round (§6.4). */
  | 'safe'
  /**
   * Leader lease (§6.4.1): the leader serves reads without a round while it heard from a
   * majority within the last election timeout. Correct only if clocks drift less than the gap
   * between the election timeout and the lease, so it requires checkQuorum.
   */
  | 'lease';

type LeaseSettings = Pick<RaftConfig, 'readMode' | 'checkQuorum' | 'leaseReads'>;

/**
 * Whether this node keeps the leader lease (§6.4.1): in readMode 'lease', or when reads may ask
 * for it one by one (leaseReads). It then counts every heartbeat as a read round, and after a
 * restart refuses votes for an election timeout (see RaftState.leaderStillHeard).
 */
export function keepsLease(config: LeaseSettings): boolean {
  return config.checkQuorum && (config.readMode === 'lease' || config.leaseReads);
}

/**
 * Whether a read may use the leader lease: its own mode if it gave one, else the node's; and only
 * where the lease is kept. Any other read is confirmed by a heartbeat round, whatever it asked for.
 */
export function usesLease(config: LeaseSettings, mode?: ReadMode): boolean {
  return keepsLease(config) && (mode ?? config.readMode) === 'lease';
}

export interface RaftConfig {
  readonly id: NodeId;
  /** Minimum election timeout; each node draws its timeout from [min, 2·min) (§3.4). */
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  /** §9.6: campaign only after a majority says it would vote. */
  readonly preVote: boolean;
  /** §6.2: a leader that has not heard from a majority for an election timeout steps down. */
  readonly checkQuorum: boolean;
  readonly readMode: ReadMode;
  /**
   * Reads may ask for the leader lease one by one (readIndex with mode 'lease') whatever
   * readMode says. Requires checkQuorum, as readMode 'lease' does.
   */
  readonly leaseReads: boolean;
  /** Entry bytes per AppendEntries (at least one entry is always sent). */
  readonly messageBytesMax: number;
  /** AppendEntries in flight per follower in replicate state. */
  readonly inflightMessagesMax: number;
  /** Entry bytes in flight per follower. */
  readonly inflightBytesMax: number;
  /** Bytes of entries appended by the leader and not yet committed; beyond it proposals get Busy. */
  readonly uncommittedBytesMax: number;
  /** Pending ReadIndex requests; beyond it reads fail with Busy. */
  readonly pendingReadsMax: number;
  /** Entry bytes handed out as committedEntries per Ready. */
  readonly committedBytesPerReadyMax: number;
  /** The index the state machine had applied when this core was built (restart). */
  readonly lastApplied: number;
  readonly mutations: Mutations;
}

export const defaultRaftConfig: Omit<RaftConfig, 'id'> = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  leaseReads: false,
  readMode: 'safe',
  messageBytesMax: 1 << 20,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 << 20,
  uncommittedBytesMax: 64 << 20,
  pendingReadsMax: 65_536,
  committedBytesPerReadyMax: 16 << 20,
  lastApplied: 0,
  mutations: {},
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** Throws ConfigError naming the first bad field. Every queue and buffer has a finite maximum. */
export function validateConfig(c: RaftConfig): void {
  const positive: (keyof RaftConfig)[] = [
    'electionTimeoutTicks',
    'heartbeatIntervalTicks',
    'messageBytesMax',
    'inflightMessagesMax',
    'inflightBytesMax',
    'uncommittedBytesMax',
    'pendingReadsMax',
    'committedBytesPerReadyMax',
  ];
  if (typeof c.id !== 'string' || c.id.length === 0) throw new ConfigError('id must be a non-empty string');
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v <= 0) {
      throw new ConfigError(`${k} must be a positive integer, got ${String(v)}`);
    }
  }
  if (c.heartbeatIntervalTicks >= c.electionTimeoutTicks) {
    throw new ConfigError('heartbeatIntervalTicks must be smaller than electionTimeoutTicks');
  }
  if (!Number.isSafeInteger(c.lastApplied) || c.lastApplied < 0)
    throw new ConfigError('lastApplied must be ≥ 0');
  if (c.readMode === 'lease' && !c.checkQuorum) {
    throw new ConfigError(
      'readMode "lease" requires checkQuorum: without it a deposed leader may serve stale reads',
    );
  }
  if (c.leaseReads && !c.checkQuorum) {
    throw new ConfigError(
      'leaseReads requires checkQuorum: without it a deposed leader may serve stale reads',
    );
  }
}
