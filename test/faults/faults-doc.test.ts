// Goal: docs/faults.md's client example runs as written — its ```js block, importing 'raftkv' as
// a user would (the package's own name resolves to it inside the repository) — against a cluster
// of its own started with fault injection on, and does what it says: the leader isolated, a new
// one elected that takes the write, the isolated node's write refused, the heal caught up.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { startCluster } from '../support/cluster.js';

const repo = fileURLToPath(new URL('../../../', import.meta.url));

test("docs/faults.md's client example runs against a cluster with --enable-faults", async (t) => {
  const doc = readFileSync(path.join(repo, 'docs', 'faults.md'), 'utf8');
  const code = /```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(code !== undefined, 'a ```js block in docs/faults.md');
  const c = await startCluster(t, { size: 3, enableFaults: true });
  await c.waitForLeader();
  const file = path.join(repo, 'dist', `faults-doc-${process.pid}.mjs`);
  writeFileSync(file, code);
  t.after(() => rmSync(file, { force: true }));
  const endpoints = c.ids.map((id) => `127.0.0.1:${c.port(id)}`).join(',');
  const { stdout } = await promisify(execFile)(process.execPath, [file], {
    env: { ...process.env, RAFTKV_ENDPOINTS: endpoints },
    timeout: 90_000,
  });
  const isolated = /^isolated (n\d) new leader (n\d)$/m.exec(stdout);
  assert.ok(isolated !== null && isolated[1] !== isolated[2], stdout);
  assert.match(stdout, /^write through the isolated node failed: (leadership_lost|no_leader|timeout)$/m);
  assert.match(stdout, /^healed: green$/m);
  assert.match(
    stdout,
    /^faults now: \{"dropTo":\[\],"dropFrom":\[\],"isolate":false,"paused":false,"diskDelayMs":0,"messageDelayMs":0\}$/m,
  );
});
