// Goal: the layers hold by construction. The node runtime (src/node/), the HTTP server
// (src/server/) and the metrics (src/metrics/) know each other only through the ports in src/api/
// (the service interface, the metrics ports and the public errors); the one place that wires them
// is the composition root, src/app/. The core and
// the state machine import none of the layers above them, and the API client (src/client/) none but
// src/api/. This test fails when an import crosses.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const srcRoot = fileURLToPath(new URL('../../../src/', import.meta.url));

/** Folder → the src/ folders it must not import. */
const forbidden: Readonly<Record<string, readonly string[]>> = {
  api: ['node', 'server', 'app', 'cli', 'storage', 'transport', 'raft', 'kv'],
  raft: ['node', 'server', 'app', 'cli', 'storage', 'transport', 'kv', 'api'],
  kv: ['node', 'server', 'app', 'cli', 'storage', 'transport', 'api'],
  node: ['server', 'app', 'cli', 'metrics'],
  server: ['node', 'app', 'cli', 'raft', 'storage', 'transport', 'metrics'],
  // The metrics know the node and the server only through the ports in src/api/metrics.ts.
  metrics: ['node', 'server', 'app', 'cli', 'raft', 'storage', 'transport', 'kv'],
  // Users and tokens are a library the server and the composition root use; it uses none of them.
  auth: ['api', 'node', 'server', 'app', 'cli', 'storage', 'transport', 'raft', 'kv', 'metrics', 'client'],
  // The client of the HTTP API knows the API (src/api/) and nothing else of raftkv.
  client: ['node', 'server', 'app', 'cli', 'storage', 'transport', 'raft', 'kv', 'jepsen', 'bench', 'check'],
};

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) => {
    const p = path.join(dir, d.name);
    if (d.isDirectory()) return sources(p);
    return d.name.endsWith('.ts') ? [p] : [];
  });
}

/** The src/ paths a file imports (relative imports only: packages and node: are not layers). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  return [...text.matchAll(/(?:from|import)\s*\(?\s*['"](\.[^'"]+)['"]/g)].map((m) =>
    path.relative(srcRoot, path.resolve(path.dirname(file), m[1]!)),
  );
}

test('the scan sees imports (the composition root wires node/ and server/)', () => {
  const seen = importsOf(path.join(srcRoot, 'app', 'start-node.ts')).map((t) => t.split(path.sep)[0]);
  assert.ok(seen.includes('node') && seen.includes('server'), seen.join(', '));
});

for (const [folder, banned] of Object.entries(forbidden)) {
  test(`src/${folder} imports none of ${banned.map((b) => `src/${b}`).join(', ')}`, () => {
    const crossing: string[] = [];
    for (const file of sources(path.join(srcRoot, folder))) {
      for (const target of importsOf(file)) {
        if (banned.includes(target.split(path.sep)[0]!))
          crossing.push(`${path.relative(srcRoot, file)} imports ${target}`);
      }
    }
    assert.deepEqual(crossing, []);
  });
}
