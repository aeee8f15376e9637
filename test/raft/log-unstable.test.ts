// Goal: the unstable tail of the log (log-unstable.ts) — what the core holds and the driver has
// not yet made durable — rule by rule: appends extend it; an append that starts inside or before
// it replaces everything from its first index on (a new leader's conflicting entries); entries
// leave it once durable, but only if they are still the ones that were persisted; a snapshot from
// the leader replaces it. Then the same rules against a reference model: a plain map from index
// to term, over random histories.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Entry, Snapshot } from '../../src/raft/index.js';
import { initialMembership } from '../../src/raft/index.js';
import { UnstableLog } from '../../src/raft/log-unstable.js';

const e = (index: number, term: number): Entry => ({ index, term, type: 'noop', data: new Uint8Array(0) });
/** Entries first, first+1, ... with the given terms. */
const run = (first: number, ...terms: number[]): Entry[] => terms.map((t, i) => e(first + i, t));
const snap = (index: number, term: number): Snapshot => ({
  meta: { index, term, membership: initialMembership(['n1']) },
  data: new Uint8Array(0),
});
const termsOf = (u: UnstableLog): string => u.entries.map((x) => `${x.index}/t${x.term}`).join(' ');

test('an empty tail knows no index: the log asks storage', () => {
  const u = new UnstableLog(6);
  assert.equal(u.maybeFirstIndex(), null);
  assert.equal(u.maybeLastIndex(), null);
  assert.equal(u.maybeTerm(5), null);
  assert.equal(u.maybeTerm(6), null);
});

test('an append after the last entry extends the tail', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1));
  u.truncateAndAppend(run(8, 2));
  assert.equal(termsOf(u), '6/t1 7/t1 8/t2');
  assert.equal(u.offset, 6);
  assert.equal(u.maybeLastIndex(), 8);
  assert.equal(u.maybeTerm(7), 1);
  assert.equal(u.maybeTerm(9), null);
  u.truncateAndAppend([]);
  assert.equal(termsOf(u), '6/t1 7/t1 8/t2', 'nothing to append changes nothing');
});

test('an append starting inside the tail replaces everything from its first index on', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1, 1, 1));
  u.truncateAndAppend(run(8, 3));
  assert.equal(termsOf(u), '6/t1 7/t1 8/t3', 'the conflicting 8/t1 and 9/t1 are gone');
  assert.equal(u.maybeLastIndex(), 8);
});

test('an append starting at or before the offset replaces the whole tail and moves the offset back', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1));
  u.truncateAndAppend(run(4, 2, 2));
  // Entries 4 and 5 are in storage from an earlier term: they are replaced when these persist.
  assert.equal(u.offset, 4);
  assert.equal(termsOf(u), '4/t2 5/t2');
  assert.equal(u.maybeLastIndex(), 5, '6 and 7 are gone with the old tail');
  u.truncateAndAppend(run(4, 3));
  assert.equal(termsOf(u), '4/t3', 'starting exactly at the offset replaces it all too');
});

test('entries leave the tail once durable', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1, 2));
  u.stableTo(7, 1);
  assert.equal(u.offset, 8);
  assert.equal(termsOf(u), '8/t2');
  assert.equal(u.maybeTerm(7), null, 'the log now finds 7 in storage');
  u.stableTo(8, 2);
  assert.equal(termsOf(u), '');
  assert.equal(u.offset, 9);
  assert.equal(u.maybeLastIndex(), null);
});

test('a persisted entry that was replaced meanwhile stays: only the same index and term leave', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1));
  // The driver persists 6..7 of term 1; meanwhile a new leader replaces 7 with a term-2 entry.
  u.truncateAndAppend(run(7, 2));
  u.stableTo(7, 1);
  assert.equal(termsOf(u), '6/t1 7/t2', 'the term-2 entry is not yet durable');
  assert.equal(u.offset, 6);
  // Reports below the offset or past the end are ignored too.
  u.stableTo(5, 1);
  u.stableTo(9, 2);
  assert.equal(termsOf(u), '6/t1 7/t2');
});

test('a snapshot from the leader replaces the tail; the log starts after it until it is durable', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 1));
  u.restore(snap(20, 3));
  assert.equal(termsOf(u), '');
  assert.equal(u.offset, 21);
  assert.equal(u.maybeFirstIndex(), 21);
  assert.equal(u.maybeLastIndex(), 20);
  assert.equal(u.maybeTerm(20), 3, 'the snapshot’s last entry keeps its term');
  assert.equal(u.maybeTerm(19), null);
  // Entries after the snapshot append as usual; the snapshot still gives the first index.
  u.truncateAndAppend(run(21, 3));
  assert.equal(u.maybeLastIndex(), 21);
  assert.equal(u.maybeFirstIndex(), 21);
  // A durable report for another snapshot index leaves it; the right one clears it.
  u.stableSnapTo(19);
  assert.notEqual(u.snapshot, null);
  u.stableSnapTo(20);
  assert.equal(u.snapshot, null);
  assert.equal(u.maybeFirstIndex(), null, 'storage knows the first index now');
  assert.equal(u.maybeTerm(20), null);
});

test('slices come from the tail, and one reaching outside it is a bug', () => {
  const u = new UnstableLog(6);
  u.truncateAndAppend(run(6, 1, 2, 2, 3));
  assert.equal(
    u
      .slice(7, 9)
      .map((x) => x.index)
      .join(','),
    '7,8',
  );
  assert.deepEqual(u.slice(8, 8), []);
  assert.throws(() => u.slice(5, 7), /out of range/);
  assert.throws(() => u.slice(9, 11), /out of range/);
});

// ---------------------------------------------------------------------------------------------
// Against a reference model.

type Op =
  | { kind: 'append'; from: number; terms: number[] }
  | { kind: 'stable'; at: number; sameTerm: boolean }
  | { kind: 'snapshot'; ahead: number; term: number }
  | { kind: 'snapshotDurable'; exact: boolean }
  | { kind: 'slice'; lo: number; len: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      // Where the append starts, counted back from just past the last index.
      from: fc.nat(6),
      terms: fc.array(fc.integer({ min: 1, max: 9 }), { minLength: 1, maxLength: 5 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('stable' as const), at: fc.nat(8), sameTerm: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('snapshot' as const),
      ahead: fc.nat(5),
      term: fc.integer({ min: 1, max: 9 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('snapshotDurable' as const), exact: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('slice' as const), lo: fc.nat(6), len: fc.nat(4) }) },
);

test('against a model (index → term): append replaces from its first index, durable entries leave, snapshots reset', () => {
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 10 }), fc.array(op, { maxLength: 60 }), (start, ops) => {
      const u = new UnstableLog(start);
      // The model: the tail as a map from index to term, where it starts, and a pending snapshot.
      let tail = new Map<number, number>();
      let offset = start;
      let pending: { index: number; term: number } | null = null;
      const last = (): number => offset + tail.size - 1;

      for (const o of ops) {
        switch (o.kind) {
          case 'append': {
            // Anywhere from just past the last index back to the offset, or before it into the
            // stored entries — but never into a pending snapshot.
            const lowest = pending ? offset : Math.max(1, offset - 3);
            const from = Math.max(lowest, last() + 1 - o.from);
            u.truncateAndAppend(run(from, ...o.terms));
            if (from <= offset) {
              tail = new Map();
              offset = from;
            } else {
              for (const i of [...tail.keys()]) if (i >= from) tail.delete(i);
            }
            for (const [k, t] of o.terms.entries()) tail.set(from + k, t);
            break;
          }
          case 'stable': {
            const at = offset - 2 + o.at;
            const held = tail.get(at) ?? (pending?.index === at ? pending.term : undefined);
            const term = o.sameTerm && held !== undefined ? held : 99;
            u.stableTo(at, term);
            // Durable entries leave only if the tail still holds that very entry.
            if (tail.get(at) === term) {
              for (const i of [...tail.keys()]) if (i <= at) tail.delete(i);
              offset = at + 1;
            }
            break;
          }
          case 'snapshot': {
            const index = last() + o.ahead;
            if (index < 1) break;
            u.restore(snap(index, o.term));
            pending = { index, term: o.term };
            tail = new Map();
            offset = index + 1;
            break;
          }
          case 'snapshotDurable': {
            const index: number = pending === null ? 1 : pending.index + (o.exact ? 0 : 1);
            u.stableSnapTo(index);
            if (pending?.index === index) pending = null;
            break;
          }
          case 'slice': {
            const lo = offset + o.lo;
            const hi = lo + o.len;
            if (hi > last() + 1) {
              assert.throws(() => u.slice(lo, hi), /out of range/);
            } else {
              assert.deepEqual(
                u.slice(lo, hi).map((x) => x.term),
                Array.from({ length: hi - lo }, (_, k) => tail.get(lo + k)),
              );
            }
            break;
          }
        }
        // The implementation agrees with the model on every question the log asks it.
        assert.equal(u.offset, offset);
        assert.deepEqual(
          u.entries.map((x) => [x.index, x.term]),
          [...tail.entries()].sort((a, b) => a[0] - b[0]),
          'the tail holds exactly the model’s entries, contiguous from the offset',
        );
        assert.equal(u.maybeFirstIndex(), pending ? pending.index + 1 : null);
        assert.equal(u.maybeLastIndex(), tail.size > 0 ? last() : (pending?.index ?? null));
        for (let i = offset - 3; i <= last() + 2; i++) {
          const expected = tail.get(i) ?? (pending?.index === i ? pending.term : null);
          assert.equal(u.maybeTerm(i), expected, `term of ${i}`);
        }
      }
    }),
  );
});
