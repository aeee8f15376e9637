// Checks a key-value history for linearizability, one key at a time.
//
// Linearizability is local (Herlihy & Wing): a history is linearizable iff each object's
// sub-history is. Every operation touches a single key, so each key is checked on its own
// against the register model. This turns one search exponential in the whole history's
// concurrency into small independent ones.
//
// How outcomes become register operations:
//   ok            — must be linearized inside [invokedAt, completedAt], with the observed result.
//   fail on a cas with `precondition: true` (HTTP 409) — treated as a read: it did not change
//                   anything, but it saw, at some point inside its interval, a value other than
//                   prevValue. Dropping it would be sound too, but would miss stale-read bugs in
//                   the CAS path, so the observation is kept. This presumes the server answers
//                   409 only from the replicated state (e.g. when applying the committed entry);
//                   a 409 decided on a stale local copy is exactly what it should catch. A runner
//                   that cannot tell a 409 from other rejections must not set `precondition`.
//   any other fail — definitely did not happen and observed nothing: dropped.
//   info          — may take effect at any point after invokedAt, or never. An indeterminate get
//                   has no effect and no observation, so it is dropped; the rest are open-ended
//                   (TimedOp.ret = Infinity).

import { InvalidHistoryError, type KvOp, validateHistory } from './history.js';
import type { TimedOp } from './model.js';
import { type RegisterOp, registerModel } from './register-model.js';
import { checkOperations, type SearchResult } from './search.js';

export type Verdict = 'linearizable' | 'not-linearizable' | 'unknown';

export interface CheckOptions {
  /** Model steps each key's search may take before answering `unknown`. Default 5,000,000. */
  readonly maxStepsPerKey?: number;
  /** Wall time for the whole check, in milliseconds, after which keys answer `unknown`. Default 60,000. */
  readonly timeLimitMs?: number;
  /** The clock for timeLimitMs, in milliseconds. Default performance.now. */
  readonly now?: () => number;
}

/** Memory grows with steps (each explored configuration is remembered), hence a finite default. */
export const defaultMaxStepsPerKey = 5_000_000;
export const defaultTimeLimitMs = 60_000;

/** Where one key's check got stuck. All ops are the history's own objects. */
export interface KeyFailure {
  readonly key: string;
  /** The longest prefix the search could linearize, in linearization order. */
  readonly prefix: readonly KvOp[];
  /** The key's value after the prefix. */
  readonly valueAfterPrefix: string | null;
  /** The op of the prefix that set valueAfterPrefix, if any. */
  readonly lastChange: KvOp | null;
  /** An op that completed but cannot be placed after the prefix. */
  readonly stuck: KvOp;
  /** Ops in flight when `stuck` completed and not in the prefix: placing them first did not help. */
  readonly pending: readonly KvOp[];
  /**
   * The ops to look at, by invocation time: lastChange, the completed prefix ops overlapping
   * `stuck`, `stuck` itself and `pending`.
   */
  readonly window: readonly KvOp[];
}

export interface KeyResult {
  readonly key: string;
  readonly verdict: Verdict;
  /** Ops the search considered (after dropping those that carry no information). */
  readonly ops: number;
  /** Ops dropped: fails that observed nothing, and indeterminate gets. */
  readonly dropped: number;
  readonly steps: number;
  /** Why the verdict is `unknown`. */
  readonly unknownReason?: 'step-limit' | 'time-limit';
  readonly failure?: KeyFailure;
}

export interface KvCheckResult {
  /** not-linearizable if any key is; otherwise unknown if any key is; otherwise linearizable. */
  readonly verdict: Verdict;
  /** One entry per key, sorted by key. */
  readonly perKey: readonly KeyResult[];
  /** The first failing key's failure (see perKey for the others). */
  readonly failure?: KeyFailure;
  readonly steps: number;
}

/** The register operation an op stands for, or null when it carries no information. */
export function toRegisterOp(op: KvOp): TimedOp<RegisterOp> | null {
  const { outcome } = op;
  if (outcome.type === 'fail') {
    if (op.kind !== 'cas' || outcome.precondition !== true) return null;
    return timed(op, { f: 'cas', prevValue: op.prevValue, value: op.value, swapped: false });
  }
  const known = outcome.type === 'ok';
  switch (op.kind) {
    case 'get':
      return op.outcome.type === 'ok' ? timed(op, { f: 'get', value: op.outcome.value }) : null;
    case 'put':
      return timed(op, { f: 'put', value: op.value });
    case 'cas':
      return timed(op, { f: 'cas', prevValue: op.prevValue, value: op.value, swapped: known ? true : null });
    case 'delete':
      return timed(op, {
        f: 'delete',
        existed: op.outcome.type === 'ok' && op.outcome.existed !== undefined ? op.outcome.existed : null,
      });
  }
}

function timed(op: KvOp, registerOp: RegisterOp): TimedOp<RegisterOp> {
  const ret = op.outcome.type === 'info' ? Number.POSITIVE_INFINITY : op.completedAt!;
  return { id: op.id, call: op.invokedAt, ret, op: registerOp };
}

/** Checks a whole history. Throws InvalidHistoryError if validateHistory finds problems. */
export function checkKvHistory(history: readonly KvOp[], options: CheckOptions = {}): KvCheckResult {
  const problems = validateHistory(history);
  if (problems.length > 0) throw new InvalidHistoryError(problems);
  const now = options.now ?? (() => performance.now());
  const deadline = now() + (options.timeLimitMs ?? defaultTimeLimitMs);
  const maxSteps = options.maxStepsPerKey ?? defaultMaxStepsPerKey;

  const byKey = new Map<string, KvOp[]>();
  for (const op of history) {
    const list = byKey.get(op.key);
    if (list) list.push(op);
    else byKey.set(op.key, [op]);
  }
  const perKey: KeyResult[] = [];
  let steps = 0;
  for (const key of [...byKey.keys()].sort()) {
    const keyOps = byKey.get(key)!;
    const timedOps: TimedOp<RegisterOp>[] = [];
    for (const op of keyOps) {
      const t = toRegisterOp(op);
      if (t) timedOps.push(t);
    }
    const result = checkOperations(registerModel, timedOps, { maxSteps, deadline, now });
    steps += result.steps;
    perKey.push(keyResult(key, keyOps, timedOps.length, result));
  }
  const verdicts = new Set(perKey.map((r) => r.verdict));
  const verdict: Verdict = verdicts.has('not-linearizable')
    ? 'not-linearizable'
    : verdicts.has('unknown')
      ? 'unknown'
      : 'linearizable';
  const failure = perKey.find((r) => r.failure)?.failure;
  return failure ? { verdict, perKey, failure, steps } : { verdict, perKey, steps };
}

function keyResult(
  key: string,
  keyOps: readonly KvOp[],
  checked: number,
  result: SearchResult<string | null>,
): KeyResult {
  const base = { key, ops: checked, dropped: keyOps.length - checked, steps: result.steps };
  switch (result.verdict) {
    case 'linearizable':
      return { ...base, verdict: result.verdict };
    case 'unknown':
      return { ...base, verdict: result.verdict, unknownReason: result.reason };
    case 'not-linearizable': {
      const byId = new Map(keyOps.map((op) => [op.id, op]));
      const get = (id: number): KvOp => byId.get(id)!;
      const w = result.witness;
      const stuck = get(w.stuck);
      const prefix = w.prefix.map(get);
      const lastChange = w.lastChange === null ? null : get(w.lastChange);
      const pending = w.pending.map(get);
      const window = new Set<KvOp>();
      if (lastChange) window.add(lastChange);
      // Indeterminate ops overlap everything after their call; they are shown only when pending
      // or when they set the value.
      for (const op of prefix) if (op.outcome.type !== 'info' && overlaps(op, stuck)) window.add(op);
      window.add(stuck);
      for (const op of pending) window.add(op);
      const failure: KeyFailure = {
        key,
        prefix,
        valueAfterPrefix: w.state,
        lastChange,
        stuck,
        pending,
        window: [...window].sort((a, b) => a.invokedAt - b.invokedAt || a.id - b.id),
      };
      return { ...base, verdict: result.verdict, failure };
    }
  }
}

/** Whether two completed ops' intervals intersect. */
function overlaps(a: KvOp, b: KvOp): boolean {
  return a.invokedAt <= b.completedAt! && b.invokedAt <= a.completedAt!;
}
