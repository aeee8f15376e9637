// Goal: the exercises say each node's read one way: narrated, a value quoted, an absence as
// "(absent)", a failure as "failed: " and what the API said, never quoted as if it were a value;
// in the report's observations, the value as it is.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { narratedReads, observedReads, type ReadOutcome } from '../../src/exercise/cluster-ops.js';

const reads = new Map<string, ReadOutcome>([
  ['n1', { value: 'value 20', failure: null }],
  ['n2', { value: null, failure: null }],
  ['n3', { value: null, failure: '503 no_leader (definite: true)' }],
]);

test('reads narrated: the value quoted, an absence and a failure as they are', () => {
  assert.equal(narratedReads(reads), 'n1 "value 20"; n2 (absent); n3 failed: 503 no_leader (definite: true)');
});

test('reads observed: the value as it is', () => {
  assert.deepEqual(observedReads(reads), {
    n1: 'value 20',
    n2: '(absent)',
    n3: 'failed: 503 no_leader (definite: true)',
  });
});
