// The catalogue of a node's log events, in one place so that names cannot drift: each event has a
// stable machine name (`leader.elected`: subject, then what happened), the level it is logged at,
// the sentence people read in the text format (`msg`), and its fields with their types. Scripts
// and log pipelines match on `event` in the JSON format (`--log-format json`), never on `msg`.
// docs/logging.md renders this table; test/node/log-events.test.ts keeps the two in step and
// provokes each event on running nodes to check its JSON form.
//
// The node, its HTTP side and the transport's events (reported to the driver) log by name
// (`EventLog.emit`). The consensus core and storage sit below the node and know nothing of it:
// they log sentences through the core's `Logger` ("became leader"), and the node's logger
// (logger.ts, `bridgedEvent`) maps each to its event by the `msg` or `pattern` given here — the
// core stays free of I/O and of this file.

/** The node's levels: the core's three, and `error` for what stops the node or loses work. */
export type NodeLogLevel = 'debug' | 'info' | 'warn' | 'error';

type FieldType = 'string' | 'number' | 'boolean' | 'string|null' | 'number|null';
/** A field's type; a trailing `?` marks a field that is present only sometimes. */
export type FieldSpec = FieldType | `${FieldType}?`;

export interface EventSpec {
  readonly level: NodeLogLevel;
  /**
   * The sentence of the text format. For events of the core and storage it is also what the
   * bridge recognises, unless `pattern` is given (a sentence with a part that varies).
   */
  readonly msg: string;
  /** Named groups become fields (e.g. the message type in "ignored AppendEntries: stale term"). */
  readonly pattern?: RegExp;
  /** Who logs it: the node itself, or the core or storage through the bridge. */
  readonly from: 'node' | 'raft' | 'storage';
  readonly fields: Readonly<Record<string, FieldSpec>>;
  /** Named but not logged yet: the feature that logs it is still to come. */
  readonly reserved?: true;
  /** When it is logged, for the docs. */
  readonly doc: string;
}

/** Every core event carries the core's term. */
const raftTerm = { term: 'number' } as const;

export const logEvents = {
  // --- the node's life ------------------------------------------------------------------------
  'node.starting': {
    level: 'info',
    msg: 'starting',
    from: 'node',
    fields: {
      dataDir: 'string',
      clusterId: 'string',
      term: 'number',
      commitIndex: 'number',
      snapshot: 'number',
      entries: 'number',
      bootstrapped: 'boolean',
      walMs: 'number',
      snapshotMs: 'number',
      restoreMs: 'number',
    },
    doc: 'storage recovered; what the node starts from (cluster, term, commit index, snapshot index, entries in the log) and how long recovery took: reading the WAL, choosing and checking the snapshot, restoring the state machine from it (milliseconds)',
  },
  'node.listening': {
    level: 'info',
    msg: 'listening',
    from: 'node',
    fields: { address: 'string' },
    doc: 'the client API and peer port are open',
  },
  'node.stopping': {
    level: 'info',
    msg: 'stopping',
    from: 'node',
    fields: {},
    doc: 'a graceful stop began (SIGTERM/SIGINT, removal, or a fatal error)',
  },
  'node.draining': {
    level: 'info',
    msg: 'draining client requests',
    from: 'node',
    fields: {},
    doc: 'requests still arriving get their 503 before connections close',
  },
  'node.stopped': {
    level: 'info',
    msg: 'stopped',
    from: 'node',
    fields: {},
    doc: 'everything synced and closed; the process exits next',
  },
  'node.fatal': {
    level: 'error',
    msg: 'stopping: storage failed, the node cannot go on safely',
    from: 'node',
    fields: { error: 'string' },
    doc: 'an fsync or write failed; the node stops rather than risk acknowledging what is not durable',
  },
  'datadir.refused': {
    level: 'error',
    msg: 'refusing to start on this data dir',
    from: 'node',
    fields: { dataDir: 'string', cause: 'string', error: 'string' },
    doc: "the data dir cannot be used: `cause` is `removed` (this node was removed from the cluster), `identity` (another node's or cluster's data), `corrupt`, `invalid` (files that are not a data dir) or `lost` (`--join`: the cluster lists this id as a member, the data dir is empty)",
  },

  // --- storage ----------------------------------------------------------------------------------
  'storage.bootstrapped': {
    level: 'info',
    msg: 'storage bootstrapped',
    from: 'storage',
    fields: { dir: 'string', clusterId: 'string', nodeId: 'string' },
    doc: "an empty data dir became this node's (its IDENTITY file written)",
  },
  'wal.torn_tail_truncated': {
    level: 'warn',
    msg: 'wal torn tail truncated',
    from: 'storage',
    fields: { file: 'string', offset: 'number', droppedBytes: 'number', problem: 'string' },
    doc: 'a write cut short by a crash was found at the end of the WAL and cut off (never acknowledged)',
  },
  'wal.torn_segment_removed': {
    level: 'warn',
    msg: 'wal torn segment removed',
    from: 'storage',
    fields: { file: 'string', offset: 'number', droppedBytes: 'number', problem: 'string' },
    doc: 'the last WAL segment held nothing whole after a crash and was removed',
  },
  'wal.unknown_file': {
    level: 'warn',
    msg: 'wal ignoring unknown file',
    from: 'storage',
    fields: { file: 'string' },
    doc: 'a file in `wal/` that is not a segment; left alone',
  },
  'snapshot.discarded': {
    level: 'warn',
    msg: 'snapshot quarantined',
    pattern: /^snapshot (?<action>quarantined|removed)$/,
    from: 'storage',
    fields: { file: 'string', reason: 'string', action: 'string' },
    doc: 'a snapshot file that cannot be used at recovery: damaged ones are quarantined (`.broken`), superseded ones removed',
  },
  'snapshot.temp_removed': {
    level: 'info',
    msg: 'snapshot removed unfinished temp file',
    from: 'storage',
    fields: { file: 'string' },
    doc: 'a snapshot being written when the node stopped; removed at recovery',
  },
  'snapshot.unknown_file': {
    level: 'warn',
    msg: 'snapshot ignoring unknown file',
    from: 'storage',
    fields: { file: 'string' },
    doc: 'a file in `snap/` that is not a snapshot; left alone',
  },

  // --- elections and leadership (the core) ------------------------------------------------------
  'election.prevote_started': {
    level: 'info',
    msg: 'starting pre-vote',
    from: 'raft',
    fields: { ...raftTerm, forTerm: 'number' },
    doc: 'the election timer ran out: asking whether an election could win before starting one (§9.6)',
  },
  'election.started': {
    level: 'info',
    msg: 'starting election',
    from: 'raft',
    fields: { ...raftTerm, transfer: 'boolean' },
    doc: 'campaigning in a new term (`transfer`: asked to by the leader, §3.10)',
  },
  'leader.elected': {
    level: 'info',
    msg: 'became leader',
    from: 'raft',
    fields: { ...raftTerm, lastIndex: 'number' },
    doc: 'this node leads `term`',
  },
  'leader.lost': {
    level: 'info',
    msg: 'lost leadership',
    from: 'raft',
    fields: { ...raftTerm, why: 'string' },
    doc: 'this node no longer leads: a higher term, a transfer, a failed quorum check, a disk stall',
  },
  'leader.quorum_lost': {
    level: 'warn',
    msg: 'stepping down: no majority heard from within an election timeout',
    from: 'raft',
    fields: { ...raftTerm },
    doc: 'CheckQuorum (§6.2): a leader cut off from a majority steps down',
  },
  'leader.transfer_started': {
    level: 'info',
    msg: 'leadership transfer started',
    from: 'raft',
    fields: { ...raftTerm, to: 'string' },
    doc: 'handing leadership to `to` (§3.10)',
  },
  'leader.transfer_timeout_now': {
    level: 'info',
    msg: 'leadership transfer: target caught up, sending TimeoutNow',
    from: 'raft',
    fields: { ...raftTerm, to: 'string' },
    doc: 'the transfer target has the whole log and is told to campaign',
  },
  'leader.transfer_aborted': {
    level: 'warn',
    msg: 'leadership transfer aborted: target did not take over in time',
    from: 'raft',
    fields: { ...raftTerm, to: 'string|null' },
    doc: 'the target did not win within an election timeout; this node leads on',
  },
  'leader.transfer_campaign': {
    level: 'info',
    msg: 'leadership transfer: campaigning now',
    from: 'raft',
    fields: { ...raftTerm, from: 'string' },
    doc: 'the leader `from` asked this node to take over (TimeoutNow)',
  },
  'leader.handoff': {
    level: 'info',
    msg: 'stopping: handing leadership over',
    from: 'node',
    fields: { to: 'string' },
    doc: 'a leader being stopped hands leadership to its most caught-up follower first',
  },
  'vote.granted': {
    level: 'debug',
    msg: 'granted vote',
    from: 'raft',
    fields: { ...raftTerm, to: 'string', canVote: 'boolean', upToDate: 'boolean' },
    doc: 'voted for candidate `to` in `term`',
  },
  'vote.rejected': {
    level: 'debug',
    msg: 'rejected vote',
    from: 'raft',
    fields: { ...raftTerm, to: 'string', canVote: 'boolean', upToDate: 'boolean' },
    doc: 'refused candidate `to`: already voted (`canVote` false) or its log is behind (`upToDate` false)',
  },
  'message.ignored': {
    level: 'debug',
    msg: 'ignored AppendEntries: stale term',
    pattern: /^ignored (?<type>\w+): (?<reason>stale term|not leader|current leader is alive)$/,
    from: 'raft',
    fields: { ...raftTerm, type: 'string', reason: 'string', from: 'string', msgTerm: 'number?' },
    doc: 'a message dropped by the term rules (stale term; a vote request while the leader is heard from) or not meant for a follower',
  },
  'message.unexpected': {
    level: 'warn',
    msg: 'ignored AppendEntries: this node is the leader',
    pattern: /^ignored (?<type>\w+): this node is the leader$/,
    from: 'raft',
    fields: { ...raftTerm, type: 'string', from: 'string' },
    doc: 'a leader got a message only a leader sends, in its own term: should not happen',
  },
  'replication.rejected': {
    level: 'debug',
    msg: 'rejected AppendEntries: log mismatch',
    from: 'raft',
    fields: { ...raftTerm, prevLogIndex: 'number', hintIndex: 'number' },
    doc: 'the consistency check failed; the leader backs up to `hintIndex`',
  },

  // --- membership --------------------------------------------------------------------------------
  'membership.change_appended': {
    level: 'info',
    msg: 'membership change appended',
    from: 'raft',
    fields: { ...raftTerm, index: 'number' },
    doc: 'the leader appended a configuration entry at `index`',
  },
  'membership.joint_leaving': {
    level: 'info',
    msg: 'leaving the joint configuration',
    from: 'raft',
    fields: { ...raftTerm, index: 'number' },
    doc: 'the joint configuration committed; the leader appended the entry that leaves it (§4.3)',
  },
  'membership.changed': {
    level: 'info',
    msg: 'membership in force',
    from: 'raft',
    fields: {
      ...raftTerm,
      voters: 'string',
      outgoingVoters: 'string',
      learners: 'string',
      index: 'number',
    },
    doc: 'a configuration is in force from now on (appended, or from a snapshot); ids comma-separated',
  },
  'membership.promoting': {
    level: 'info',
    msg: 'promoting a caught-up learner to voter',
    from: 'node',
    fields: { learner: 'string' },
    doc: 'the leader found a learner caught up for long enough',
  },
  'membership.promoted': {
    level: 'info',
    msg: 'learner promoted to voter',
    from: 'node',
    fields: { member: 'string' },
    doc: 'the promotion committed',
  },
  'membership.promotion_failed': {
    level: 'warn',
    msg: 'promotion did not complete; will try again',
    from: 'node',
    fields: { learner: 'string', why: 'string' },
    doc: 'the promotion was refused or timed out; the leader tries again later',
  },
  'membership.removed': {
    level: 'warn',
    msg: 'removed from the cluster: a committed configuration no longer names this node',
    from: 'node',
    fields: {},
    doc: 'this node was removed; it stops (exit 0) and its data dir refuses to start again',
  },
  'peer.address_invalid': {
    level: 'warn',
    msg: 'member has an address this node cannot dial',
    from: 'node',
    fields: { peer: 'string', address: 'string' },
    doc: 'a configuration names an address this node cannot parse; that member is not dialled',
  },

  // --- peers (the transport's events, as the driver sees them) ---------------------------------
  'peer.up': {
    level: 'info',
    msg: 'peer reachable',
    from: 'node',
    fields: { peer: 'string', downForMs: 'number?' },
    doc: 'a connection to `peer` is up: the first one, or again after `peer.down` (`downForMs`)',
  },
  'peer.down': {
    level: 'warn',
    msg: 'peer unreachable',
    from: 'node',
    fields: { peer: 'string', reason: 'string' },
    doc: 'the connection to `peer` failed or was lost; once until it is reached again',
  },
  'peer.queue_full': {
    level: 'warn',
    msg: 'peer queue full: dropping oldest messages',
    from: 'node',
    fields: { peer: 'string', droppedSoFar: 'number' },
    doc: '`peer` does not keep up; its bounded queue drops the oldest messages (Raft retries them)',
  },
  'peer.refused': {
    level: 'warn',
    msg: 'peer connection refused',
    from: 'node',
    fields: { remote: 'string', reason: 'string' },
    doc: 'an inbound peer connection was refused (another cluster, an unknown node, another protocol version, with peer TLS a certificate not signed by the peer CA or no certificate) or broke the protocol',
  },
  'peer.message_too_large': {
    level: 'warn',
    msg: 'dropped a message too large for the transport',
    from: 'node',
    fields: { peer: 'string', type: 'string', bytes: 'number' },
    doc: "a message past the transport's frame limit was dropped instead of sent",
  },

  // --- snapshots --------------------------------------------------------------------------------
  'snapshot.taken': {
    level: 'info',
    msg: 'snapshot taken',
    from: 'node',
    fields: {
      index: 'number',
      bytes: 'number',
      keys: 'number',
      ms: 'number',
      keptEntriesFrom: 'number',
      removedSegments: 'number',
    },
    doc: 'a snapshot of the state machine at `index` is durable and the log compacted behind it',
  },
  'snapshot.failed': {
    level: 'error',
    msg: 'snapshot failed; will retry later',
    from: 'node',
    fields: { index: 'number', error: 'string' },
    doc: 'writing a snapshot failed; the log is kept and the snapshot tried again later',
  },
  'snapshot.sending': {
    level: 'info',
    msg: 'sending snapshot to lagging follower',
    from: 'raft',
    fields: { ...raftTerm, to: 'string', index: 'number' },
    doc: 'a follower needs entries the leader compacted away: it gets the snapshot at `index`',
  },
  'snapshot.send_lost': {
    level: 'warn',
    msg: 'snapshot transfer presumed lost, probing again',
    from: 'raft',
    fields: { ...raftTerm, to: 'string' },
    doc: 'no answer to a snapshot sent to `to`; the leader probes where its log stands',
  },
  'snapshot.send_failed': {
    level: 'error',
    msg: 'dropped a snapshot stream: its file could not be read or is damaged',
    from: 'node',
    fields: { peer: 'string', index: 'number', term: 'number', reason: 'string' },
    doc: 'the snapshot file streamed to `peer` could not be opened or read, or its data failed its checksum: the stream was dropped before its last chunk (the follower installs nothing) and the leader sends a snapshot again later',
  },
  'snapshot.installing': {
    level: 'info',
    msg: 'installing snapshot from leader',
    from: 'raft',
    fields: { ...raftTerm, index: 'number', snapshotTerm: 'number', from: 'string' },
    doc: "the core accepted the leader's snapshot; the node installs it next",
  },
  'snapshot.installed': {
    level: 'info',
    msg: 'installed snapshot from the leader',
    from: 'node',
    fields: { index: 'number', term: 'number' },
    doc: "the leader's snapshot is durable here and the state machine restored from it",
  },
  'backup.streaming': {
    level: 'info',
    msg: 'backup streaming',
    from: 'node',
    fields: { index: 'number', term: 'number', keys: 'number' },
    doc: 'GET /admin/snapshot: a backup of the state at `index` has started to stream',
  },
  'backup.sent': {
    level: 'info',
    msg: 'backup sent',
    from: 'node',
    fields: { index: 'number', bytes: 'number', ms: 'number' },
    doc: 'a backup stream ended whole',
  },
  'backup.abandoned': {
    level: 'warn',
    msg: 'backup abandoned',
    from: 'node',
    fields: { index: 'number', bytes: 'number', ms: 'number', reason: 'string' },
    doc: 'a backup stream was cut off (the client left or stalled, or the node failed midway)',
  },
  'restore.completed': {
    level: 'info',
    msg: 'starting on a data dir restored from a backup',
    from: 'node',
    fields: {
      dataDir: 'string',
      clusterId: 'string',
      sourceClusterId: 'string',
      index: 'number',
      term: 'number',
    },
    doc: 'the node starts on a data dir `raftkv snapshot restore` built, before its log has moved past the backup: the state at `index` of cluster `sourceClusterId`, now a member of the new cluster `clusterId`',
  },

  // --- disk and space ---------------------------------------------------------------------------
  'disk.stall': {
    level: 'warn',
    msg: 'disk stall: fsync is taking too long, handing leadership over',
    from: 'node',
    fields: { to: 'string', inFlightMs: 'number' },
    doc: "the leader's fsync has run past `--disk-stall-timeout`: it hands leadership to `to`",
  },
  'disk.stall_step_down': {
    level: 'warn',
    msg: 'disk stall: stepping down',
    from: 'node',
    fields: { inFlightMs: 'number' },
    doc: 'a stalled leader with no follower able to take over (or one that did not) steps down',
  },
  'disk.low': {
    level: 'warn',
    msg: 'free disk below the threshold: raising the no-space alarm',
    from: 'node',
    fields: { freeBytes: 'number', minFreeBytes: 'number' },
    doc: 'free space in the data dir fell below `--min-free-bytes`',
  },
  'disk.recovered': {
    level: 'info',
    msg: 'free disk back above the threshold: clearing the no-space alarm',
    from: 'node',
    fields: { freeBytes: 'number', minFreeBytes: 'number' },
    doc: 'free space is back (with a margin)',
  },
  'disk.unreadable': {
    level: 'warn',
    msg: 'cannot read the free space of the data dir',
    from: 'node',
    fields: { error: 'string' },
    doc: 'statfs failed; the last verdict on free space stands',
  },
  'space.rules_applied': {
    level: 'info',
    msg: 'space rules applied',
    from: 'node',
    fields: { index: 'number', quotaBytes: 'number|null', alarms: 'string|null' },
    doc: 'a quota or no-space alarm change committed (docs/space.md)',
  },
  'space.refusing': {
    level: 'warn',
    msg: 'no space: writes that grow the state are refused',
    from: 'node',
    fields: { reason: 'string', stateBytes: 'number', quotaBytes: 'number|null', alarms: 'string|null' },
    doc: 'the first write refused for want of space (`reason`: `quota` or `alarm`)',
  },
  'space.accepting': {
    level: 'info',
    msg: 'space again: writes that grow the state are accepted',
    from: 'node',
    fields: { refusedSince: 'number', stateBytes: 'number', quotaBytes: 'number|null' },
    doc: 'no alarm, and a tenth of the quota free again',
  },
  'space.retry': {
    level: 'debug',
    msg: 'space rule change not made yet; retrying at the next check',
    from: 'node',
    fields: { op: 'string', error: 'string' },
    doc: 'a no-space alarm could not be raised or cleared yet (no leader, a timeout)',
  },

  // --- leases ------------------------------------------------------------------------------------
  'lease.expired': {
    level: 'info',
    msg: 'lease expired: its keys deleted',
    from: 'node',
    fields: { id: 'number', keys: 'number', index: 'number' },
    doc: 'the leader found lease `id` past its TTL and its expiry, the entry at `index`, applied here: `keys` keys deleted with it ([leases.md](leases.md)); every node logs it as it applies the entry (again if it replays its log at start)',
  },

  // --- security ----------------------------------------------------------------------------------
  'auth.enabled': {
    level: 'info',
    msg: 'auth enabled: requests need a token',
    from: 'node',
    fields: { file: 'string', users: 'number', metricsAuth: 'boolean' },
    doc: 'the node started with `--auth-file`: every route but the probes (and `/metrics` unless `--metrics-auth`) needs a token ([security.md](security.md))',
  },
  'auth.reloaded': {
    level: 'info',
    msg: 'auth file reloaded',
    from: 'node',
    fields: { file: 'string', users: 'number' },
    doc: 'SIGHUP: the auth file was read again and its users are in force from the next request',
  },
  'auth.reload_failed': {
    level: 'warn',
    msg: 'auth file not reloaded: the users before it stay in force',
    from: 'node',
    fields: { file: 'string', error: 'string' },
    doc: 'SIGHUP: the auth file could not be read or is not valid (`error` says what is wrong); nothing changed',
  },
  'auth.no_own_token': {
    level: 'warn',
    msg: 'auth enabled but this node has no token of its own (--token): its own calls to other nodes will be refused',
    from: 'node',
    fields: { file: 'string' },
    doc: "the node started with `--auth-file` but without `--token` (or `RAFTKV_TOKEN`): a no-space alarm it hands to the leader gets 401 ([security.md](security.md), nodes' own calls)",
  },
  'auth.open_network': {
    level: 'warn',
    msg: 'listening on a network address without --auth-file: anyone who reaches it can read and write every key',
    from: 'node',
    fields: { address: 'string' },
    doc: 'the node binds an address other than loopback and runs without `--auth-file` ([security.md](security.md))',
  },

  'tls.enabled': {
    level: 'info',
    msg: 'TLS enabled',
    from: 'node',
    fields: { https: 'boolean', clientCertAuth: 'boolean', peerTls: 'boolean', expires: 'string' },
    doc: 'the port serves HTTPS (`--cert-file`; clients need a certificate with `--client-cert-auth`) and/or peer connections are mutually authenticated (`--peer-*`); `expires`: the first certificate to expire ([security.md](security.md))',
  },
  'tls.open_network': {
    level: 'warn',
    msg: 'listening on a network address with traffic in the clear',
    from: 'node',
    fields: { address: 'string', https: 'boolean', peerTls: 'boolean' },
    doc: 'the node binds an address other than loopback without `--cert-file` (clients in the clear) or without `--peer-cert-file` (anyone who reaches the port can speak the peer protocol)',
  },
  'tls.reloaded': {
    level: 'info',
    msg: 'TLS files reloaded',
    from: 'node',
    fields: { expires: 'string' },
    doc: 'SIGHUP: certificates, keys and CAs were read again; connections made from now on use them',
  },
  'tls.reload_failed': {
    level: 'warn',
    msg: 'TLS files not reloaded: the ones before stay in force',
    from: 'node',
    fields: { error: 'string' },
    doc: 'SIGHUP: a TLS file could not be read or used (`error` names it); nothing changed',
  },

  // --- fault injection (docs/faults.md) --------------------------------------------------------
  'faults.enabled': {
    level: 'warn',
    msg: 'fault injection enabled: POST /admin/faults can cut this node off, pause it and slow it down',
    from: 'node',
    fields: {},
    doc: 'the node started with `--enable-faults` ([faults.md](faults.md)); never on a production node',
  },
  'faults.set': {
    level: 'warn',
    msg: 'faults set',
    from: 'node',
    fields: {
      dropTo: 'string',
      dropFrom: 'string',
      isolate: 'boolean',
      paused: 'boolean',
      diskDelayMs: 'number',
      messageDelayMs: 'number',
    },
    doc: '`POST /admin/faults`: the faults now in force (`dropTo`, `dropFrom`: member ids, comma-separated, empty for none)',
  },
  'faults.healed': {
    level: 'info',
    msg: 'faults healed',
    from: 'node',
    fields: {},
    doc: '`DELETE /admin/faults`: every fault cleared; a paused node resumed',
  },

  // --- the bridge's own -------------------------------------------------------------------------
  unmapped: {
    level: 'info',
    msg: '(the sentence as logged)',
    from: 'raft',
    fields: {},
    doc: 'a sentence of the core or storage this catalogue does not name (a test keeps every sentence in the source named)',
  },
} as const satisfies Readonly<Record<string, EventSpec>>;

export type LogEventName = keyof typeof logEvents;

/** The events the node's own code logs by name. */
export type NodeEventName = {
  [E in LogEventName]: (typeof logEvents)[E]['from'] extends 'node' ? E : never;
}[LogEventName];

type ValueOf<T extends string> = T extends 'string'
  ? string
  : T extends 'number'
    ? number
    : T extends 'boolean'
      ? boolean
      : T extends `${infer U}|null`
        ? ValueOf<U> | null
        : never;

type Fields<E extends LogEventName> = (typeof logEvents)[E]['fields'];
type OptionalKeys<S> = { [K in keyof S]: S[K] extends `${string}?` ? K : never }[keyof S];
type RequiredKeys<S> = Exclude<keyof S, OptionalKeys<S>>;

/** The fields an event is logged with, typed after its catalogue entry. */
export type EventFields<E extends LogEventName> = {
  readonly [K in RequiredKeys<Fields<E>>]: Fields<E>[K] extends FieldType ? ValueOf<Fields<E>[K]> : never;
} & {
  readonly [K in OptionalKeys<Fields<E>>]?: Fields<E>[K] extends `${infer T extends FieldType}?`
    ? ValueOf<T>
    : never;
};

export function eventSpec(name: LogEventName): EventSpec {
  return logEvents[name];
}
