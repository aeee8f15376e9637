// Decides whether a history of timed operations is linearizable with respect to a model.
//
// This is the Wing & Gong depth-first search for a legal sequential order that respects real
// time, with Lowe's improvements ("Testing for linearizability", 2017):
//
//  * Memoization. A configuration is the set of operations linearized so far plus the model
//    state they leave. Two paths reaching the same configuration have the same future, so each
//    configuration is explored once. The set is a bitset, hashed incrementally (Zobrist
//    hashing: one random word pair per op, XORed in and out) and compared exactly on a hash
//    hit, so a collision costs time but never changes the verdict.
//
//  * Just-in-time linearization. Events (calls, and returns of determinate ops) are walked in
//    time order. An op is only *forced* when its return is reached; at that point the search
//    tries the forced op first, and linearizes other pending ops (called but not yet linearized)
//    only when the forced op needs them first. Because ops are always chosen among those
//    pending, real-time order holds by construction: an op whose return was passed is
//    linearized before any op called later.
//
// Indeterminate ops (ret = Infinity) have no return event, so they are never forced: they are
// optional guesses, linearized only where some observation needs their effect. Guesses are
// what make refutations expensive (each one still pending may be placed almost anywhere), so
// three sound prunings keep them in check:
//   - a guess that leaves the state unchanged is never taken (it is the same as never happening);
//   - a guess whose effect the very next op cannot tell apart is not taken (see below);
//   - memoization uses dominance rather than equality: a configuration with the same state, the
//     same determinate ops and a subset of the guesses covers one with more guesses, since
//     the extra ones may simply never happen. Candidates are tried determinate-first so that
//     the configuration with fewer guesses is usually the one met first.
// The optional guesses still make refuting a long history with many pending indeterminate ops
// exponential in the worst case; the budget turns that into `unknown`.
//
// As in Knuth's dancing links, the time-ordered event list is a doubly linked list from which
// linearized ops are unlinked and relinked on backtracking; the pending ops are the call
// entries before the first remaining return entry.
//
// A budget bounds the work; when it runs out the answer is `unknown`, never a guess.

import { Prng } from '../random.js';
import type { Model, TimedOp } from './model.js';

export interface SearchBudget {
  /** Maximum number of model steps (attempts to linearize an op). Default: unlimited. */
  readonly maxSteps?: number;
  /** Give up when `now()` reaches this. Default: never. */
  readonly deadline?: number;
  /** The clock `deadline` is on. Default: performance.now (milliseconds). */
  readonly now?: () => number;
}

/**
 * Where the search got stuck: of the dead ends it met, the one whose prefix contains the most
 * completed (determinate) ops, and among those the fewest indeterminate ones.
 */
export interface Witness<S> {
  /** Ids of the longest linearizable prefix found, in linearization order. */
  readonly prefix: readonly number[];
  /** The model state after the prefix. */
  readonly state: S;
  /** Id of the last op in the prefix that changed the state, or null if none did. */
  readonly lastChange: number | null;
  /** Id of the op whose completion was reached but which could not be linearized after the prefix. */
  readonly stuck: number;
  /** Ids of the other ops pending then (invoked, not in the prefix): placing them first did not help. */
  readonly pending: readonly number[];
}

export type SearchResult<S> =
  | { readonly verdict: 'linearizable'; readonly steps: number; readonly linearization: readonly number[] }
  | { readonly verdict: 'not-linearizable'; readonly steps: number; readonly witness: Witness<S> }
  | { readonly verdict: 'unknown'; readonly steps: number; readonly reason: 'step-limit' | 'time-limit' };

interface Entry {
  readonly isCall: boolean;
  readonly op: number;
  readonly time: number;
  prev: Entry | null;
  next: Entry | null;
}

interface Frame<S> {
  /** The op linearized to leave this frame's configuration. */
  readonly op: number;
  readonly stateBefore: S;
  readonly cursor: Cursor;
}

/**
 * Iteration over the candidates of one configuration: the forced op, then the other pending
 * determinate ops, then the pending indeterminate ones (phases 0, 1, 2), each in call order.
 * Trying guesses last means a configuration is usually first reached without them, so the
 * variants reached with extra guesses are dominated (see `dominates`) and pruned.
 */
interface Cursor {
  readonly forced: number;
  phase: 0 | 1 | 2;
  next: Entry | null;
}

interface MemoEntry<S> {
  readonly bits: Uint32Array;
  readonly state: S;
}

/** How often (in steps) the clock is read. */
const CLOCK_EVERY = 256;

export function checkOperations<S, Op>(
  model: Model<S, Op>,
  ops: readonly TimedOp<Op>[],
  budget: SearchBudget = {},
): SearchResult<S> {
  const n = ops.length;
  const maxSteps = budget.maxSteps ?? Number.POSITIVE_INFINITY;
  const deadline = budget.deadline ?? Number.POSITIVE_INFINITY;
  const now = budget.now ?? (() => performance.now());

  // The event list, sorted by time. At equal times calls come first: an op that starts the
  // instant another completes is treated as concurrent with it, which never rejects a history
  // that a finer clock would accept.
  const calls: Entry[] = [];
  const returns: (Entry | null)[] = [];
  const entries: Entry[] = [];
  for (let i = 0; i < n; i++) {
    const o = ops[i]!;
    const call: Entry = { isCall: true, op: i, time: o.call, prev: null, next: null };
    calls.push(call);
    entries.push(call);
    if (o.ret === Number.POSITIVE_INFINITY) {
      returns.push(null);
    } else {
      const ret: Entry = { isCall: false, op: i, time: o.ret, prev: null, next: null };
      returns.push(ret);
      entries.push(ret);
    }
  }
  entries.sort((a, b) => a.time - b.time || Number(a.isCall ? 0 : 1) - (b.isCall ? 0 : 1) || a.op - b.op);
  const head: Entry = { isCall: false, op: -1, time: Number.NEGATIVE_INFINITY, prev: null, next: null };
  let last = head;
  for (const e of entries) {
    e.prev = last;
    last.next = e;
    last = e;
  }

  const unlink = (e: Entry): void => {
    e.prev!.next = e.next;
    if (e.next) e.next.prev = e.prev;
  };
  const relink = (e: Entry): void => {
    e.prev!.next = e;
    if (e.next) e.next.prev = e;
  };
  // Unlinked call-then-return and relinked in reverse, so every saved pointer stays valid.
  const lift = (i: number): void => {
    unlink(calls[i]!);
    const r = returns[i];
    if (r) unlink(r);
  };
  const unlift = (i: number): void => {
    const r = returns[i];
    if (r) relink(r);
    relink(calls[i]!);
  };

  // Linearized set: bitset plus its Zobrist hash.
  const bits = new Uint32Array(Math.ceil(n / 32));
  const zobrist = zobristTable(n);
  let h1 = 0;
  let h2 = 0;
  const determinateMask = new Uint32Array(bits.length);
  for (let i = 0; i < n; i++) if (returns[i]) determinateMask[i >>> 5]! |= 1 << (i & 31);
  // The hash covers determinate ops only, so that dominated configurations share a bucket.
  const toggle = (i: number): void => {
    bits[i >>> 5]! ^= 1 << (i & 31);
    if (returns[i]) {
      h1 ^= zobrist[2 * i]!;
      h2 ^= zobrist[2 * i + 1]!;
    }
  };
  const memo = new Map<string, MemoEntry<S>[]>();
  /** Records the current configuration; false if one dominating it was met before. */
  const remember = (state: S): boolean => {
    const key = `${h1}:${h2}:${model.hash(state)}`;
    const bucket = memo.get(key);
    if (bucket === undefined) {
      memo.set(key, [{ bits: bits.slice(), state }]);
      return true;
    }
    let kept = 0;
    for (const seen of bucket) {
      const same = model.equals(seen.state, state);
      if (same && dominates(seen.bits, bits, determinateMask)) return false;
      // What the new configuration dominates, it prunes from now on: drop it.
      if (!(same && dominates(bits, seen.bits, determinateMask))) bucket[kept++] = seen;
    }
    bucket.length = kept;
    bucket.push({ bits: bits.slice(), state });
    return true;
  };

  let remaining = 0; // determinate ops not yet linearized
  for (const r of returns) if (r) remaining++;
  const determinateTotal = remaining;

  /** The candidates of the current configuration; requires remaining > 0. */
  const cursorHere = (): Cursor => {
    let e = head.next;
    while (e?.isCall) e = e.next;
    return { forced: e!.op, phase: 0, next: null };
  };
  const nextCandidate = (c: Cursor): number => {
    if (c.phase === 0) {
      c.phase = 1;
      c.next = head.next;
      return c.forced;
    }
    for (;;) {
      while (c.next?.isCall) {
        const e = c.next;
        c.next = e.next;
        if (e.op !== c.forced && (returns[e.op] !== null) === (c.phase === 1)) return e.op;
      }
      if (c.phase === 2) return -1;
      c.phase = 2;
      c.next = head.next;
    }
  };

  const stack: Frame<S>[] = [];
  let state = model.init();
  let steps = 0;
  let witness: Witness<S> | null = null;
  let bestExplained = 0;
  let bestGuessed = 0;
  if (remaining === 0) return { verdict: 'linearizable', steps, linearization: [] };
  if (deadline < Number.POSITIVE_INFINITY && now() >= deadline) {
    return { verdict: 'unknown', steps, reason: 'time-limit' };
  }
  remember(state);
  let cursor = cursorHere();

  for (;;) {
    const i = nextCandidate(cursor);
    if (i < 0) {
      // Dead end: neither the forced op nor anything pending before it fits here.
      // Keep the dead end that explains the most completed ops, with the fewest indeterminate
      // ones taken to get there: those are the easiest to read.
      const explained = determinateTotal - remaining;
      const guessed = stack.length - explained;
      if (
        witness === null ||
        explained > bestExplained ||
        (explained === bestExplained && guessed < bestGuessed)
      ) {
        witness = describeDeadEnd(model, ops, stack, state, cursor, head);
        bestExplained = explained;
        bestGuessed = guessed;
      }
      const frame = stack.pop();
      if (frame === undefined) return { verdict: 'not-linearizable', steps, witness };
      unlift(frame.op);
      toggle(frame.op);
      if (returns[frame.op]) remaining++;
      state = frame.stateBefore;
      cursor = frame.cursor;
      continue;
    }

    steps++;
    if (steps > maxSteps) return { verdict: 'unknown', steps: steps - 1, reason: 'step-limit' };
    if (steps % CLOCK_EVERY === 0 && deadline < Number.POSITIVE_INFINITY && now() >= deadline) {
      return { verdict: 'unknown', steps, reason: 'time-limit' };
    }

    const result = model.step(state, ops[i]!.op);
    if (!result.ok) continue;
    const determinate = returns[i] !== null;
    // An indeterminate op that changes nothing is indistinguishable from one that never happened.
    if (!determinate && model.equals(result.nextState, state)) continue;
    // An indeterminate op is only worth linearizing if what follows can tell it happened. If op
    // i leaves the same state with or without the indeterminate op just before it, the path
    // without it (op i taken straight from the parent configuration, a sibling that the search
    // explores anyway) covers this one; skipping here stops runs of unobservable guesses from
    // multiplying configurations.
    const top = stack[stack.length - 1];
    if (top !== undefined && returns[top.op] === null) {
      steps++;
      const without = model.step(top.stateBefore, ops[i]!.op);
      if (without.ok && model.equals(without.nextState, result.nextState)) continue;
    }
    toggle(i);
    if (!remember(result.nextState)) {
      toggle(i);
      continue;
    }
    stack.push({ op: i, stateBefore: state, cursor });
    lift(i);
    state = result.nextState;
    if (determinate) remaining--;
    if (remaining === 0) {
      return { verdict: 'linearizable', steps, linearization: stack.map((f) => ops[f.op]!.id) };
    }
    cursor = cursorHere();
  }
}

function describeDeadEnd<S, Op>(
  model: Model<S, Op>,
  ops: readonly TimedOp<Op>[],
  stack: readonly Frame<S>[],
  state: S,
  cursor: Cursor,
  head: Entry,
): Witness<S> {
  let lastChange: number | null = null;
  let after = state;
  for (let k = stack.length - 1; k >= 0; k--) {
    const frame = stack[k]!;
    if (!model.equals(frame.stateBefore, after)) {
      lastChange = ops[frame.op]!.id;
      break;
    }
    after = frame.stateBefore;
  }
  const pending: number[] = [];
  for (let e = head.next; e?.isCall; e = e.next) {
    if (e.op !== cursor.forced) pending.push(ops[e.op]!.id);
  }
  return {
    prefix: stack.map((f) => ops[f.op]!.id),
    state,
    lastChange,
    stuck: ops[cursor.forced]!.id,
    pending,
  };
}

/**
 * Whether a configuration with linearized set `seen` covers one with set `set` (and the same
 * state): the same determinate ops, and a subset of its indeterminate ones. Any order that
 * completes `set` also completes `seen` (the extra indeterminate ops just never happen), so
 * once `seen` has been entered, exploring `set` cannot find anything new.
 */
function dominates(seen: Uint32Array, set: Uint32Array, determinate: Uint32Array): boolean {
  for (let k = 0; k < seen.length; k++) {
    const s = seen[k]!;
    const c = set[k]!;
    if ((s & ~c) !== 0 || (c & ~s & determinate[k]!) !== 0) return false;
  }
  return true;
}

/** Two pseudo-random 32-bit words per op, from a fixed seed so that runs are reproducible. */
function zobristTable(n: number): Int32Array {
  const table = new Int32Array(2 * n);
  const random = new Prng(0x9e3779b9);
  for (let k = 0; k < table.length; k++) table[k] = random.nextU32();
  return table;
}
