// Terse builders for hand-written histories. Times are [invokedAt, completedAt] for an op whose
// outcome the client saw, or a bare invokedAt for an indeterminate (info) op.

import type { KvOp, ProcessId } from '../../src/check/index.js';

/** An op without its id, keeping the kind/outcome pairing of the KvOp union. */
type Spec = KvOp extends infer T ? (T extends KvOp ? Omit<T, 'id'> : never) : never;
type Times = readonly [number, number] | number;

function interval(at: Times): { invokedAt: number; completedAt: number | null } {
  return typeof at === 'number'
    ? { invokedAt: at, completedAt: null }
    : { invokedAt: at[0], completedAt: at[1] };
}

/** Numbers the ops 1, 2, 3... in the order given. */
export function history(...specs: Spec[]): KvOp[] {
  return specs.map((s, i) => ({ ...s, id: i + 1 }) as KvOp);
}

/** A get that saw `value` (null: absent), or an indeterminate get when `at` is a number. */
export function get(process: ProcessId, key: string, at: Times, value: string | null = null): Spec {
  const outcome = typeof at === 'number' ? { type: 'info' as const } : { type: 'ok' as const, value };
  return { process, key, kind: 'get', ...interval(at), outcome };
}

export function put(process: ProcessId, key: string, value: string, at: Times): Spec {
  const outcome = typeof at === 'number' ? { type: 'info' as const } : { type: 'ok' as const };
  return { process, key, kind: 'put', value, ...interval(at), outcome };
}

/** A cas that swapped (`ok`), failed its precondition (`409`), or is indeterminate. */
export function cas(
  process: ProcessId,
  key: string,
  prevValue: string | null,
  value: string,
  at: Times,
  result: 'ok' | '409' = 'ok',
): Spec {
  const outcome =
    typeof at === 'number'
      ? { type: 'info' as const }
      : result === 'ok'
        ? { type: 'ok' as const }
        : { type: 'fail' as const, precondition: true };
  return { process, key, kind: 'cas', prevValue, value, ...interval(at), outcome };
}

export function del(process: ProcessId, key: string, at: Times, existed?: boolean): Spec {
  const outcome =
    typeof at === 'number'
      ? { type: 'info' as const }
      : existed === undefined
        ? { type: 'ok' as const }
        : { type: 'ok' as const, existed };
  return { process, key, kind: 'delete', ...interval(at), outcome };
}

/** The same op, definitely rejected by the server before taking effect (e.g. 503 not leader). */
export function rejected(spec: Spec): Spec {
  return { ...spec, outcome: { type: 'fail', error: '503' } } as Spec;
}
