// Goal: the lease keeper (src/node/lease-keeper.ts) proposes an expiry only once a lease's time
// has run out by this node's own deadline — never before, exactly once per renewal while one is in
// flight, again if it failed — and counts from what this node applied: a follower's deadlines are
// the ones it acts on when it leads, a renewal applied after the timer started voids the expiry
// through the real state machine, and a restored state machine counts every lease from then.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { type ApplyResult, type Command, encodeCommand, KvStateMachine } from '../../src/kv/index.js';
import { DeadlineHeap } from '../../src/node/deadline-heap.js';
import { LeaseKeeper } from '../../src/node/lease-keeper.js';

/** A state machine and a keeper fed with what it applies, on a fake clock. */
class Replica {
  readonly sm = new KvStateMachine();
  readonly keeper: LeaseKeeper;
  now = 0;

  constructor(maxPerCheck?: number) {
    this.keeper = new LeaseKeeper(maxPerCheck);
  }

  apply(cmd: Command): ApplyResult {
    const index = this.sm.lastApplied + 1;
    const result = this.sm.apply({ index, term: 1, type: 'command', data: encodeCommand(cmd) });
    this.keeper.applied(result, this.now);
    return result;
  }

  grant(ttl: number): number {
    const r = this.apply({ op: 'leaseGrant', ttl });
    assert.equal(r.kind, 'lease');
    return r.index;
  }
}

test('no expiry is proposed before the deadline; one is, once it has passed', () => {
  const r = new Replica();
  r.now = 1000;
  const id = r.grant(5);
  for (const t of [1000, 3000, 5999]) assert.deepEqual(r.keeper.due(t), [], `nothing due at ${t}`);
  assert.equal(r.keeper.remainingMs(id, 5999), 1);
  assert.deepEqual(r.keeper.due(6000), [{ id, renewIndex: id }]);
  assert.equal(r.keeper.remainingMs(id, 7000), 0, 'never negative');
  assert.equal(r.keeper.remainingMs(id + 1, 7000), null, 'unknown lease');
});

test('one expiry in flight per lease and renewal; a failed one is due again, an applied one is not', () => {
  const r = new Replica();
  const id = r.grant(1);
  const p = r.keeper.due(1000);
  assert.deepEqual(p, [{ id, renewIndex: id }]);
  assert.deepEqual(r.keeper.due(1100), [], 'in flight: not proposed again');
  assert.equal(r.keeper.expiriesInFlight, 1);
  r.keeper.settled(p[0]!, true, 1200);
  const again = r.keeper.due(1300);
  assert.deepEqual(again, [{ id, renewIndex: id }], 'failed (e.g. leadership lost): proposed again');
  // This time it commits: the state machine ends the lease, and the keeper forgets it.
  const ended = r.apply({ op: 'leaseExpire', ...again[0]! });
  assert.equal(ended.kind, 'lease_ended');
  r.keeper.settled(again[0]!, false, 1400);
  assert.deepEqual(r.keeper.due(100_000), []);
  assert.equal(r.keeper.size, 0);
  assert.equal(r.keeper.expiriesInFlight, 0);
});

test('a keepalive applied after the timer started makes its expiry void, in the state machine', () => {
  const r = new Replica();
  const id = r.grant(2);
  r.now = 2000;
  const [p] = r.keeper.due(r.now);
  assert.deepEqual(p, { id, renewIndex: id });
  // The client's keepalive was in the log before the expiry the leader just proposed.
  r.now = 2005;
  const renewed = r.apply({ op: 'leaseKeepalive', id });
  assert.equal(renewed.kind, 'lease');
  const expiry = r.apply({ op: 'leaseExpire', id: p!.id, renewIndex: p!.renewIndex });
  assert.deepEqual(expiry, { kind: 'lease_kept', id, index: 3 });
  assert.notEqual(r.sm.lease(id), null, 'the lease lives on');
  r.keeper.settled(p!, false, 2010);
  // Its new deadline counts from the keepalive's apply.
  assert.deepEqual(r.keeper.due(4004), []);
  assert.deepEqual(r.keeper.due(4005), [{ id, renewIndex: renewed.index }]);
});

test('a keepalive applied while an expiry is in flight: the new renewal gets its own', () => {
  const r = new Replica();
  const id = r.grant(1);
  const [old] = r.keeper.due(1000);
  r.now = 1000;
  const renewed = r.apply({ op: 'leaseKeepalive', id });
  // The old proposal is still unanswered when the new deadline passes.
  assert.deepEqual(r.keeper.due(2000), [{ id, renewIndex: renewed.index }]);
  r.keeper.settled(old!, true, 2000);
  assert.deepEqual(r.keeper.due(2100), [], 'the stale failure does not queue it twice');
});

test("a follower's deadlines are the ones it acts on when it becomes leader (no reset)", () => {
  const follower = new Replica();
  const a = follower.grant(10);
  follower.now = 4000;
  const b = follower.grant(10);
  // As a follower it only keeps its deadlines current (the driver calls advance, never due).
  for (let t = 0; t <= 10_000; t += 100) follower.keeper.advance(t);
  // Elected at 10 s: lease a ran out at 10 s by its own count, b runs out at 14 s.
  assert.deepEqual(follower.keeper.due(10_000), [{ id: a, renewIndex: a }]);
  assert.deepEqual(follower.keeper.due(13_999), []);
  assert.deepEqual(follower.keeper.due(14_000), [{ id: b, renewIndex: b }]);
});

test('a restored state machine: every lease counts its full TTL from the restore', () => {
  const source = new Replica();
  const a = source.grant(3);
  const b = source.grant(60);
  source.now = 1000;
  source.apply({ op: 'leaseKeepalive', id: a });
  const restored = KvStateMachine.restore(source.sm.snapshot());
  const keeper = new LeaseKeeper();
  keeper.restored(restored.leaseRecords(), 50_000);
  assert.equal(keeper.size, 2);
  assert.equal(keeper.remainingMs(a, 50_000), 3000);
  assert.equal(keeper.remainingMs(b, 50_000), 60_000);
  assert.deepEqual(keeper.due(52_999), []);
  // The expiry carries the renewal the snapshot recorded (the keepalive at index 3).
  assert.deepEqual(keeper.due(53_000), [{ id: a, renewIndex: 3 }]);
  // Restoring again (a snapshot from the leader) drops what was in flight and starts over.
  keeper.restored(restored.leaseRecords(), 60_000);
  assert.equal(keeper.expiriesInFlight, 0);
  assert.deepEqual(keeper.due(62_999), []);
});

test('each check proposes at most its bound, oldest first; the rest follow at the next checks', () => {
  const r = new Replica(1000);
  const ids: number[] = [];
  for (let i = 0; i < 2500; i++) {
    r.now = i;
    ids.push(r.grant(1));
  }
  const first = r.keeper.due(5000);
  assert.equal(first.length, 1000);
  assert.deepEqual(
    first.map((p) => p.id),
    ids.slice(0, 1000),
  );
  assert.equal(r.keeper.due(5100).length, 1000);
  assert.equal(r.keeper.due(5200).length, 500);
  assert.equal(r.keeper.due(5300).length, 0);
});

test('a lease renewed many times expires once, at the deadline of its last renewal', () => {
  const r = new Replica();
  const id = r.grant(1_000_000);
  let last = id;
  for (let i = 0; i < 20_000; i++) {
    r.now = i;
    last = r.apply({ op: 'leaseKeepalive', id }).index;
  }
  assert.deepEqual(r.keeper.due(19_999 + 999_999_999), []);
  assert.deepEqual(r.keeper.due(19_999 + 1_000_000_000), [{ id, renewIndex: last }]);
});

test('the deadline heap pops in deadline order', () => {
  fc.assert(
    fc.property(
      fc.array(fc.oneof(fc.integer({ min: 0, max: 1000 }), fc.constant(-1)), { maxLength: 200 }),
      (ops) => {
        const heap = new DeadlineHeap();
        const model: number[] = [];
        for (const op of ops) {
          if (op >= 0) {
            heap.push({ deadline: op, id: op, renewIndex: 0 });
            model.push(op);
            model.sort((x, y) => x - y);
          } else {
            assert.equal(heap.pop()?.deadline, model.shift());
          }
          assert.equal(heap.size, model.length);
          assert.equal(heap.peek()?.deadline, model[0]);
        }
      },
    ),
  );
});
