// The ports of the node's metrics (src/metrics/): what the HTTP server reports (each answer, each
// refusal) and serves (the exposition), and what the node runtime reports (events as they happen,
// and a reading of its state taken when metrics are scraped, so the state gauges cost the write
// path nothing). Neither the server nor the node knows Prometheus; the metrics know nothing of
// HTTP beyond a route name and a status, nor of the node beyond these shapes.

/**
 * Why a request was refused before anything was written, to protect the node: `max_inflight`
 * (the node already handles --max-inflight requests), `busy` (the leader's queues are full, or a
 * leadership transfer runs), `no_space_quota` and `no_space_alarm` (docs/space.md); and, for a
 * connection rather than a request, `connections_per_client` (its address already holds
 * --max-connections-per-client) and `slow_reader` (it did not read its answer within
 * --slow-reader-timeout).
 */
export type RejectionReason =
  | 'max_inflight'
  | 'busy'
  | 'no_space_quota'
  | 'no_space_alarm'
  | 'connections_per_client'
  | 'slow_reader';

export const rejectionReasons: readonly RejectionReason[] = [
  'max_inflight',
  'busy',
  'no_space_quota',
  'no_space_alarm',
  'connections_per_client',
  'slow_reader',
];

/** The route label of a request that names no route (answered 404). */
export const unmatchedRoute = 'unmatched';
/** The route label of a request answered on the raw connection (see HttpMetrics.malformed). */
export const malformedRoute = 'malformed';

export interface HttpMetrics {
  /**
   * A request was answered: its route's name (never the raw path: the label set stays bounded),
   * the status sent, and the seconds from its arrival to its answer. Called once per request.
   */
  answered(route: string, status: number, seconds: number): void;
  /**
   * A request answered with this status on the raw connection, which is then closed — HTTP that
   * node:http could not parse (bad framing, headers too large, too slow), a CONNECT, an
   * unsupported Upgrade: counted under the route label malformedRoute, without a duration (the
   * server never saw it arrive as a request).
   */
  malformed(status: number): void;
  /** A request was refused, for this reason (also counted by answered()). */
  rejected(reason: RejectionReason): void;
  /** The text exposition for GET /metrics, and its content type. */
  exposition(): Promise<{ readonly contentType: string; readonly body: string }>;
}

/**
 * What the node's driver reports as it happens. Every event is rare next to a client request (one
 * fsync per batch of writes, one heartbeat answer per peer and interval).
 */
export interface DriverObserver {
  /** A node other than the previous one (or the first) is known to lead. */
  leaderChanged(): void;
  /** A proposal that got a log index here will not be answered as applied. */
  proposalFailed(): void;
  /** One batch of WAL records was written and fdatasynced, in this many seconds. */
  walSynced(seconds: number): void;
  /** This node took a snapshot (serialised, written, recorded in the WAL, log compacted). */
  snapshotTaken(seconds: number): void;
  /** A heartbeat to `peer` was answered after this many seconds (measured by the leader). */
  peerRoundTrip(peer: string, seconds: number): void;
  /** A lease's expiry was applied here (every node counts it as it applies the entry). */
  leaseExpired(): void;
}

export const silentObserver: DriverObserver = {
  leaderChanged: () => {},
  proposalFailed: () => {},
  walSynced: () => {},
  snapshotTaken: () => {},
  peerRoundTrip: () => {},
  leaseExpired: () => {},
};

/** The node's state as a scrape reads it. */
export interface NodeReading {
  readonly term: number;
  readonly leaderKnown: boolean;
  readonly isLeader: boolean;
  /** A member that receives the log but does not vote. */
  readonly isLearner: boolean;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly keys: number;
  /** Leases in the state machine (docs/leases.md). */
  readonly leases: number;
  /** Proposals made here that wait to be applied. */
  readonly pendingProposals: number;
  /** Members of the configuration in force (either side of a joint one), by role. */
  readonly voters: number;
  readonly learners: number;
  /** The other members: the peers round trips are measured to. */
  readonly peers: readonly string[];
  /** Leader only: entries of the leader's log each follower does not hold yet; empty elsewhere. */
  readonly followerLag: ReadonlyMap<string, number>;
  /** Some node's no-space alarm is raised: writes that grow the state are refused (docs/space.md). */
  readonly noSpace: boolean;
  readonly stateBytes: number;
  /** null: no quota. */
  readonly quotaBytes: number | null;
  /** The watchers of GET /watch: open now, and what was done since the node started. */
  readonly watchers: WatchReading;
}

/** The watch hub's counts (src/node/watch-hub.ts); all but `open` only grow. */
export interface WatchReading {
  readonly open: number;
  /** Events written to watchers. */
  readonly eventsSent: number;
  /** Watchers ended with `dropped`: their client did not keep up. */
  readonly dropped: number;
  /** Watches answered or ended with `compacted`: the history no longer held what they needed. */
  readonly compacted: number;
}
