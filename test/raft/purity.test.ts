// Goal: the consensus core (src/raft/) and the state machine (src/kv/) stay pure — no clock, no
// timer, no randomness, no process state, no I/O — so that one seed and one input sequence always
// give the same outputs and the simulators can drive them. Time, randomness and logging come in
// through injected seams (RaftConfig's Random and Logger, the driver's ticks). This test fails as
// soon as someone reaches for one of them directly in those folders.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcRoot = fileURLToPath(new URL('../../../src/', import.meta.url));

/** What a pure module may not touch, and why it would break determinism. */
const forbidden: readonly (readonly [RegExp, string])[] = [
  [/\bDate\.now\b|\bnew Date\b/, 'the wall clock'],
  [/\bperformance\.now\b|\bprocess\.hrtime\b/, 'a clock'],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b|\bqueueMicrotask\b/, 'a timer'],
  [/\bMath\.random\b|\bcrypto\b|\brandomInt\b|\brandomUUID\b/, 'randomness of its own'],
  [/\bprocess\./, 'process state'],
  [/from ['"]node:|require\(/, 'a Node built-in (I/O)'],
  [/\bconsole\./, 'output of its own (use the injected Logger)'],
];

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** The code of a file without its comments, so a comment may name what the code may not use. */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1');
}

for (const folder of ['raft', 'kv']) {
  test(`src/${folder} uses no clock, timer, randomness, process state or I/O of its own`, () => {
    const files = sources(path.join(srcRoot, folder));
    assert.ok(files.length > 5, `found the sources of src/${folder}`);
    const found: string[] = [];
    for (const file of files) {
      const lines = code(readFileSync(file, 'utf8')).split('\n');
      lines.forEach((line, i) => {
        for (const [pattern, what] of forbidden) {
          if (pattern.test(line))
            found.push(`${path.relative(srcRoot, file)}:${i + 1}: ${what}: ${line.trim()}`);
        }
      });
    }
    assert.deepEqual(found, []);
  });
}

test('the check itself catches a forbidden call', () => {
  const sample = code("const t = Date.now(); // Date.now in a comment is fine\nimport fs from 'node:fs';");
  const hits = forbidden.filter(([p]) => sample.split('\n').some((l) => p.test(l))).map(([, w]) => w);
  assert.deepEqual(hits, ['the wall clock', 'a Node built-in (I/O)']);
});
