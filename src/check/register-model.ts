// The sequential specification of one key of the store: a register that is either absent (null)
// or holds a string. Since linearizability is compositional (Herlihy & Wing's locality), a
// history over many keys is linearizable exactly when each key's sub-history is, so the
// store's model is this register, one per key.

import type { Model, StepResult } from './model.js';

/** The key's value; null when absent. */
export type RegisterState = string | null;

/**
 * A register operation with what was observed. `null` in `swapped` or `existed` means nothing
 * was observed: the op was indeterminate, or (for `existed`) the server did not say.
 */
export type RegisterOp =
  | { readonly f: 'get'; readonly value: string | null }
  | { readonly f: 'put'; readonly value: string }
  | {
      readonly f: 'cas';
      readonly prevValue: string | null;
      readonly value: string;
      /** true: it swapped; false: the precondition did not hold; null: unknown. */
      readonly swapped: boolean | null;
    }
  | { readonly f: 'delete'; readonly existed: boolean | null };

const rejected: StepResult<RegisterState> = { ok: false };

function accept(nextState: RegisterState): StepResult<RegisterState> {
  return { ok: true, nextState };
}

export function showValue(value: string | null): string {
  return value === null ? 'absent' : JSON.stringify(value);
}

export const registerModel: Model<RegisterState, RegisterOp> = {
  name: 'register',
  init: () => null,
  step(state, op) {
    switch (op.f) {
      case 'get':
        return state === op.value ? accept(state) : rejected;
      case 'put':
        return accept(op.value);
      case 'cas': {
        const holds = state === op.prevValue;
        if (op.swapped === null) return accept(holds ? op.value : state);
        if (op.swapped !== holds) return rejected;
        return accept(holds ? op.value : state);
      }
      case 'delete':
        if (op.existed !== null && op.existed !== (state !== null)) return rejected;
        return accept(null);
    }
  },
  // '' cannot collide with '=' + value, so absent and every string hash apart.
  hash: (state) => (state === null ? '' : '=' + state),
  equals: (a, b) => a === b,
  showState: showValue,
  showOp(op) {
    switch (op.f) {
      case 'get':
        return `get -> ${showValue(op.value)}`;
      case 'put':
        return `put ${showValue(op.value)}`;
      case 'cas': {
        const result = op.swapped === null ? '' : op.swapped ? ' -> swapped' : ' -> precondition failed';
        return `cas ${showValue(op.prevValue)} => ${showValue(op.value)}${result}`;
      }
      case 'delete':
        return op.existed === null ? 'delete' : `delete -> ${op.existed ? 'existed' : 'was absent'}`;
    }
  },
};
