// Goal: the exercise numbers a request may name (src/api/exercises.ts) are the exercises there are.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exerciseNumbers } from '../../src/api/exercises.js';
import { exercises } from '../../src/exercise/index.js';

test('the API names exactly the exercises there are', () => {
  assert.deepEqual(
    exerciseNumbers,
    exercises.map((e) => e.n),
  );
});
