// Goal: what raftkv_proposals_failed_total counts. A write waiting on its log index fails — and is
// counted once — when another leader's entry took its index, when leadership changes or the node
// stops (failAll), or when its deadline passes; a write that was applied is not a failure, even
// when the state machine refused it for want of space (a refusal, counted elsewhere).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ShuttingDownError } from '../../src/api/errors.js';
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
