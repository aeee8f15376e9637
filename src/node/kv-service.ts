// The client operations of one node (KvService, used by the HTTP server): writes are proposed
// here if this node leads; a follower hands a client write's proposal to the leader over the peer
// connection and answers it once applied here (driver.forwardProposal), or — when that cannot be
// done (no version 4 connection, access control on) — refuses it with the leader's address so the
// server forwards the request over HTTP;
// linearizable reads go through ReadIndex (§6.4) — on a follower too, which relays the request
// to the leader and serves from its own state machine once it has applied that far.

import {
  BadRequestError,
  ConflictError,
  LeadershipLostError,
  LeaseNotFoundError,
  NoLeaderError,
  NotLeaderError,
  RaftkvError,
  TimeoutError,
  withoutStack,
} from '../api/errors.js';
import type {
  AddMemberRequest,
  AlarmRequest,
  BackupStream,
  Consistency,
  DeleteRequest,
  DeleteResponse,
  GetResponse,
  Health,
  KvService,
  LeaderResponse,
  LeaseGrantRequest,
  LeaseInfoResponse,
  LeaseResponse,
  LeaseRevokeResponse,
  ListQuery,
  ListResponse,
  MembersResponse,
  PutRequest,
  PutResponse,
  ReadQuery,
  SnapshotResponse,
  SpaceStatus,
  TxnRequest,
  TxnResponse,
  WatchHandle,
  WatchSink,
  WatchSpec,
} from '../api/service.js';
import {
  type Command,
  describeCommandBytes,
  encodeCommand,
  type SpaceCommand,
  type SpaceResult,
  type WriteResult,
} from '../kv/index.js';
import { isMember } from '../raft/index.js';
import { BackupSource } from './backup-source.js';
import { sleep } from './clock.js';
import type { Driver } from './driver.js';
import { NodeMembership } from './membership-ops.js';
import type { ResolvedNodeOptions } from './options.js';
import { noSpaceError, type ProposalResult } from './pending.js';

export class NodeKvService implements KvService {
  readonly nodeId: string;

  /** The free-disk guard's view, once the node has one (see space-guard.ts). */
  diskSpace: (() => Record<string, unknown>) | null = null;

  private readonly membership: NodeMembership;
  private readonly backups: BackupSource;

  constructor(
    private readonly driver: Driver,
    private readonly options: ResolvedNodeOptions,
    clusterId: string,
  ) {
    this.nodeId = options.id;
    this.backups = new BackupSource(driver, clusterId);
    this.membership = new NodeMembership(driver, options, clusterId, {
      confirmRead: (deadline) => this.confirmRead(deadline),
      viaLeader: (attempt, deadline) => this.viaLeader(attempt, deadline),
    });
  }

  members(consistency: Consistency, deadline: number): Promise<MembersResponse> {
    return this.membership.members(consistency, deadline);
  }

  addMember(req: AddMemberRequest, deadline: number): Promise<MembersResponse> {
    return this.membership.addMember(req, deadline);
  }

  promoteMember(id: string, deadline: number): Promise<MembersResponse> {
    return this.membership.promoteMember(id, deadline);
  }

  removeMember(id: string, deadline: number): Promise<MembersResponse> {
    return this.membership.removeMember(id, deadline);
  }

  moveLeader(to: string | null, deadline: number): Promise<LeaderResponse> {
    return this.membership.moveLeader(to, deadline);
  }

  async put(req: PutRequest, deadline: number): Promise<PutResponse> {
    const idem = req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey };
    const lease = req.lease === undefined ? {} : { lease: req.lease };
    const cmd: Command =
      req.prevValue === undefined
        ? { op: 'put', key: req.key, value: req.value, ...lease, ...idem }
        : { op: 'cas', key: req.key, value: req.value, prevValue: req.prevValue, ...lease, ...idem };
    if (cmd.op === 'put' && cmd.idempotencyKey === undefined) this.refuseIfNoSpace(cmd.key, cmd.value);
    const r = asWriteResult(await this.write(cmd, deadline));
    if (r.kind === 'conflict') {
      throw new ConflictError(
        r.value === null
          ? `precondition failed: key "${r.key}" is absent`
          : `precondition failed: key "${r.key}" holds another value`,
        { key: r.key, value: r.value },
      );
    }
    if (r.kind !== 'put') throw idempotencyKeyReused(r.kind);
    const { key, value, index, version, createIndex, modIndex } = r;
    const answer = { key, value, index, version, createIndex, modIndex };
    return r.lease === undefined ? answer : { ...answer, lease: r.lease };
  }

  async del(req: DeleteRequest, deadline: number): Promise<DeleteResponse> {
    const idem = req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey };
    const r = asWriteResult(await this.write({ op: 'delete', key: req.key, ...idem }, deadline));
    if (r.kind !== 'delete') throw idempotencyKeyReused(r.kind);
    return { key: r.key, deleted: r.deleted, index: r.index };
  }

  async txn(req: TxnRequest, deadline: number): Promise<TxnResponse> {
    const { compare, success, failure } = req;
    const idem = req.idempotencyKey === undefined ? {} : { idempotencyKey: req.idempotencyKey };
    const r = asWriteResult(await this.write({ op: 'txn', compare, success, failure, ...idem }, deadline));
    if (r.kind !== 'txn') throw idempotencyKeyReused(r.kind);
    return { succeeded: r.succeeded, results: r.results, index: r.index };
  }

  async get(key: string, read: ReadQuery, deadline: number): Promise<GetResponse> {
    await this.readPoint(read, deadline);
    const sm = this.driver.sm;
    const found = sm.read(key);
    if (found === null) return { key, value: null, index: sm.lastApplied };
    const { value, version, createIndex, modIndex, lease } = found;
    const answer = { key, value, index: sm.lastApplied, version, createIndex, modIndex };
    return lease === undefined ? answer : { ...answer, lease };
  }

  async list(query: ListQuery, read: ReadQuery, deadline: number): Promise<ListResponse> {
    await this.readPoint(read, deadline);
    const sm = this.driver.sm;
    const { items, more } = sm.list(query.prefix, query.limit, query.startAfter);
    return { items, more, index: sm.lastApplied };
  }

  async leaseGrant(req: LeaseGrantRequest, deadline: number): Promise<LeaseResponse> {
    const r = await this.write({ op: 'leaseGrant', ttl: req.ttl }, deadline);
    if (r.kind !== 'lease') throw notThisEntry(r.index);
    return { id: r.id, ttl: r.ttl };
  }

  /**
   * A renewal is an entry of the log, so that whichever node leads next knows of it; answered
   * once applied here, the leader (every node's deadline then counts from its own apply).
   */
  async leaseKeepalive(id: number, deadline: number): Promise<LeaseResponse> {
    const r = await this.write({ op: 'leaseKeepalive', id }, deadline);
    if (r.kind === 'lease_not_found') throw leaseNotFound(id);
    if (r.kind !== 'lease' || r.id !== id) throw notThisEntry(r.index);
    return { id: r.id, ttl: r.ttl };
  }

  async leaseRevoke(id: number, deadline: number): Promise<LeaseRevokeResponse> {
    const r = await this.write({ op: 'leaseRevoke', id }, deadline);
    if (r.kind === 'lease_not_found') throw leaseNotFound(id);
    if (r.kind !== 'lease_ended' || r.id !== id) throw notThisEntry(r.index);
    return { id, keys: r.keys, index: r.index };
  }

  /**
   * A read like GET /kv/{key}; `remaining` is by this node's own deadline for the lease — at
   * least what the leader counts (every node counts from its own apply of the last renewal).
   */
  async leaseInfo(id: number, read: ReadQuery, deadline: number): Promise<LeaseInfoResponse> {
    await this.readPoint(read, deadline);
    const sm = this.driver.sm;
    const lease = sm.lease(id);
    if (lease === null) throw leaseNotFound(id);
    const ms = this.driver.leases.remainingMs(id, this.driver.clock.now()) ?? lease.ttl * 1000;
    return { id, ttl: lease.ttl, remaining: Math.floor(ms / 1000), keys: lease.keys, index: sm.lastApplied };
  }

  /**
   * Waits until this node may answer the read: it has applied `minIndex` (the index a client's
   * earlier write got, so it reads its own writes on any node), then, for a linearizable read,
   * the leader has confirmed the read point and this node applied up to it.
   */
  private async readPoint(read: ReadQuery, deadline: number): Promise<void> {
    if (read.minIndex !== undefined) await this.driver.waitApplied(read.minIndex, deadline);
    if (read.consistency !== 'stale')
      await this.confirmRead(deadline, read.consistency === 'lease' ? 'lease' : undefined);
  }

  snapshot(deadline: number): Promise<SnapshotResponse> {
    return this.driver.snapshotNow(deadline);
  }

  async backup(deadline: number): Promise<BackupStream> {
    // Refused before the read point costs a heartbeat round; open() checks again after it.
    this.backups.admit();
    await this.confirmRead(deadline);
    return this.backups.open();
  }

  /** GET /debug; with `logTail`, the last entries of the log too (what the dashboard draws). */
  debug(options: { readonly logTail?: number } = {}): Record<string, unknown> {
    const s = this.driver.raw.status();
    return {
      nodeId: s.id,
      state: s.role === 'precandidate' ? 'candidate' : s.role,
      preCandidate: s.role === 'precandidate',
      term: s.term,
      votedFor: s.votedFor,
      leaderId: s.leaderId,
      leaderAddress: this.driver.leaderAddress(),
      commitIndex: s.commitIndex,
      lastApplied: this.driver.sm.lastApplied,
      logLength: s.lastIndex,
      firstIndex: s.firstIndex,
      keys: this.driver.sm.size,
      voters: s.voters,
      // The membership in force (the log's latest configuration, committed or not) and its index;
      // while joint, outgoingVoters names the voters being left.
      membership: {
        ...s.membership,
        index: s.membershipIndex,
        committed: s.membershipIndex <= s.commitIndex,
      },
      learners: this.driver.learnerReport(),
      progress: s.progress,
      readMode: this.options.readMode,
      electionTimeoutMs: this.options.electionTimeoutMs,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      ...this.driver.debugState(),
      backups: this.backups.counts(),
      ...(this.diskSpace === null ? {} : { disk: this.diskSpace() }),
      ...(options.logTail ? { log: this.logTail(options.logTail) } : {}),
    };
  }

  private logTail(count: number): { index: number; term: number; type: string; summary: string }[] {
    return this.driver.logTail(count).map((e) => ({
      index: e.index,
      term: e.term,
      type: e.type,
      summary:
        e.type === 'command'
          ? describeCommandBytes(e.data)
          : e.type === 'noop'
            ? 'a new leader’s empty entry'
            : 'membership change',
    }));
  }

  space(): SpaceStatus {
    const sm = this.driver.sm;
    return {
      alarms: sm.noSpaceAlarms.map((node) => ({ node, alarm: 'no_space' as const })),
      quotaBytes: sm.quotaBytes,
      stateBytes: sm.stateBytes,
      index: sm.lastApplied,
    };
  }

  /** Served from this node's applied state, leader or not (watch-hub.ts). */
  watch(spec: WatchSpec, sink: WatchSink): WatchHandle {
    return this.driver.watches.open(spec, sink);
  }

  /**
   * Raises or clears a node's alarm through the log. Only members can raise one (no guard would
   * ever clear an alarm for a node that does not exist); any can be cleared. A request that
   * would change nothing proposes nothing, so a guard asking again cannot grow the log.
   */
  async alarm(req: AlarmRequest, deadline: number): Promise<SpaceStatus> {
    if (req.active && !isMember(this.driver.raw.membership().current, req.node)) {
      throw new BadRequestError(`node "${req.node}" is not a member of this cluster`);
    }
    const raised = this.driver.sm.noSpaceAlarms.includes(req.node);
    if (raised === req.active && this.driver.isLeader()) return this.space();
    await this.applySpace({ op: 'alarm', node: req.node, active: req.active }, deadline);
    return this.space();
  }

  /** Proposes a quota or alarm command here (leader) and resolves once it is applied. */
  async applySpace(cmd: SpaceCommand, deadline: number): Promise<SpaceResult> {
    // Over HTTP from a follower: the leader proposes nothing for an alarm that changes nothing.
    const r = await this.write(cmd, deadline, false);
    if (r.kind !== 'space')
      throw new LeadershipLostError(`the entry at index ${r.index} is not this command`);
    return r;
  }

  /**
   * A leader answers at once a plain put the log would refuse for want of space, instead of
   * proposing it. Only a put without an Idempotency-Key: a retry's first attempt may be in the
   * log and not yet applied here (a new leader catching up), and a compare-and-set whose
   * precondition fails must get its 409 — the log decides those. Nothing was proposed, so the
   * refusal is definite even if this leader's view is stale.
   */
  private refuseIfNoSpace(key: string, value: string): void {
    // The refusal first: it is free when nothing can refuse; isLeader() builds a status object.
    const refused = this.driver.sm.refusalFor(key, value);
    if (refused === null || !this.driver.isLeader()) return;
    this.driver.refusedForSpace(refused);
    throw noSpaceError(refused);
  }

  health(): Health {
    const s = this.driver.raw.status();
    if (s.leaderId === null) return { ok: false, reason: 'no leader known' };
    const applied = this.driver.sm.lastApplied;
    if (applied < s.commitIndex) {
      return { ok: false, reason: `catching up: applied ${applied} of ${s.commitIndex} committed` };
    }
    return { ok: true, reason: s.leaderId === s.id ? 'leader' : `following ${s.leaderId}` };
  }

  /**
   * Proposes here if leading; otherwise hands the proposal to the leader over the peer connection
   * (`overPeer`, when possible), else NotLeaderError (the server forwards) or NoLeaderError. Either
   * way the answer is built from this node's own apply of the entry: the same result the leader's
   * state machine computes.
   */
  private write(cmd: Command, deadline: number, overPeer = true): Promise<ProposalResult> {
    const data = encodeCommand(cmd);
    return this.viaLeader(() => {
      const here = this.driver.propose(data, deadline);
      if (here !== 'not-leader' || !overPeer) return here;
      return this.driver.forwardProposal(data, deadline) ?? here;
    }, deadline);
  }

  /**
   * Runs `attempt` here if this node leads; otherwise NotLeaderError with the leader's address
   * (the server forwards), or — during an election — waits for its outcome and tries again.
   */
  private async viaLeader<T>(attempt: () => Promise<T> | 'not-leader', deadline: number): Promise<T> {
    for (;;) {
      const pending = attempt();
      if (pending !== 'not-leader') return pending;
      const leader = this.driver.leaderAddress();
      if (leader !== null) throw withoutStack(() => new NotLeaderError(leader));
      // An election is under way: wait for its outcome rather than fail at once.
      await this.driver.waitForLeader(this.leaderWaitDeadline(deadline));
      if (this.driver.leaderAddress() === null) {
        throw new NoLeaderError('no leader: an election is in progress or this node cannot reach a majority');
      }
    }
  }

  /**
   * How long to wait for a leader: an election normally ends within two election timeouts; a
   * node still without a leader then is probably cut off from the majority, and the client is
   * better served by a prompt 503 than by waiting out its whole deadline.
   */
  private leaderWaitDeadline(deadline: number): number {
    return Math.min(deadline, this.driver.clock.now() + 2 * this.options.electionTimeoutMs);
  }

  /** §6.4: returns once the local state machine holds everything committed before the call. */
  private async confirmRead(deadline: number, mode?: 'lease'): Promise<void> {
    for (;;) {
      try {
        await this.driver.readIndex(deadline, mode);
        return;
      } catch (e) {
        // A read has no side effects: on a leadership change, try again with the next leader.
        const retry = e instanceof NoLeaderError || e instanceof LeadershipLostError;
        if (!retry || this.driver.clock.now() >= deadline) throw asReadError(e);
        await this.driver.waitForLeader(this.leaderWaitDeadline(deadline));
        if (this.driver.leaderAddress() === null) throw asReadError(e);
        await sleep(this.driver.clock, this.options.heartbeatIntervalMs);
      }
    }
  }
}

/**
 * The Idempotency-Key already answered a different kind of write: the state machine replayed that
 * first answer and applied nothing, so this is a definite client error, not an unknown outcome.
 */
function idempotencyKeyReused(firstKind: WriteResult['kind']): BadRequestError {
  const first = firstKind === 'delete' ? 'a delete' : firstKind === 'txn' ? 'a transaction' : 'a put';
  return new BadRequestError(
    `Idempotency-Key was already used for ${first}; use a new key for a different write (nothing was written)`,
  );
}

function asWriteResult(r: ProposalResult): WriteResult {
  if (r.kind === 'lease_not_found') throw leaseNotFound(r.id);
  if (r.kind !== 'put' && r.kind !== 'conflict' && r.kind !== 'delete' && r.kind !== 'txn')
    throw new LeadershipLostError(`the entry at index ${r.index} is not this write`);
  return r;
}

/** The entry applied at the proposal's index was another (a bug, or a leader change the term check missed). */
function notThisEntry(index: number): LeadershipLostError {
  return new LeadershipLostError(`the entry at index ${index} is not this request`);
}

function leaseNotFound(id: number): LeaseNotFoundError {
  return new LeaseNotFoundError(`lease ${id} does not exist (never granted, revoked, or expired)`, { id });
}

function asReadError(e: unknown): unknown {
  if (e instanceof TimeoutError || !(e instanceof RaftkvError)) return e;
  if (e instanceof LeadershipLostError)
    return new NoLeaderError('leadership changed; the read was not served');
  return e;
}
