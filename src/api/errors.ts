// Public errors: one base class with a stable `code` and a `definite` flag, one subclass per case.
// `definite: false` means "may have happened": the client cannot know whether a write applied.
// The HTTP status of each code is mapped in one table in server/, and every code is listed in
// docs/errors.md (a test keeps the two in step). Codes are never reused.

export abstract class RaftkvError extends Error {
  abstract readonly code: string;
  /** True when the operation certainly did not take effect. */
  abstract readonly definite: boolean;
  /** Extra JSON fields for the response body. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.details = details;
  }
}

/**
 * Builds an error without capturing a stack trace: for an error that steers control flow on a hot
 * path and whose stack no one reads — a follower learns it must forward a write from a
 * NotLeaderError, once per forwarded write, and capturing its stack took about 5% of a
 * follower's CPU under writes spread over every node.
 */
export function withoutStack<T extends Error>(make: () => T): T {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return make();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** Malformed request: bad JSON, missing or wrongly typed fields, empty key. */
export class BadRequestError extends RaftkvError {
  readonly code = 'bad_request';
  readonly definite = true;
}

/** A key or value larger than the documented limits, or a body too large. */
export class TooLargeError extends RaftkvError {
  readonly code = 'too_large';
  readonly definite = true;
}

/** One client address holds as many connections to the node as it may (--max-connections-per-client). */
export class TooManyConnectionsError extends RaftkvError {
  readonly code = 'too_many_connections';
  readonly definite = true;
}

/** The request's head (line and headers) is larger than the HTTP server reads. */
export class HeadersTooLargeError extends RaftkvError {
  readonly code = 'headers_too_large';
  readonly definite = true;
}

/**
 * The write would grow the replicated state while writes may not grow it: past the quota, or
 * while a node is low on disk (docs/space.md). Nothing was written; deletes still work.
 */
export class NoSpaceError extends RaftkvError {
  readonly code = 'no_space';
  readonly definite = true;
}

/** The request's Expect header asks for something the server does not do (only 100-continue). */
export class ExpectationFailedError extends RaftkvError {
  readonly code = 'expectation_failed';
  readonly definite = true;
}

/** The request did not arrive whole within the request timeout; it was not handled. */
export class RequestTimeoutError extends RaftkvError {
  readonly code = 'request_timeout';
  readonly definite = true;
}

/** No credentials, or credentials no user of the auth file has (docs/security.md). Nothing was done. */
export class UnauthenticatedError extends RaftkvError {
  readonly code = 'unauthenticated';
  readonly definite = true;
}

/** The user may not do this: its role is too low, or the key is outside its prefixes. Nothing was done. */
export class PermissionDeniedError extends RaftkvError {
  readonly code = 'permission_denied';
  readonly definite = true;
}

/** Compare-and-set precondition failed: nothing was written. */
export class ConflictError extends RaftkvError {
  readonly code = 'precondition_failed';
  readonly definite = true;
}

/** No leader is known (election in progress, or this node is cut off from a majority). */
export class NoLeaderError extends RaftkvError {
  readonly code = 'no_leader';
  readonly definite = true;
}

/** The leader refused new work for now (queues full, transfer in progress). */
export class BusyError extends RaftkvError {
  readonly code = 'busy';
  readonly definite = true;
}

/** Leadership changed while the write was in flight: it may still commit under the new leader. */
export class LeadershipLostError extends RaftkvError {
  readonly code = 'leadership_lost';
  readonly definite = false;
}

/** The deadline passed before the operation finished: a write may still commit. */
export class TimeoutError extends RaftkvError {
  readonly code = 'timeout';
  readonly definite = false;
}

/** The node is shutting down. For a write already proposed the outcome is unknown. */
export class ShuttingDownError extends RaftkvError {
  readonly code = 'shutting_down';
  readonly definite = false;
}

/** Forwarding to the leader failed after the request may have reached it. */
export class ForwardFailedError extends RaftkvError {
  readonly code = 'forward_failed';
  readonly definite = false;
}

/** No such route or method. */
export class NotFoundError extends RaftkvError {
  readonly code = 'not_found';
  readonly definite = true;
}

/** This node is not the leader; `leader` is the leader's client address when known. */
export class NotLeaderError extends RaftkvError {
  readonly code = 'not_leader';
  readonly definite = true;
  constructor(
    readonly leader: string | null,
    message?: string,
  ) {
    super(
      message ??
        (leader
          ? `this node is not the leader; the leader is at ${leader}`
          : 'no leader is known; retry later'),
    );
  }
}

/** The node was not started with --enable-faults: /admin/faults is refused (docs/faults.md). */
export class FaultsDisabledError extends RaftkvError {
  readonly code = 'faults_disabled';
  readonly definite = true;
}

// --- The supervisor's control (docs/dashboard.md) ---------------------------------------------

/** The node runs without a supervisor (`raftkv cluster`), or that one runs no such node. */
export class NotSupervisedError extends RaftkvError {
  readonly code = 'not_supervised';
  readonly definite = true;
}

/** The supervisor did not answer: whether it did what was asked is unknown. */
export class SupervisorUnreachableError extends RaftkvError {
  readonly code = 'supervisor_unreachable';
  readonly definite = false;
}

// --- Membership (docs/membership.md) ---------------------------------------------------------

/** The id or the address is already a member's. Nothing changed. */
export class MemberExistsError extends RaftkvError {
  readonly code = 'member_exists';
  readonly definite = true;
}

/** Another membership change is not finished (committed, and a joint phase left). Retry it then. */
export class MembershipChangeInProgressError extends RaftkvError {
  readonly code = 'membership_change_in_progress';
  readonly definite = true;
}

/** No member has this id. */
export class MemberNotFoundError extends RaftkvError {
  readonly code = 'member_not_found';
  readonly definite = true;
}

/** Removing it would leave no voter. */
export class LastVoterError extends RaftkvError {
  readonly code = 'last_voter';
  readonly definite = true;
}

/** The learner is not caught up enough to vote yet. Details: `behind` (entries), `reason`. */
export class LearnerNotReadyError extends RaftkvError {
  readonly code = 'learner_not_ready';
  readonly definite = true;
}

/** Leadership could not be moved. Details: `reason`. */
export class TransferFailedError extends RaftkvError {
  readonly code = 'transfer_failed';
  readonly definite = true;
}

/** The lease does not exist: never granted, revoked, or expired. Details: `id`. Nothing was written. */
export class LeaseNotFoundError extends RaftkvError {
  readonly code = 'lease_not_found';
  readonly definite = true;
}

// --- The exercises run from the dashboard (docs/dashboard.md) ---------------------------------

/** An exercise is running already (one at a time): nothing was started. Details: `run`, `exercise`. */
export class ExerciseRunningError extends RaftkvError {
  readonly code = 'exercise_running';
  readonly definite = true;
}

/** The cluster lacks what the exercise needs (too few nodes, no fault injection, a node down). */
export class ExerciseCannotRunError extends RaftkvError {
  readonly code = 'exercise_cannot_run';
  readonly definite = true;
}
