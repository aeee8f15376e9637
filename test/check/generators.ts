// Random histories for property tests: histories recorded from a real (simulated) atomic store,
// which are linearizable by construction, and garbage whose results are made up, which mostly
// are not. Small key and value domains keep collisions, overlaps and ties frequent.

import fc from 'fast-check';
import type { KvOp } from '../../src/check/index.js';

type Fate = 'ok' | 'info-applied' | 'info-lost' | 'rejected';

interface OpPlan {
  readonly key: 'a' | 'b';
  readonly kind: 'get' | 'put' | 'cas' | 'delete';
  readonly value: string;
  readonly prevValue: string | null;
  readonly invokedAt: number;
  /** Where the store applies the op, as an offset from invokedAt. */
  readonly applyAfter: number;
  /** When the client sees the outcome, as an offset from the apply point. */
  readonly replyAfter: number;
  readonly fate: Fate;
  /** For garbage: what the client claims to have seen. */
  readonly seen: string | null;
  readonly flag: boolean;
  readonly reportExisted: boolean;
}

export interface Mix {
  /** Spread ops over two keys (exercising the per-key split) or keep them all on one. */
  readonly twoKeys: boolean;
  /** Out of 7 ops, how many end indeterminate (the rest: 1 rejected, the others ok). */
  readonly indeterminate: number;
}

const defaultMix: Mix = { twoKeys: true, indeterminate: 2 };

function planArb(mix: Mix): fc.Arbitrary<OpPlan> {
  const fates: Fate[] = ['rejected'];
  for (let k = 0; k < mix.indeterminate; k++) fates.push(k % 2 === 0 ? 'info-applied' : 'info-lost');
  while (fates.length < 7) fates.push('ok');
  return fc.record({
    key: mix.twoKeys ? fc.constantFrom('a' as const, 'b' as const) : fc.constant('a' as const),
    kind: fc.constantFrom('get' as const, 'put' as const, 'cas' as const, 'delete' as const),
    value: fc.constantFrom('1', '2', '3'),
    prevValue: fc.constantFrom(null, '1', '2'),
    invokedAt: fc.integer({ min: 0, max: 20 }),
    applyAfter: fc.integer({ min: 0, max: 6 }),
    replyAfter: fc.integer({ min: 0, max: 6 }),
    fate: fc.constantFrom(...fates),
    seen: fc.constantFrom(null, '1', '2', '3'),
    flag: fc.boolean(),
    reportExisted: fc.boolean(),
  });
}

function base(p: OpPlan, id: number): Pick<KvOp, 'id' | 'process' | 'key' | 'invokedAt' | 'completedAt'> {
  const completedAt = p.invokedAt + p.applyAfter + p.replyAfter;
  return { id, process: id, key: p.key, invokedAt: p.invokedAt, completedAt };
}

/** Runs the planned ops against an atomic store at their apply points and records what clients saw. */
export function execute(plans: readonly OpPlan[]): KvOp[] {
  const order = plans.map((_, i) => i);
  order.sort(
    (i, j) => plans[i]!.invokedAt + plans[i]!.applyAfter - (plans[j]!.invokedAt + plans[j]!.applyAfter),
  );
  const store = new Map<string, string>();
  const result: KvOp[] = [];
  for (const i of order) {
    const p = plans[i]!;
    const b = base(p, i + 1);
    const current = store.get(p.key) ?? null;
    const write = (v: string | null): void => {
      if (v === null) store.delete(p.key);
      else store.set(p.key, v);
    };
    if (p.fate === 'rejected' || p.fate === 'info-lost') {
      const outcome = p.fate === 'rejected' ? { type: 'fail' as const } : { type: 'info' as const };
      result.push(withOutcome(p, b, outcome));
      continue;
    }
    const info = p.fate === 'info-applied';
    switch (p.kind) {
      case 'get':
        result.push({ ...b, kind: 'get', outcome: info ? { type: 'info' } : { type: 'ok', value: current } });
        break;
      case 'put':
        write(p.value);
        result.push({ ...b, kind: 'put', value: p.value, outcome: info ? { type: 'info' } : { type: 'ok' } });
        break;
      case 'cas': {
        const holds = current === p.prevValue;
        if (holds) write(p.value);
        const outcome = info
          ? { type: 'info' as const }
          : holds
            ? { type: 'ok' as const }
            : { type: 'fail' as const, precondition: true };
        result.push({ ...b, kind: 'cas', prevValue: p.prevValue, value: p.value, outcome });
        break;
      }
      case 'delete': {
        write(null);
        const existed = current !== null;
        const outcome = info
          ? { type: 'info' as const }
          : p.reportExisted
            ? { type: 'ok' as const, existed }
            : { type: 'ok' as const };
        result.push({ ...b, kind: 'delete', outcome });
        break;
      }
    }
  }
  return result.sort((x, y) => x.id - y.id);
}

function withOutcome(
  p: OpPlan,
  b: ReturnType<typeof base>,
  outcome: { type: 'fail' } | { type: 'info' },
): KvOp {
  switch (p.kind) {
    case 'get':
      return { ...b, kind: 'get', outcome };
    case 'put':
      return { ...b, kind: 'put', value: p.value, outcome };
    case 'cas':
      return { ...b, kind: 'cas', prevValue: p.prevValue, value: p.value, outcome };
    case 'delete':
      return { ...b, kind: 'delete', outcome };
  }
}

/** Results made up from the plan's `seen` and `flag`, ignoring any real execution. */
export function garbage(plans: readonly OpPlan[]): KvOp[] {
  return plans.map(madeUp);
}

function madeUp(p: OpPlan, i: number): KvOp {
  const b = base(p, i + 1);
  if (p.fate === 'rejected') return withOutcome(p, b, { type: 'fail' });
  if (p.fate !== 'ok') return withOutcome(p, b, { type: 'info' });
  switch (p.kind) {
    case 'get':
      return { ...b, kind: 'get', outcome: { type: 'ok', value: p.seen } };
    case 'put':
      return { ...b, kind: 'put', value: p.value, outcome: { type: 'ok' } };
    case 'cas':
      return {
        ...b,
        kind: 'cas',
        prevValue: p.prevValue,
        value: p.value,
        outcome: p.flag ? { type: 'ok' } : { type: 'fail', precondition: true },
      };
    case 'delete':
      return {
        ...b,
        kind: 'delete',
        outcome: p.reportExisted ? { type: 'ok', existed: p.flag } : { type: 'ok' },
      };
  }
}

export const plansArb = (maxOps: number, mix: Mix = defaultMix): fc.Arbitrary<OpPlan[]> =>
  fc.array(planArb(mix), { minLength: 1, maxLength: maxOps });
