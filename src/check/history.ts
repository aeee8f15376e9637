// What a Jepsen-style runner records: one entry per client operation against the key-value store,
// with the wall-clock interval in which it was in flight and what the client learned about it.
//
// Outcomes follow Jepsen's three-way split, because a client cannot always know what happened:
//   ok   — the operation took effect, once, somewhere inside [invokedAt, completedAt], and the
//          client saw its result;
//   fail — the operation definitely did not take effect (e.g. the server rejected it). A CAS
//          that failed its precondition (HTTP 409) is flagged `precondition: true`: the server
//          compared prevValue with the key's value and they differed, which is an observation
//          the checker uses (see kv-check.ts);
//   info — indeterminate (timeout, connection reset after the request was sent): it may have
//          taken effect at any moment after invokedAt, or never. completedAt only records when
//          the client gave up; the checker treats the operation as open-ended.
//
// Times are numbers on one monotonic clock, in any unit (the runner uses milliseconds).

/** The client that issued an operation. Each process runs one operation at a time. */
export type ProcessId = number | string;

export type OpKind = 'get' | 'put' | 'cas' | 'delete';

export interface OkOutcome {
  readonly type: 'ok';
}

export interface FailOutcome {
  readonly type: 'fail';
  /** Only for `cas`: the server evaluated the precondition and it did not hold (HTTP 409). */
  readonly precondition?: boolean;
  /** Free text for humans, e.g. the HTTP status. */
  readonly error?: string;
}

export interface InfoOutcome {
  readonly type: 'info';
  readonly error?: string;
}

export type GetOutcome = (OkOutcome & { readonly value: string | null }) | FailOutcome | InfoOutcome;
export type WriteOutcome = OkOutcome | FailOutcome | InfoOutcome;
/** `existed` is what the server said about the key's presence, when it says anything. */
export type DeleteOutcome = (OkOutcome & { readonly existed?: boolean }) | FailOutcome | InfoOutcome;

interface OpBase {
  /** Unique within a history; failure reports refer to operations by it. */
  readonly id: number;
  readonly process: ProcessId;
  readonly key: string;
  readonly invokedAt: number;
  /** When the client saw the outcome: required for ok and fail; for info, when it gave up, or null. */
  readonly completedAt: number | null;
}

/** Reads the key; `value` is null when the key is absent. */
export interface GetOp extends OpBase {
  readonly kind: 'get';
  readonly outcome: GetOutcome;
}

export interface PutOp extends OpBase {
  readonly kind: 'put';
  readonly value: string;
  readonly outcome: WriteOutcome;
}

/** Sets the key to `value` if its current value is `prevValue`; prevValue null means "must be absent". */
export interface CasOp extends OpBase {
  readonly kind: 'cas';
  readonly prevValue: string | null;
  readonly value: string;
  readonly outcome: WriteOutcome;
}

export interface DeleteOp extends OpBase {
  readonly kind: 'delete';
  readonly outcome: DeleteOutcome;
}

export type KvOp = GetOp | PutOp | CasOp | DeleteOp;

/**
 * Finds what would make a history meaningless to check: broken times, duplicate ids, flags in
 * the wrong place, and processes that run two operations at once or carry on after an
 * indeterminate one (a runner must give the client a fresh process id after an `info`, as its
 * old request may still be in flight). Returns one message per problem; empty means valid.
 */
export function validateHistory(history: readonly KvOp[]): string[] {
  const problems: string[] = [];
  const ids = new Set<number>();
  for (const op of history) {
    const at = `op ${op.id}`;
    if (!Number.isSafeInteger(op.id)) problems.push(`${at}: id must be an integer`);
    if (ids.has(op.id)) problems.push(`${at}: duplicate id`);
    ids.add(op.id);
    if (!Number.isFinite(op.invokedAt)) problems.push(`${at}: invokedAt must be a finite number`);
    const done = op.completedAt;
    if (done === null) {
      if (op.outcome.type !== 'info') problems.push(`${at}: an ${op.outcome.type} op needs completedAt`);
    } else if (!Number.isFinite(done) || done < op.invokedAt) {
      problems.push(`${at}: completedAt must be a finite number not before invokedAt`);
    }
    if (op.outcome.type === 'fail' && op.outcome.precondition === true && op.kind !== 'cas') {
      problems.push(`${at}: only a cas can fail its precondition`);
    }
  }
  const byProcess = new Map<ProcessId, KvOp[]>();
  for (const op of history) {
    const list = byProcess.get(op.process);
    if (list) list.push(op);
    else byProcess.set(op.process, [op]);
  }
  for (const [process, ops] of byProcess) {
    const sorted = [...ops].sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id);
    for (let i = 1; i < sorted.length; i++) {
      const prev = sorted[i - 1]!;
      const op = sorted[i]!;
      if (prev.outcome.type === 'info') {
        problems.push(`process ${process}: op ${op.id} follows indeterminate op ${prev.id}`);
      } else if (prev.completedAt !== null && op.invokedAt < prev.completedAt) {
        problems.push(`process ${process}: op ${op.id} starts before op ${prev.id} completed`);
      }
    }
  }
  return problems;
}

export class InvalidHistoryError extends Error {
  override readonly name = 'InvalidHistoryError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid history: ${problems.slice(0, 5).join('; ')}${problems.length > 5 ? '; ...' : ''}`);
  }
}
