// Goal: raftkv is a package people install. The tarball `npm pack` makes holds the built library
// and CLI and no tests, benchmarks or source maps; publint and arethetypeswrong find nothing
// wrong with its entry points; installed into an empty directory from the tarball, `npx raftkv
// cluster` runs a cluster that elects a leader, and a plain .mjs file and a TypeScript file
// import the client (`raftkv`) and the Raft core (`raftkv/raft`) and use them.
//
// The tarball is packed with --ignore-scripts from the tree the test run has built (the
// `prepare` build would rewrite dist/ under the other tests).

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freeConsecutivePorts } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const repo = fileURLToPath(new URL('../../../', import.meta.url));
const bin = (name: string) => path.join(repo, 'node_modules', '.bin', name);

async function sh(file: string, args: readonly string[], cwd: string, timeoutMs = 180_000) {
  try {
    return await run(file, args, { cwd, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  } catch (e) {
    const err = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `${file} ${args.join(' ')} failed: ${err.message}\n${err.stdout ?? ''}\n${err.stderr ?? ''}`,
    );
  }
}

test('the packed tarball installs into an empty directory and works: CLI, client, core', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'raftkv-pack-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));

  // The tarball: only the library, the CLI, the docs and the licence.
  const packed = await sh('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], repo);
  const [info] = JSON.parse(packed.stdout) as { filename: string; files: { path: string }[] }[];
  const files = info!.files.map((f) => f.path);
  const tarball = path.join(dir, info!.filename);
  assert.ok(files.includes('dist/src/cli/main.js'));
  assert.ok(files.includes('dist/src/client/index.d.ts'));
  assert.ok(files.includes('LICENSE'));
  const stray = files.filter(
    (f) =>
      f.startsWith('dist/test/') || f.startsWith('dist/bench/') || f.endsWith('.map') || f.startsWith('src/'),
  );
  assert.deepEqual(stray, [], 'no tests, benchmarks, sources or source maps');

  // Its entry points, checked by the tools made for that, on the tarball's own contents.
  const unpacked = path.join(dir, 'unpacked');
  await sh('mkdir', ['-p', unpacked], dir);
  await sh('tar', ['-xzf', tarball, '-C', unpacked], dir);
  const lint = await sh(bin('publint'), [path.join(unpacked, 'package'), '--pack', 'false', '--strict'], dir);
  assert.match(lint.stdout, /All good/);
  // ESM only, for Node 20+: the CommonJS and node10 resolutions are not offered, on purpose.
  await sh(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], dir);

  // Installed into an empty project.
  const app = path.join(dir, 'app');
  await sh('mkdir', ['-p', app], dir);
  writeFileSync(
    path.join(app, 'package.json'),
    JSON.stringify({ name: 'app', private: true, type: 'module' }),
  );
  await sh('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', tarball], app, 300_000);
  assert.ok(readdirSync(path.join(app, 'node_modules', 'raftkv')).includes('package.json'));

  // `npx raftkv cluster` elects a leader.
  const basePort = await freeConsecutivePorts(3);
  const cluster: ChildProcess = spawn(
    'npx',
    ['raftkv', 'cluster', '--base-port', String(basePort), '--data-dir', path.join(app, 'data')],
    { cwd: app, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let output = '';
  cluster.stdout?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  cluster.stderr?.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = new Promise<void>((resolve) => cluster.on('exit', () => resolve()));
  t.after(async () => {
    if (cluster.exitCode === null && cluster.signalCode === null) {
      process.kill(-cluster.pid!, 'SIGTERM');
      await exited;
    }
  });

  // A plain .mjs file: the client writes and reads through the cluster the CLI started; the core
  // is there to embed.
  writeFileSync(
    path.join(app, 'use.mjs'),
    `import { Client } from 'raftkv';
import { RawNode, MemoryLogStorage, defaultRaftConfig, initialMembership } from 'raftkv/raft';
const client = new Client('127.0.0.1:${basePort}');
const put = await client.put('hello', 'world');
const got = await client.get('hello');
const random = { nextInt: (n) => Math.floor(Math.random() * n) };
const node = new RawNode({ ...defaultRaftConfig, id: 'a' }, new MemoryLogStorage(initialMembership(['a'])), random);
console.log(JSON.stringify({ index: put.index, value: got.value, role: node.status().role }));
`,
  );
  await waitFor(
    'the cluster elected a leader',
    async () => {
      const r = await fetch(`http://127.0.0.1:${basePort}/health`).catch(() => null);
      return r?.status === 200;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${output}`);
  });
  const used = await sh(process.execPath, ['use.mjs'], app);
  const result = JSON.parse(used.stdout) as { index: number; value: string; role: string };
  assert.equal(result.value, 'world');
  assert.ok(result.index > 0);
  assert.equal(result.role, 'follower');

  // A TypeScript file type-checks against the installed declarations.
  writeFileSync(
    path.join(app, 'use.ts'),
    `import { Client, type PutResult } from 'raftkv';
import { defaultRaftConfig, MemoryLogStorage, initialMembership, RawNode, type RaftConfig } from 'raftkv/raft';
const client: Client = new Client('127.0.0.1:1');
const put: Promise<PutResult> = client.put('k', 'v');
const config: RaftConfig = { ...defaultRaftConfig, id: 'a', electionTimeoutTicks: 10 };
const node = new RawNode(config, new MemoryLogStorage(initialMembership(['a'])), { nextInt: (n: number) => n - 1 });
export { put, node };
`,
  );
  writeFileSync(
    path.join(app, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        typeRoots: [path.join(repo, 'node_modules', '@types')],
        types: ['node'],
      },
      files: ['use.ts'],
    }),
  );
  await sh(bin('tsc'), ['-p', 'tsconfig.json'], app);

  process.kill(-cluster.pid!, 'SIGTERM');
  await exited;
});
