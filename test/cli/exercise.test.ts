// Goal: `raftkv exercise N` reads its command line strictly — a number that is an exercise, the
// flags it documents — and its supervisor file is required only when named.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { parseExerciseCommand } from '../../src/cli/exercise.js';

test('raftkv exercise N: the number, the endpoints, the supervisor file, --timeout, --json', () => {
  const d = parseExerciseCommand(['2'], {});
  assert.deepEqual(
    { n: d.n, endpoints: d.endpoints, supervisorFile: d.supervisorFile, waitMs: d.waitMs, json: d.json },
    {
      n: 2,
      endpoints: null,
      supervisorFile: { path: './data/supervisor.json', required: false },
      waitMs: 30_000,
      json: false,
    },
  );
  const full = parseExerciseCommand(
    [
      '3',
      '--endpoints',
      '127.0.0.1:9001,http://127.0.0.1:9002',
      '--supervisor',
      'x/s.json',
      '--timeout',
      '5s',
      '--json',
    ],
    {},
  );
  assert.deepEqual(full.endpoints, ['http://127.0.0.1:9001', 'http://127.0.0.1:9002']);
  assert.deepEqual(full.supervisorFile, { path: 'x/s.json', required: true });
  assert.equal(full.waitMs, 5000);
  assert.equal(full.json, true);
  assert.deepEqual(parseExerciseCommand(['1'], { RAFTKV_ENDPOINTS: '127.0.0.1:9005' }).endpoints, [
    'http://127.0.0.1:9005',
  ]);
});

test('raftkv exercise: usage errors name what is wrong', () => {
  for (const [argv, pattern] of [
    [[], /which exercise\? Give its number: 1, 2, 3, 4/],
    [['5'], /no exercise "5": there are 1, 2, 3, 4/],
    [['one'], /no exercise "one"/],
    [['1', '2'], /unexpected argument "2"/],
    [['1', '--timeout', '10'], /--timeout must be at least 1000 ms/],
    [['1', '--supervisor', ''], /--supervisor is empty/],
    [['1', '--endpoints', 'nohost'], /--endpoints/],
  ] as const) {
    assert.throws(
      () => parseExerciseCommand(argv, {}),
      (e: unknown) => e instanceof UsageError && pattern.test(e.message),
      argv.join(' '),
    );
  }
});
