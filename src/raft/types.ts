// The consensus core's vocabulary: log entries, persistent state, snapshots, the wire messages
// (named after the RPCs of Ongaro's thesis) and the Ready value the driver consumes.
// Everything here is plain data so that the codec (transport/) and the simulator can copy it.

/** A node's identity, as named in the cluster configuration (e.g. "n1"). */
export type NodeId = string;

/** What an entry carries. `noop` is the empty entry a new leader appends (§3.6.2, §6.4). */
export type EntryType = 'command' | 'noop' | 'config';

export interface Entry {
  readonly term: number;
  readonly index: number;
  readonly type: EntryType;
  /** Opaque to the core; the state machine decodes it. Empty for `noop`. */
  readonly data: Uint8Array;
}

/** The state that must be on stable storage before the node answers any RPC (Figure 3.1). */
export interface HardState {
  readonly term: number;
  /** Candidate voted for in `term`, or null. */
  readonly votedFor: NodeId | null;
  /** Highest index known committed. Persisted as a hint: it speeds restart, safety never needs it. */
  readonly commitIndex: number;
}

export const emptyHardState: HardState = { term: 0, votedFor: null, commitIndex: 0 };

/**
 * Who is in the cluster (chapter 4): voters, learners, and — during a change of voters — the
 * voters being left (joint consensus, §4.3). Its rules are in membership.ts.
 */
export interface ClusterMembership {
  /** The voters (while joint: of the configuration being entered). */
  readonly voters: readonly NodeId[];
  /** While joint (§4.3): the voters of the configuration being left; empty otherwise. */
  readonly outgoingVoters: readonly NodeId[];
  /** Members that receive the log and never vote, never count toward commitment, never campaign. */
  readonly learners: readonly NodeId[];
  /**
   * Learners the application will promote once they have caught up (the core only carries the
   * list, so that whichever node leads knows it).
   */
  readonly autoPromote: readonly NodeId[];
  /** Where each member listens for its peers, as the application named it; the core only carries it. */
  readonly addresses: Readonly<Record<NodeId, string>>;
}

/** One change an operator asks for; several in one request are made atomically. */
export type MemberChange =
  | {
      readonly kind: 'addLearner';
      readonly id: NodeId;
      readonly address: string;
      /** Promote it once it has caught up (membership.autoPromote). */
      readonly autoPromote?: boolean;
    }
  | { readonly kind: 'addVoter'; readonly id: NodeId; readonly address: string }
  | { readonly kind: 'promote'; readonly id: NodeId }
  | { readonly kind: 'remove'; readonly id: NodeId };

/** Why a change cannot be made to the membership as it is. */
export type MembershipRefusal =
  | { readonly reason: 'MemberExists'; readonly id: NodeId }
  | { readonly reason: 'AddressInUse'; readonly id: NodeId; readonly address: string }
  | { readonly reason: 'MemberNotFound'; readonly id: NodeId }
  | { readonly reason: 'NotALearner'; readonly id: NodeId }
  | { readonly reason: 'LastVoter'; readonly id: NodeId }
  | { readonly reason: 'NoChange' };

export interface SnapshotMeta {
  /** Last index the snapshot covers. */
  readonly index: number;
  /** Term of the entry at `index`. */
  readonly term: number;
  readonly membership: ClusterMembership;
}

/**
 * A snapshot's data that the node keeps in its snapshot file, not in memory: the core carries only
 * its size, and the node's transport streams the bytes from the file when a follower needs them
 * (as etcd's raft snapshot carries metadata while the sender streams the database file).
 */
export interface StoredSnapshotData {
  readonly stored: true;
  /** The data's size in bytes, as the file holds it. */
  readonly byteLength: number;
}

export interface Snapshot {
  readonly meta: SnapshotMeta;
  /**
   * The state machine's serialized state, opaque to the core: the bytes themselves, or — once the
   * node has them in a file — a reference to them. Either way `data.byteLength` is their size.
   */
  readonly data: Uint8Array | StoredSnapshotData;
}

/** A snapshot with its bytes in memory: as just taken, loaded from its file, or received. */
export interface HeldSnapshot extends Snapshot {
  readonly data: Uint8Array;
}

// ---------------------------------------------------------------------------------------------
// Wire messages. Every message carries the sender's term; the term rules (§3.3) are applied to
// all of them in one place before the role-specific handler sees them.

interface MessageBase {
  readonly from: NodeId;
  readonly to: NodeId;
  readonly term: number;
}

/** §3.4. `transfer` is set when campaigning after TimeoutNow (§3.10): it bypasses leader stickiness. */
export interface RequestVote extends MessageBase {
  readonly type: 'RequestVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
  readonly transfer: boolean;
}

export interface RequestVoteResponse extends MessageBase {
  readonly type: 'RequestVoteResponse';
  readonly granted: boolean;
}

/** §9.6. `term` is the term the sender would campaign in; nobody changes its own term for a PreVote. */
export interface PreVote extends MessageBase {
  readonly type: 'PreVote';
  readonly lastLogIndex: number;
  readonly lastLogTerm: number;
}

export interface PreVoteResponse extends MessageBase {
  readonly type: 'PreVoteResponse';
  readonly granted: boolean;
}

/** §3.5. With no entries it still advances the follower's commit index. */
export interface AppendEntries extends MessageBase {
  readonly type: 'AppendEntries';
  readonly prevLogIndex: number;
  readonly prevLogTerm: number;
  readonly entries: readonly Entry[];
  readonly leaderCommit: number;
}

/**
 * Answer to AppendEntries and InstallSnapshot.
 * success: `matchIndex` is the last index the follower now holds that matches the leader.
 * failure: `rejectedIndex` is the prevLogIndex that failed; `hintIndex`/`hintTerm` let the
 * leader skip a whole term at a time (the optimisation at the end of §3.5): the follower's last index ≤
 * rejectedIndex whose term ≤ the leader's prevLogTerm, and that entry's term.
 */
export interface AppendEntriesResponse extends MessageBase {
  readonly type: 'AppendEntriesResponse';
  readonly success: boolean;
  readonly matchIndex: number;
  readonly rejectedIndex: number;
  readonly hintIndex: number;
  readonly hintTerm: number;
}

/**
 * Leader liveness and ReadIndex confirmation (§6.4). `leaderCommit` is min(follower's match, the
 * leader's commit index)
 * so a follower never commits past what it holds. `readRound` is echoed back: a read recorded
 * at round r is confirmed once a majority has answered a heartbeat of round ≥ r.
 */
export interface Heartbeat extends MessageBase {
  readonly type: 'Heartbeat';
  readonly leaderCommit: number;
  readonly readRound: number;
}

export interface HeartbeatResponse extends MessageBase {
  readonly type: 'HeartbeatResponse';
  readonly readRound: number;
}

/** §5.1 of the thesis (chapter 5): the whole snapshot in one message; transport/ chunks it. */
export interface InstallSnapshot extends MessageBase {
  readonly type: 'InstallSnapshot';
  readonly snapshot: Snapshot;
}

/** §3.10: the leader tells the transfer target to campaign at once. */
export interface TimeoutNow extends MessageBase {
  readonly type: 'TimeoutNow';
}

/** A follower relays a client's ReadIndex request to the leader (§6.4, step 1 on a follower). */
export interface ReadIndexRequest extends MessageBase {
  readonly type: 'ReadIndexRequest';
  readonly context: string;
}

/**
 * The same for a read that may use the leader lease (§6.4.1): answered at once, without a round,
 * while the leader's lease holds. A message of its own (not a flag on ReadIndexRequest) so that
 * ordinary reads keep the wire format older members understand.
 */
export interface LeaseReadIndexRequest extends MessageBase {
  readonly type: 'LeaseReadIndexRequest';
  readonly context: string;
}

/** The leader's answer: the read may be served once the follower has applied `readIndex`. */
export interface ReadIndexResponse extends MessageBase {
  readonly type: 'ReadIndexResponse';
  readonly context: string;
  /** 0 when the leader refused (e.g. not yet committed an entry in its term, or lost leadership). */
  readonly readIndex: number;
}

export type Message =
  | RequestVote
  | RequestVoteResponse
  | PreVote
  | PreVoteResponse
  | AppendEntries
  | AppendEntriesResponse
  | Heartbeat
  | HeartbeatResponse
  | InstallSnapshot
  | TimeoutNow
  | ReadIndexRequest
  | LeaseReadIndexRequest
  | ReadIndexResponse;

export type MessageType = Message['type'];

// ---------------------------------------------------------------------------------------------
// Outputs.

export type Role = 'follower' | 'candidate' | 'precandidate' | 'leader';

/** Volatile state the driver may want to observe; reported in Ready only when it changes. */
export interface SoftState {
  readonly role: Role;
  readonly leaderId: NodeId | null;
}

/**
 * A linearizable read released by the core: serve it once lastApplied ≥ readIndex. The network
 * may duplicate a relayed read's answer, so a context can be released more than once; the driver
 * serves the first and ignores contexts it no longer waits for.
 */
export interface ReadState {
  readonly context: string;
  readonly readIndex: number;
}

/** A read the core could not serve (leadership lost, no leader known, ...). */
export interface ReadFailure {
  readonly context: string;
  readonly reason: 'NotLeader' | 'NoLeader' | 'LeadershipLost' | 'Busy';
}

/**
 * Everything the core wants the driver to do, produced by `RawNode.ready()`.
 *
 * THE ORDER — the driver must follow it for every Ready, then call `advance(ready)`:
 *  1. Send `messages` now. They are safe before persistence: the leader's AppendEntries may go
 *     out while its own fsync runs (thesis §10.2.1); the leader counts itself toward a quorum
 *     only after `advance()` reports its entries durable.
 *  2. If `snapshot` is set, persist it, then restore the state machine from it.
 *  3. Append `entries` to stable storage (they replace any stored suffix from entries[0].index
 *     on), and persist `hardState` if set. If `mustSync`, fsync before step 4.
 *  4. Send `messagesAfterPersist`: votes and acknowledgements promise durable state.
 *  5. Apply `committedEntries` in order; hand out `readStates` once lastApplied ≥ readIndex.
 *  6. Call `advance(ready)`.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly entries: readonly Entry[];
  readonly snapshot: Snapshot | null;
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
  readonly readStates: readonly ReadState[];
  readonly readFailures: readonly ReadFailure[];
  readonly mustSync: boolean;
}

/**
 * When each message may leave: in `Ready.messages` (step 1 of THE ORDER, before this node's own
 * fsync) or in `Ready.messagesAfterPersist` (step 4, after it). One row per message type; the
 * `Record` makes the table exhaustive, so a new message type does not compile without a decision.
 *
 * 'early' messages promise nothing about this node's durable state. 'afterPersist' messages do:
 * they carry a term, a vote or an acknowledgement the receiver will act on, and a crash before
 * the fsync must not be able to take that back (Figure 3.1: "respond to RPCs" only after stable
 * storage is updated).
 *
 * A driver blocked on a slow fsync may also send the early messages produced meanwhile, without
 * waiting for the outstanding Ready, by `RawNode.takeEarlyMessages()`: the leader keeps
 * replicating and heartbeating during its own fsync (§10.2.1), and a leader whose disk stalls can
 * still hand leadership over (TimeoutNow and the AppendEntries that catch the target up).
 */
export const messageTiming: Readonly<Record<MessageType, 'early' | 'afterPersist'>> = {
  // §10.2.1: the leader replicates in parallel with its own write; it counts itself toward a
  // quorum only once advance() reports its entries durable.
  AppendEntries: 'early',
  // A leader's term is durable from the moment it won; a heartbeat adds no new state.
  Heartbeat: 'early',
  // The snapshot was durable before the leader could send it.
  InstallSnapshot: 'early',
  // Sent by a leader about its own durable log (the target is caught up).
  TimeoutNow: 'early',
  // Reads change no durable state on either side.
  ReadIndexRequest: 'early',
  LeaseReadIndexRequest: 'early',
  ReadIndexResponse: 'early',
  // §9.6: a pre-candidate changes no term and casts no vote.
  PreVote: 'early',
  // The candidate's new term and its vote for itself must survive a crash (one vote per term).
  RequestVote: 'afterPersist',
  // A granted vote is a promise for the term (Figure 3.1).
  RequestVoteResponse: 'afterPersist',
  // Carries the responder's term, which it may just have adopted.
  PreVoteResponse: 'afterPersist',
  // An acknowledgement counts toward commitment: the entries must be on this node's disk.
  AppendEntriesResponse: 'afterPersist',
  // Confirms leadership for reads in the responder's term, which it may just have adopted.
  HeartbeatResponse: 'afterPersist',
};

/** Why a proposal or a request was not accepted. Expected outcomes: values, not throws. */
export type RejectReason = 'NotLeader' | 'Busy' | 'TransferInProgress' | 'TooLarge';

export type ProposeResult =
  | { readonly kind: 'accepted'; readonly index: number; readonly term: number }
  | { readonly kind: 'rejected'; readonly reason: RejectReason; readonly leaderId: NodeId | null };

/** The outcome of asking the core to change the membership (RawNode.proposeMembership). */
export type MembershipChangeResult =
  | {
      readonly kind: 'accepted';
      /** The configuration entry: in force now, committed once `index` is. */
      readonly index: number;
      readonly term: number;
      readonly membership: ClusterMembership;
    }
  | {
      readonly kind: 'rejected';
      /**
       * NotReadyForChange: this leader has not committed an entry of its term yet (retry soon);
       * ChangeInProgress: another change is not committed yet (or a joint one not left yet).
       */
      readonly reason: 'NotLeader' | 'TransferInProgress' | 'NotReadyForChange' | 'ChangeInProgress';
      readonly leaderId: NodeId | null;
    }
  | { readonly kind: 'refused'; readonly refusal: MembershipRefusal };

export type TransferResult =
  | { readonly kind: 'started' }
  | {
      readonly kind: 'rejected';
      readonly reason:
        | 'NotLeader'
        | 'UnknownTarget'
        | 'TargetIsSelf'
        | 'TargetNotVoter'
        | 'TransferInProgress'
        | 'TargetLagging';
    };
