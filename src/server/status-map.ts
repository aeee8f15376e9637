// The one table from public error codes to HTTP statuses. docs/errors.md lists the same codes;
// test/server/errors-doc.test.ts keeps the two in step.

import {
  BadRequestError,
  BusyError,
  ConflictError,
  ExerciseCannotRunError,
  ExerciseRunningError,
  ExpectationFailedError,
  FaultsDisabledError,
  ForwardFailedError,
  HeadersTooLargeError,
  LastVoterError,
  LeadershipLostError,
  LearnerNotReadyError,
  LeaseNotFoundError,
  MemberExistsError,
  MemberNotFoundError,
  MembershipChangeInProgressError,
  NoLeaderError,
  NoSpaceError,
  NotFoundError,
  NotLeaderError,
  NotSupervisedError,
  PermissionDeniedError,
  type RaftkvError,
  RequestTimeoutError,
  ShuttingDownError,
  SupervisorUnreachableError,
  TimeoutError,
  TooLargeError,
  TooManyConnectionsError,
  TransferFailedError,
  UnauthenticatedError,
} from '../api/errors.js';

type ErrorClass = abstract new (...args: never[]) => RaftkvError;

export const httpStatusOf: ReadonlyMap<ErrorClass, number> = new Map<ErrorClass, number>([
  [BadRequestError, 400],
  [UnauthenticatedError, 401],
  [PermissionDeniedError, 403],
  [FaultsDisabledError, 403],
  [NotFoundError, 404],
  [RequestTimeoutError, 408],
  [ConflictError, 409],
  [MemberNotFoundError, 404],
  [LeaseNotFoundError, 404],
  [NotSupervisedError, 404],
  [MemberExistsError, 409],
  [MembershipChangeInProgressError, 409],
  [LastVoterError, 409],
  [LearnerNotReadyError, 409],
  [TransferFailedError, 409],
  [ExerciseRunningError, 409],
  [ExerciseCannotRunError, 412],
  [TooLargeError, 413],
  [ExpectationFailedError, 417],
  [TooManyConnectionsError, 429],
  [HeadersTooLargeError, 431],
  [NoSpaceError, 507],
  [NoLeaderError, 503],
  [NotLeaderError, 503],
  [BusyError, 503],
  [LeadershipLostError, 503],
  [ShuttingDownError, 503],
  [ForwardFailedError, 503],
  [SupervisorUnreachableError, 503],
  [TimeoutError, 504],
]);

export function statusFor(err: RaftkvError): number {
  for (const [cls, status] of httpStatusOf) if (err instanceof cls) return status;
  return 500;
}

/** The JSON body for an error: always `error` (message), `code` and `definite`, then details. */
export function errorBody(err: RaftkvError): Record<string, unknown> {
  return { error: err.message, code: err.code, definite: err.definite, ...err.details };
}
