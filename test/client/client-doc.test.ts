// Goal: docs/client.md's quick start runs as written — the first ```js block, importing
// 'raftkv' as a user would (the package's own name resolves to it inside the repository) —
// against a cluster of its own.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCluster } from '../support/cluster.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

test("docs/client.md's quick start runs against a cluster", async (t) => {
  const doc = readFileSync(path.join(repo, 'docs', 'client.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code !== undefined, 'a ```js block in docs/client.md');
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  // Inside the package, so that `import ... from 'raftkv'` resolves to it.
  const file = path.join(repo, 'dist', `client-doc-${process.pid}.mjs`);
  writeFileSync(file, code);
  t.after(() => rmSync(file, { force: true }));
  const endpoints = ['n1', 'n2', 'n3'].map((id) => `127.0.0.1:${c.port(id)}`).join(',');
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    env: { ...process.env, RAFTKV_ENDPOINTS: endpoints },
    timeout: 60_000,
  });
  assert.match(stdout, /^blue 1 \d+$/m);
  assert.match(stdout, /^took it$/m);
  assert.match(stdout, /^holding jobs\/nightly\/[0-9a-f]+ token \d+$/m);
  assert.match(stdout, /^put config\/color blue$/m);
  assert.match(stdout, /^put config\/done yes$/m);
});
