// Goal: the checker accepts hand-written histories that some legal order explains and rejects
// the classic anomalies (stale reads, lost writes, CAS misbehaviour, indeterminate ops taking
// effect twice or too early), and its failure report points at the op that cannot be explained.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkKvHistory,
  InvalidHistoryError,
  type KvOp,
  renderCheckResult,
  type Verdict,
} from '../../src/check/index.js';
import { cas, del, get, history, put, rejected } from './fixtures.js';

function verdict(ops: KvOp[]): Verdict {
  return checkKvHistory(ops).verdict;
}

describe('linearizable histories', () => {
  it('accepts an empty history and a read of a key never written', () => {
    assert.equal(verdict([]), 'linearizable');
    assert.equal(verdict(history(get(1, 'x', [0, 1], null))), 'linearizable');
  });

  it('accepts sequential writes each read back', () => {
    const h = history(
      put(1, 'x', '1', [0, 10]),
      get(2, 'x', [11, 12], '1'),
      put(1, 'x', '2', [20, 30]),
      get(2, 'x', [31, 40], '2'),
      del(1, 'x', [41, 42], true),
      get(2, 'x', [43, 44], null),
      del(1, 'x', [45, 46], false),
    );
    assert.equal(verdict(h), 'linearizable');
  });

  it('lets a read concurrent with a write see either the old or the new value', () => {
    for (const seen of ['0', '1']) {
      const h = history(put(1, 'x', '0', [0, 5]), put(1, 'x', '1', [10, 30]), get(2, 'x', [15, 20], seen));
      assert.equal(verdict(h), 'linearizable', `read saw ${seen}`);
    }
  });

  it('orders overlapping writes either way', () => {
    for (const [first, second] of [
      ['1', '2'],
      ['2', '1'],
    ] as const) {
      const h = history(put(1, 'x', '1', [0, 20]), put(2, 'x', '2', [5, 25]), get(3, 'x', [30, 31], second));
      assert.equal(verdict(h), 'linearizable', `${first} then ${second}`);
    }
  });

  it('treats an op starting the instant another completes as concurrent with it', () => {
    const h = history(put(1, 'x', '1', [0, 10]), get(2, 'x', [10, 12], null));
    assert.equal(verdict(h), 'linearizable');
  });

  it('accepts a CAS chain and 409s issued while the value differed', () => {
    const h = history(
      cas(1, 'x', null, 'a', [0, 5]),
      cas(2, 'x', null, 'b', [6, 8], '409'),
      cas(1, 'x', 'a', 'b', [10, 15]),
      cas(2, 'x', 'a', 'c', [16, 18], '409'),
      get(3, 'x', [20, 21], 'b'),
    );
    assert.equal(verdict(h), 'linearizable');
  });

  it('accepts an indeterminate write that took effect, or did not', () => {
    for (const seen of ['1', '2']) {
      const h = history(put(1, 'x', '1', [0, 10]), put(2, 'x', '2', 12), get(3, 'x', [100, 110], seen));
      assert.equal(verdict(h), 'linearizable', `read saw ${seen}`);
    }
  });

  it('lets an indeterminate write take effect long after its client gave up', () => {
    const h = history(
      put(1, 'x', '2', 5),
      put(2, 'x', '3', [10, 20]),
      get(3, 'x', [30, 40], '3'),
      get(3, 'x', [50, 60], '2'),
    );
    assert.equal(verdict(h), 'linearizable');
  });

  it('ignores rejected ops and indeterminate reads', () => {
    const h = history(
      put(1, 'x', '1', [0, 10]),
      rejected(put(2, 'x', '2', [12, 14])),
      rejected(cas(2, 'x', '1', '3', [15, 16])),
      get(3, 'x', 17),
      get(4, 'x', [20, 30], '1'),
    );
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'linearizable');
    assert.equal(result.perKey[0]!.dropped, 3);
  });

  it('checks keys independently', () => {
    const h = history(
      put(1, 'x', '1', [0, 10]),
      put(2, 'y', '1', [0, 10]),
      get(3, 'x', [11, 12], '1'),
      get(3, 'y', [13, 14], '1'),
    );
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'linearizable');
    assert.deepEqual(
      result.perKey.map((r) => [r.key, r.verdict, r.ops]),
      [
        ['x', 'linearizable', 2],
        ['y', 'linearizable', 2],
      ],
    );
  });
});

describe('non-linearizable histories', () => {
  it('rejects a stale read after an acknowledged write, and says where', () => {
    const h = history(put(1, 'x', '1', [0, 10]), put(1, 'x', '2', [20, 30]), get(2, 'x', [40, 50], '1'));
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'not-linearizable');
    const failure = result.perKey[0]!.failure!;
    assert.equal(failure.stuck.id, 3);
    assert.deepEqual(
      failure.prefix.map((op) => op.id),
      [1, 2],
    );
    assert.equal(failure.valueAfterPrefix, '2');
    assert.equal(failure.lastChange?.id, 2);
    assert.deepEqual(
      failure.window.map((op) => op.id),
      [2, 3],
    );
    const text = renderCheckResult(result);
    assert.match(text, /not-linearizable/);
    assert.match(text, /get "x" -> "1"\s+<- cannot be linearized/);
    assert.match(text, /put "x" "2" -> ok\s+prefix #2: set the value/);
  });

  it('rejects a lost write', () => {
    const h = history(put(1, 'x', '1', [0, 10]), get(2, 'x', [20, 30], null));
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('rejects a lost update: two CASes from the same value both succeeding', () => {
    const h = history(
      put(1, 'x', '0', [0, 5]),
      cas(2, 'x', '0', '1', [10, 20]),
      cas(3, 'x', '0', '2', [12, 22]),
    );
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('rejects a CAS that succeeded although the value differed', () => {
    assert.equal(
      verdict(history(put(1, 'x', '1', [0, 10]), cas(2, 'x', '2', '3', [20, 30]))),
      'not-linearizable',
    );
    assert.equal(
      verdict(history(put(1, 'x', '1', [0, 10]), cas(2, 'x', null, '3', [20, 30]))),
      'not-linearizable',
    );
  });

  it('rejects a 409 although the value matched for the whole of its interval', () => {
    const h = history(put(1, 'x', '1', [0, 10]), cas(2, 'x', '1', '2', [20, 30], '409'));
    assert.equal(verdict(h), 'not-linearizable');
    const h2 = history(cas(2, 'x', null, '2', [20, 30], '409'));
    assert.equal(verdict(h2), 'not-linearizable');
  });

  it('does not let a failed CAS take effect', () => {
    const h = history(
      put(1, 'x', '1', [0, 10]),
      cas(2, 'x', '0', '2', [20, 30], '409'),
      get(3, 'x', [40, 50], '2'),
    );
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('does not let a rejected write take effect', () => {
    const h = history(rejected(put(1, 'x', '1', [0, 10])), get(2, 'x', [20, 30], '1'));
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('rejects a read of a value never written', () => {
    assert.equal(verdict(history(put(1, 'x', '1', [0, 10]), get(2, 'x', [5, 15], '7'))), 'not-linearizable');
  });

  it('does not let an indeterminate write take effect before it was invoked', () => {
    const h = history(get(1, 'x', [0, 10], '2'), put(2, 'x', '2', 20));
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('does not let an indeterminate write take effect twice', () => {
    const h = history(
      put(1, 'x', '2', 5),
      get(2, 'x', [10, 20], '2'),
      put(3, 'x', '3', [30, 40]),
      get(2, 'x', [50, 60], '2'),
    );
    assert.equal(verdict(h), 'not-linearizable');
  });

  it('rejects reads going back in time during a long write', () => {
    const h = history(put(1, 'x', '1', [0, 100]), get(2, 'x', [10, 20], '1'), get(3, 'x', [30, 40], null));
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'not-linearizable');
    assert.equal(result.perKey[0]!.failure!.stuck.id, 3);
  });

  it('rejects a delete that reported a key present when it was absent', () => {
    assert.equal(verdict(history(del(1, 'x', [0, 10], true))), 'not-linearizable');
  });

  it('reports the failing key among good ones', () => {
    const h = history(
      put(1, 'x', '1', [0, 10]),
      put(2, 'y', '1', [0, 10]),
      get(3, 'x', [11, 12], '1'),
      get(3, 'y', [13, 14], null),
    );
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'not-linearizable');
    assert.deepEqual(
      result.perKey.map((r) => r.verdict),
      ['linearizable', 'not-linearizable'],
    );
    assert.equal(result.perKey[1]!.failure!.key, 'y');
    assert.equal(result.failure, result.perKey[1]!.failure);
  });

  it('names concurrent ops that could not go first', () => {
    // Reads see 2 then 1 while both writes were already done: no order of the two writes works.
    const h = history(
      put(1, 'x', '1', [0, 10]),
      put(2, 'x', '2', [0, 10]),
      get(3, 'x', [20, 30], '2'),
      get(3, 'x', [40, 50], '1'),
      put(4, 'x', '3', 45),
    );
    const result = checkKvHistory(h);
    assert.equal(result.verdict, 'not-linearizable');
    const failure = result.perKey[0]!.failure!;
    assert.equal(failure.stuck.id, 4);
    assert.deepEqual(
      failure.pending.map((op) => op.id),
      [5],
    );
  });
});

describe('budget', () => {
  // Ten concurrent writes and reads, then a read nobody can explain: refuting it means trying
  // a great many orders of the first twenty ops.
  const hard = (key: string): Parameters<typeof history> => {
    const specs: Parameters<typeof history> = [];
    for (let i = 0; i < 10; i++) specs.push(put(`w${key}${i}`, key, String(i), [0, 100]));
    for (let i = 0; i < 10; i++) specs.push(get(`r${key}${i}`, key, [0, 100], String((i * 3) % 10)));
    specs.push(get(`late${key}`, key, [200, 300], 'never written'));
    return specs;
  };

  it('answers unknown, per key and overall, when a key runs out of steps', () => {
    const result = checkKvHistory(history(...hard('x'), put('p', 'y', '1', [0, 1])), { maxStepsPerKey: 500 });
    assert.equal(result.verdict, 'unknown');
    assert.deepEqual(
      result.perKey.map((r) => [r.key, r.verdict, r.unknownReason]),
      [
        ['x', 'unknown', 'step-limit'],
        ['y', 'linearizable', undefined],
      ],
    );
    assert.match(
      renderCheckResult(result),
      /key "x": unknown \(21 ops, 0 dropped, 500 steps, step-limit reached\)/,
    );
  });

  it('still reports a violation found in another key', () => {
    const result = checkKvHistory(history(...hard('x'), get('p', 'y', [0, 1], '1')), { maxStepsPerKey: 500 });
    assert.equal(result.verdict, 'not-linearizable');
  });

  it('answers unknown for the keys left when the time limit passes', () => {
    let clock = 0;
    const now = (): number => clock++;
    const result = checkKvHistory(history(...hard('x'), ...hard('y')), { timeLimitMs: 2, now });
    assert.equal(result.verdict, 'unknown');
    assert.deepEqual(
      result.perKey.map((r) => r.unknownReason),
      ['time-limit', 'time-limit'],
    );
  });
});

describe('input validation', () => {
  it('refuses histories whose processes overlap or continue after an indeterminate op', () => {
    assert.throws(
      () => checkKvHistory(history(put(1, 'x', '1', [0, 10]), put(1, 'x', '2', [5, 15]))),
      InvalidHistoryError,
    );
    assert.throws(
      () => checkKvHistory(history(put(1, 'x', '1', 0), put(1, 'x', '2', [5, 15]))),
      InvalidHistoryError,
    );
  });

  it('refuses completions before invocations and misplaced precondition flags', () => {
    assert.throws(() => checkKvHistory(history(put(1, 'x', '1', [10, 0]))), InvalidHistoryError);
    const bad: KvOp = {
      id: 1,
      process: 1,
      key: 'x',
      kind: 'put',
      value: '1',
      invokedAt: 0,
      completedAt: 1,
      outcome: { type: 'fail', precondition: true },
    };
    assert.throws(() => checkKvHistory([bad]), /only a cas can fail its precondition/);
  });
});
