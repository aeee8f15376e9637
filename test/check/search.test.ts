// Goal: the generic search works for a model other than the register (here a grow-only set),
// returns linearizations that really are legal and respect real time, and answers `unknown`
// rather than guessing when its step or time budget runs out.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  checkOperations,
  type Model,
  type RegisterOp,
  registerModel,
  type TimedOp,
  toRegisterOp,
} from '../../src/check/index.js';
import { execute, plansArb } from './generators.js';

type SetOp =
  | { readonly f: 'add'; readonly x: number }
  | { readonly f: 'read'; readonly xs: readonly number[] };

/** A grow-only set of numbers; states are sorted arrays. */
const setModel: Model<readonly number[], SetOp> = {
  name: 'set',
  init: () => [],
  step(state, op) {
    if (op.f === 'add') {
      return { ok: true, nextState: state.includes(op.x) ? state : [...state, op.x].sort((a, b) => a - b) };
    }
    const xs = [...op.xs].sort((a, b) => a - b);
    return xs.length === state.length && xs.every((x, i) => x === state[i])
      ? { ok: true, nextState: state }
      : { ok: false };
  },
  hash: (state) => state.join(','),
  equals: (a, b) => a.length === b.length && a.every((x, i) => x === b[i]),
  showState: (state) => `{${state.join(', ')}}`,
  showOp: (op) => (op.f === 'add' ? `add ${op.x}` : `read {${op.xs.join(', ')}}`),
};

let nextId = 0;
function at<Op>(call: number, ret: number, op: Op): TimedOp<Op> {
  return { id: ++nextId, call, ret, op };
}

describe('generic search', () => {
  it('checks a set model', () => {
    const good = [
      at(0, 10, { f: 'add', x: 1 } as const),
      at(0, 10, { f: 'add', x: 2 } as const),
      at(5, 6, { f: 'read', xs: [2] } as const),
      at(11, 12, { f: 'read', xs: [1, 2] } as const),
    ];
    assert.equal(checkOperations(setModel, good).verdict, 'linearizable');
    const bad = [
      at(0, 10, { f: 'add', x: 1 } as const),
      at(11, 12, { f: 'read', xs: [1] } as const),
      at(13, 14, { f: 'read', xs: [] } as const),
    ];
    const result = checkOperations(setModel, bad);
    assert.equal(result.verdict, 'not-linearizable');
    assert.equal(result.verdict === 'not-linearizable' && result.witness.stuck, bad[2]!.id);
  });

  it('an indeterminate op may be left out or placed anywhere after its call', () => {
    const add = at(0, Number.POSITIVE_INFINITY, { f: 'add', x: 7 } as const);
    const before = at(1, 2, { f: 'read', xs: [] } as const);
    const after = at(3, 4, { f: 'read', xs: [7] } as const);
    assert.equal(checkOperations(setModel, [add, before]).verdict, 'linearizable');
    assert.equal(checkOperations(setModel, [add, before, after]).verdict, 'linearizable');
    assert.equal(
      checkOperations(setModel, [add, after, at(5, 6, { f: 'read', xs: [] } as const)]).verdict,
      'not-linearizable',
    );
  });

  it('returns a linearization that replays legally and respects real time', () => {
    fc.assert(
      fc.property(plansArb(12), (plans) => {
        for (const key of ['a', 'b']) {
          const ops = execute(plans)
            .filter((op) => op.key === key)
            .map(toRegisterOp)
            .filter((t): t is TimedOp<RegisterOp> => t !== null);
          const result = checkOperations(registerModel, ops);
          assert.equal(result.verdict, 'linearizable');
          if (result.verdict !== 'linearizable') return;
          const byId = new Map(ops.map((t) => [t.id, t]));
          const order = result.linearization.map((id) => byId.get(id)!);
          let state = registerModel.init();
          for (const t of order) {
            const step = registerModel.step(state, t.op);
            assert.ok(step.ok, `illegal step ${registerModel.showOp(t.op)}`);
            state = step.nextState;
          }
          for (const t of ops) {
            if (t.ret !== Number.POSITIVE_INFINITY) assert.ok(order.includes(t), `op ${t.id} left out`);
          }
          for (let i = 0; i < order.length; i++) {
            for (let j = i + 1; j < order.length; j++) {
              assert.ok(
                !(order[j]!.ret < order[i]!.call),
                `op ${order[j]!.id} completed before ${order[i]!.id}`,
              );
            }
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('budget', () => {
  // Many concurrent reads of values nobody wrote: every order must be refuted, which takes
  // exponentially many steps without memoization and still many with it.
  const hopeless = (): TimedOp<RegisterOp>[] => {
    const ops: TimedOp<RegisterOp>[] = [];
    for (let i = 0; i < 14; i++) ops.push(at(0, 100, { f: 'put', value: String(i) }));
    for (let i = 0; i < 14; i++) ops.push(at(0, 100, { f: 'get', value: String((i * 5) % 14) }));
    ops.push(at(200, 300, { f: 'get', value: 'never written' }));
    return ops;
  };

  it('answers unknown when the step limit is reached', () => {
    const result = checkOperations(registerModel, hopeless(), { maxSteps: 1000 });
    assert.equal(result.verdict, 'unknown');
    assert.equal(result.verdict === 'unknown' && result.reason, 'step-limit');
    assert.equal(result.steps, 1000);
  });

  it('answers unknown when the deadline passes', () => {
    let clock = 0;
    const now = (): number => clock++;
    const result = checkOperations(registerModel, hopeless(), { deadline: 3, now });
    assert.equal(result.verdict, 'unknown');
    assert.equal(result.verdict === 'unknown' && result.reason, 'time-limit');
  });

  it('answers at once when the deadline has already passed', () => {
    const result = checkOperations(registerModel, hopeless(), { deadline: 0, now: () => 1 });
    assert.deepEqual(result, { verdict: 'unknown', steps: 0, reason: 'time-limit' });
  });
});
