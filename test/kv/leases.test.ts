// Goal: the replicated lease table — ids from the log, keys tied and untied as etcd does, an
// end (revoke or expiry) deleting the keys at one index, an expiry that raced a renewal void.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Command, encodeCommand } from '../../src/kv/command.js';
import type { ApplyResult } from '../../src/kv/results.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';

function applier(sm: KvStateMachine) {
  return (cmd: Command): ApplyResult =>
    sm.apply({ term: 1, index: sm.lastApplied + 1, type: 'command', data: encodeCommand(cmd) });
}

describe('leases in the state machine', () => {
  it('ties keys to a lease and deletes them, in key order at one index, when it is revoked', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    assert.deepEqual(apply({ op: 'leaseGrant', ttl: 10 }), { kind: 'lease', id: 1, ttl: 10, index: 1 });
    const put = apply({ op: 'put', key: 'b', value: '1', lease: 1 });
    assert.equal(put.kind === 'put' && put.lease, 1);
    apply({ op: 'put', key: 'a', value: '2', lease: 1 });
    apply({ op: 'put', key: 'c', value: '3', lease: 1 });
    assert.deepEqual(sm.read('a'), {
      key: 'a',
      value: '2',
      version: 1,
      createIndex: 3,
      modIndex: 3,
      lease: 1,
    });
    // A put without the lease unties the key (etcd's rule); a delete unties it too.
    apply({ op: 'put', key: 'c', value: 'free' });
    assert.equal(sm.read('c')?.lease, undefined);
    apply({ op: 'put', key: 'd', value: '4', lease: 1 });
    apply({ op: 'delete', key: 'd' });
    assert.deepEqual(sm.lease(1)?.keys, ['a', 'b']);
    const ended = apply({ op: 'leaseRevoke', id: 1 });
    assert.deepEqual(ended, { kind: 'lease_ended', id: 1, expired: false, keys: ['a', 'b'], index: 8 });
    assert.equal(sm.get('a'), null);
    assert.equal(sm.get('b'), null);
    assert.equal(sm.get('c'), 'free');
    assert.equal(sm.lease(1), null);
    assert.deepEqual(
      [...sm.history.eventsFrom(8)].map((e) => `${e.type} ${e.key}`),
      ['delete a', 'delete b'],
    );
  });

  it('refuses writes naming a missing lease, with no idempotency record', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    assert.deepEqual(apply({ op: 'put', key: 'k', value: 'v', lease: 5, idempotencyKey: 'i' }), {
      kind: 'lease_not_found',
      id: 5,
      index: 1,
    });
    assert.equal(sm.get('k'), null);
    assert.equal(sm.lookupIdempotent('i'), null);
    assert.deepEqual(apply({ op: 'leaseKeepalive', id: 5 }), { kind: 'lease_not_found', id: 5, index: 2 });
    assert.deepEqual(apply({ op: 'leaseRevoke', id: 5 }), { kind: 'lease_not_found', id: 5, index: 3 });
  });

  it('applies an expiry only if the lease was not renewed after the renewal it counted from', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'leaseGrant', ttl: 1 }); // id 1, renewIndex 1
    apply({ op: 'put', key: 'lock', value: 'me', lease: 1 });
    apply({ op: 'leaseKeepalive', id: 1 }); // renewIndex 3
    // A leader's timer that started at the grant raced the keepalive: void.
    assert.deepEqual(apply({ op: 'leaseExpire', id: 1, renewIndex: 1 }), {
      kind: 'lease_kept',
      id: 1,
      index: 4,
    });
    assert.equal(sm.get('lock'), 'me');
    assert.equal(sm.lease(1)?.renewIndex, 3);
    assert.deepEqual(apply({ op: 'leaseExpire', id: 1, renewIndex: 3 }), {
      kind: 'lease_ended',
      id: 1,
      expired: true,
      keys: ['lock'],
      index: 5,
    });
    assert.equal(sm.get('lock'), null);
  });

  it('keeps leases and their keys through a snapshot', () => {
    const sm = new KvStateMachine();
    const apply = applier(sm);
    apply({ op: 'leaseGrant', ttl: 30 });
    apply({ op: 'leaseGrant', ttl: 60 });
    apply({ op: 'put', key: 'x', value: '1', lease: 2 });
    apply({ op: 'leaseKeepalive', id: 1 });
    const back = KvStateMachine.restore(sm.snapshot());
    assert.deepEqual(back.leaseRecords(), [
      { id: 1, ttl: 30, renewIndex: 4 },
      { id: 2, ttl: 60, renewIndex: 2 },
    ]);
    assert.deepEqual(back.lease(2)?.keys, ['x']);
    const ended = applier(back)({ op: 'leaseRevoke', id: 2 });
    assert.equal(ended.kind === 'lease_ended' && ended.keys.join(), 'x');
    assert.equal(back.get('x'), null);
  });
});
