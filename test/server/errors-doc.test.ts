// Goal: docs/errors.md and the status table in server/ list the same codes with the same HTTP
// statuses and definiteness, so the documentation cannot drift from the behaviour.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import type { RaftkvError } from '../../src/api/errors.js';
import * as errors from '../../src/api/errors.js';
import { httpStatusOf } from '../../src/server/status-map.js';

test('every error class is documented with its status and definiteness, and nothing else is', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const rows = new Map<string, { status: number; definite: boolean }>();
  for (const m of doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (yes|no) \|/gm)) {
    rows.set(m[1]!, { status: Number(m[2]), definite: m[3] === 'yes' });
  }
  const codes = new Set<string>();
  for (const [cls, status] of httpStatusOf) {
    // Instantiating through the abstract constructor type: every subclass takes a message first.
    const err = new (cls as unknown as new (message: string) => RaftkvError)('x');
    codes.add(err.code);
    const row = rows.get(err.code);
    assert.ok(row, `code ${err.code} missing from docs/errors.md`);
    assert.equal(row.status, status, `status of ${err.code}`);
    assert.equal(row.definite, err.definite, `definiteness of ${err.code}`);
  }
  assert.deepEqual([...rows.keys()].sort(), [...codes].sort(), 'docs list exactly the codes in the table');
});

test('every public error class has a status in the table (none falls through to 500)', () => {
  const mapped = new Set<unknown>(httpStatusOf.keys());
  const classes = Object.entries(errors).filter(
    ([name, value]) =>
      typeof value === 'function' && name !== 'RaftkvError' && value.prototype instanceof errors.RaftkvError,
  );
  assert.ok(classes.length >= 10, 'the error classes were found');
  for (const [name, cls] of classes)
    assert.ok(mapped.has(cls), `${name} has no HTTP status in status-map.ts`);
});
