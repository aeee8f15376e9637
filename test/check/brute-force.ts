// An obviously-correct (and exponential) linearizability oracle to cross-check the real checker
// against. It shares no code with src/check beyond the history types: it keeps the whole store
// (no per-key decomposition), writes its own semantics, and simply tries every order that
// respects real time, for every choice of which indeterminate ops took effect.

import type { KvOp } from '../../src/check/index.js';

interface Item {
  readonly op: KvOp;
  readonly call: number;
  /** Infinity for an indeterminate op. */
  readonly ret: number;
}

type Store = ReadonlyMap<string, string>;

/** The store after `op`, or null if `op` could not have happened, as observed, in `store`. */
function apply(store: Store, op: KvOp): Store | null {
  const current = store.get(op.key) ?? null;
  const set = (value: string | null): Store => {
    const next = new Map(store);
    if (value === null) next.delete(op.key);
    else next.set(op.key, value);
    return next;
  };
  const o = op.outcome;
  switch (op.kind) {
    case 'get':
      if (o.type === 'info') return store;
      return op.outcome.type === 'ok' && op.outcome.value === current ? store : null;
    case 'put':
      return set(op.value);
    case 'cas':
      if (o.type === 'fail') return current !== op.prevValue ? store : null; // 409: saw another value
      if (o.type === 'info') return current === op.prevValue ? set(op.value) : store;
      return current === op.prevValue ? set(op.value) : null;
    case 'delete':
      if (
        op.outcome.type === 'ok' &&
        op.outcome.existed !== undefined &&
        op.outcome.existed !== (current !== null)
      ) {
        return null;
      }
      return set(null);
  }
}

function orderExists(items: readonly Item[]): boolean {
  const placed = items.map(() => false);
  const go = (store: Store, count: number): boolean => {
    if (count === items.length) return true;
    for (let i = 0; i < items.length; i++) {
      if (placed[i]) continue;
      const it = items[i]!;
      // Every op that completed before this one was invoked must already be placed.
      if (items.some((p, j) => !placed[j] && j !== i && p.ret < it.call)) continue;
      const next = apply(store, it.op);
      if (next === null) continue;
      placed[i] = true;
      const found = go(next, count + 1);
      placed[i] = false;
      if (found) return true;
    }
    return false;
  };
  return go(new Map(), 0);
}

export function bruteForceLinearizable(history: readonly KvOp[]): boolean {
  const required: Item[] = [];
  const optional: Item[] = [];
  for (const op of history) {
    const o = op.outcome;
    if (o.type === 'fail' && !(op.kind === 'cas' && o.precondition === true)) continue; // never happened
    if (o.type === 'info') optional.push({ op, call: op.invokedAt, ret: Number.POSITIVE_INFINITY });
    else required.push({ op, call: op.invokedAt, ret: op.completedAt! });
  }
  for (let mask = 0; mask < 1 << optional.length; mask++) {
    const chosen = optional.filter((_, k) => (mask >> k) & 1);
    if (orderExists([...required, ...chosen])) return true;
  }
  return false;
}
