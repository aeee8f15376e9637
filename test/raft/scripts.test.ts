// Goal: the core's rules, one interaction script per thesis rule (test/raft/testdata/*.txt, format
// in script.ts): each prints the messages the rule produces and must match its golden output. A
// script that names a mutation (`# guards: <mutation>`) must also FAIL with that rule broken, so
// every golden trace is shown to guard what it says. Rewrite the outputs after an intended
// change with `RAFTKV_REWRITE=1 npm test` and read the diff.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Mutations } from '../../src/raft/index.js';
import { parseScript, printScript, runScript } from './script.js';

const dir = fileURLToPath(new URL('../../../test/raft/testdata/', import.meta.url));
const rewrite = process.env.RAFTKV_REWRITE === '1';

for (const name of readdirSync(dir)
  .filter((f) => f.endsWith('.txt'))
  .sort()) {
  const file = path.join(dir, name);
  const text = readFileSync(file, 'utf8');
  const header = /^(?:#.*\n|\s*\n)*/.exec(text)?.[0] ?? '';
  const guards = [...header.matchAll(/^# guards: (\w+)/gm)].map((m) => m[1] as keyof Mutations);
  const blocks = parseScript(text);

  test(`script ${name}`, () => {
    const actual = runScript(blocks);
    if (rewrite) {
      writeFileSync(file, printScript(blocks.map((b, i) => ({ ...b, actual: actual[i]! }))));
      return;
    }
    blocks.forEach((b, i) => {
      assert.equal(actual[i], b.expected, `${name}: output of "${b.command}"`);
    });
  });

  for (const mutation of guards) {
    test(`script ${name} fails with ${mutation}`, () => {
      const broken = runScript(blocks, mutation);
      assert.ok(
        blocks.some((b, i) => broken[i] !== b.expected),
        `${name} still passes with ${mutation}: it does not guard that rule`,
      );
    });
  }
}
