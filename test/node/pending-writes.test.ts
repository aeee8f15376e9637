// Goal: what raftkv_proposals_failed_total counts. A write waiting on its log index fails — and is
// counted once — when another leader's entry took its index, when leadership changes or the node
// stops (failAll), when a snapshot from the leader covers its index (failThrough), or when its
// deadline passes; a write that was applied is not a failure, even when the state machine refused
// it for want of space (a refusal, counted elsewhere).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ForwardFailedError, ShuttingDownError } from '../../src/api/errors.js';
import type { ApplyResult } from '../../src/kv/index.js';
import { PendingWrites } from '../../src/node/pending.js';
import type { Entry } from '../../src/raft/index.js';

const entry = (index: number, term: number): Entry => ({
  index,
  term,
  type: 'command',
  data: new Uint8Array(),
});
const put = (index: number): ApplyResult => ({
  kind: 'put',
  key: 'k',
  value: 'v',
  index,
  version: 1,
  createIndex: index,
  modIndex: index,
  replayed: false,
});

test('each failed write is counted once; applied ones, refused for space or not, are not', async () => {
  let failed = 0;
  const writes = new PendingWrites(() => failed++);
  const outcomes = [
    writes.wait(1, 2, 1000), // applied
    writes.wait(2, 2, 1000), // refused by the state machine for want of space
    writes.wait(3, 2, 1000), // overwritten by term 3's entry
    writes.wait(4, 2, 100), // past its deadline
    writes.wait(5, 2, 1000), // failed when the node stops
  ].map((p) => p.then(() => 'applied').catch((e: Error & { code?: string }) => e.code));
  writes.applied(entry(1, 2), put(1));
  writes.applied(entry(2, 2), {
    kind: 'no_space',
    key: 'k',
    index: 2,
    reason: 'quota',
    stateBytes: 10,
    quotaBytes: 10,
    alarms: [],
  });
  writes.applied(entry(3, 3), put(3));
  writes.sweep(500);
  writes.failAll(() => new ShuttingDownError('stopping'));
  assert.deepEqual(await Promise.all(outcomes), [
    'applied',
    'no_space',
    'leadership_lost',
    'timeout',
    'shutting_down',
  ]);
  assert.equal(failed, 3);
  assert.equal(writes.size, 0);
});

test('a snapshot from the leader fails the writes whose entries it covers, outcome unknown, and no others', async () => {
  let failed = 0;
  const writes = new PendingWrites(() => failed++);
  const settled = (p: Promise<unknown>) =>
    p.then(
      () => 'applied',
      (e: Error & { code?: string; definite?: boolean }) => `${e.code} definite=${e.definite}`,
    );
  const covered = [writes.wait(3, 2, 1000), writes.wait(5, 2, 1000)].map(settled);
  const after = settled(writes.wait(6, 2, 1000));
  writes.failThrough(5, () => new ForwardFailedError('in a snapshot'));
  assert.deepEqual(await Promise.all(covered), [
    'forward_failed definite=false',
    'forward_failed definite=false',
  ]);
  assert.equal(failed, 2);
  assert.equal(writes.size, 1, 'the write past the snapshot still waits');
  writes.applied(entry(6, 2), put(6));
  assert.equal(await after, 'applied');
  assert.equal(failed, 2);
});
