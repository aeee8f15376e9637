// Records the register history in the checker's KvOp form: one entry per operation with its
// invocation and completion times (milliseconds since the run began, on a monotonic clock) and
// what the client learned. A client that sees an indeterminate outcome continues under a fresh
// process id, since its old request may still be in flight (the checker requires this).

import type { GetOutcome, KvOp, WriteOutcome } from '../check/index.js';

export class Clock {
  private readonly origin = performance.now();
  now(): number {
    return Math.round((performance.now() - this.origin) * 1000) / 1000;
  }
}

export type RegisterCall =
  | { readonly kind: 'get'; readonly key: string }
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'cas'; readonly key: string; readonly prevValue: string | null; readonly value: string };

export interface Invocation {
  readonly id: number;
  readonly process: number;
  readonly call: RegisterCall;
  readonly invokedAt: number;
  /** The node the request went to, for the report. */
  readonly node: number;
}

/** A recorded op plus the runner's own fields (the history file format ignores unknown fields). */
export type RecordedOp = KvOp & { readonly node: number };

export class Recorder {
  private nextId = 0;
  private readonly ops: RecordedOp[] = [];
  private readonly open = new Map<number, Invocation>();

  constructor(readonly clock: Clock) {}

  invoke(process: number, call: RegisterCall, node: number): Invocation {
    const inv = { id: this.nextId++, process, call, invokedAt: this.clock.now(), node };
    this.open.set(inv.id, inv);
    return inv;
  }

  /** Records the outcome; for a get, `value` is what was read when ok. */
  complete(inv: Invocation, outcome: GetOutcome | WriteOutcome): void {
    if (!this.open.delete(inv.id)) throw new Error(`op ${inv.id} completed twice`);
    this.ops.push(build(inv, outcome, this.clock.now()));
  }

  /** Every op; ops still open are recorded as indeterminate with no completion. */
  history(): RecordedOp[] {
    const open = [...this.open.values()].map((inv) =>
      build(inv, { type: 'info', error: 'never completed' }, null),
    );
    return [...this.ops, ...open].sort((a, b) => a.id - b.id);
  }
}

function build(inv: Invocation, outcome: GetOutcome | WriteOutcome, completedAt: number | null): RecordedOp {
  const base = {
    id: inv.id,
    process: inv.process,
    key: inv.call.key,
    invokedAt: inv.invokedAt,
    completedAt,
    node: inv.node,
  };
  const c = inv.call;
  switch (c.kind) {
    case 'get':
      return { ...base, kind: 'get', outcome: outcome as GetOutcome };
    case 'put':
      return { ...base, kind: 'put', value: c.value, outcome: stripValue(outcome) };
    case 'cas':
      return { ...base, kind: 'cas', prevValue: c.prevValue, value: c.value, outcome: stripValue(outcome) };
  }
}

function stripValue(o: GetOutcome | WriteOutcome): WriteOutcome {
  return o.type === 'ok' ? { type: 'ok' } : o;
}
