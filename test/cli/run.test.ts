// Goal: `raftkv` dispatches to its commands, prints usage for help and for mistakes (exit 2), and
// `raftkv start` runs a node until a signal, stops it, and reports start failures in one line.

import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { RaftkvNode } from '../../src/app/start-node.js';
import type { Io } from '../../src/cli/io.js';
import { type CliDeps, runCli } from '../../src/cli/run.js';
import type { NodeOptions } from '../../src/node/options.js';
import { CorruptionError } from '../../src/storage/errors.js';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    stdout: () => out,
    stderr: () => err,
  };
}

interface FakeNode {
  node: RaftkvNode;
  stopCalls: number;
  /** Ends `stopped` as a fatal error would. */
  die: () => void;
}

function fakeNode(options: NodeOptions): FakeNode {
  let end: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    end = resolve;
  });
  const f: FakeNode = {
    stopCalls: 0,
    die: () => end(),
    node: {
      id: options.id,
      address: options.cluster[options.id]!,
      stopped,
      fatalError: null,
      removed: false,
      reloadAuth: async () => false,
      reloadTls: async () => false,
      stop: async () => {
        f.stopCalls++;
        end();
      },
    },
  };
  return f;
}

function deps(
  io: Io,
  over: Partial<{
    startNode: (o: NodeOptions) => Promise<RaftkvNode>;
    signal: (h: (s: string) => void) => void;
  }> = {},
): CliDeps {
  return {
    io,
    startNode: async () =>
      over.startNode ??
      (async () => {
        throw new Error('startNode should not be called');
      }),
    start: { onSignal: over.signal ?? (() => {}), onStdinClosed: () => {} },
    cluster: { onSignal: () => {}, command: ['false'], pollIntervalMs: 1000, gracePeriodMs: 1000 },
    kv: {
      send: async () => {
        throw new Error('no network in this test');
      },
    },
  };
}

test('help: no arguments, help, --help, help COMMAND, COMMAND --help', async () => {
  for (const argv of [[], ['help'], ['--help'], ['-h']]) {
    const io = capture();
    assert.equal(await runCli(argv, {}, deps(io)), 0);
    assert.match(io.stdout(), /^raftkv: a replicated key-value store on Raft\n\nUsage:\n {2}raftkv start/);
  }
  for (const argv of [
    ['help', 'put'],
    ['put', '--help'],
    ['put', 'k', '-h'],
  ]) {
    const io = capture();
    assert.equal(await runCli(argv, {}, deps(io)), 0);
    assert.match(io.stdout(), /^Usage: raftkv put KEY VALUE/);
    assert.equal(io.stderr(), '');
  }
  const io = capture();
  assert.equal(await runCli(['version'], {}, deps(io)), 0);
  assert.match(io.stdout(), /^raftkv \d+\.\d+\.\d+/);
});

test('a command of two words (cluster add): its own help and usage errors; the first word alone is still its command', async () => {
  const general = capture();
  assert.equal(await runCli(['help'], {}, deps(general)), 0);
  assert.match(general.stdout(), /\n {2}raftkv cluster add +run one more node/);
  for (const argv of [
    ['help', 'cluster', 'add'],
    ['cluster', 'add', '--help'],
    ['cluster', 'add', '--id', 'n9', '-h'],
  ]) {
    const io = capture();
    assert.equal(await runCli(argv, {}, deps(io)), 0, argv.join(' '));
    assert.match(io.stdout(), /^Usage: raftkv cluster add \[--endpoints/);
    assert.match(io.stdout(), /Stopping it does not remove the member: raftkv member remove ID does\./);
  }
  for (const argv of [
    ['help', 'cluster'],
    ['cluster', '--help'],
  ]) {
    const io = capture();
    assert.equal(await runCli(argv, {}, deps(io)), 0);
    assert.match(io.stdout(), /^Usage: raftkv cluster \[--nodes 3\]/);
  }
  const bad = capture();
  assert.equal(await runCli(['cluster', 'add', '--nodes', '5'], {}, deps(bad)), 2);
  assert.match(bad.stderr(), /^raftkv cluster add: unknown flag --nodes\n\nUsage: raftkv cluster add /);
  const extra = capture();
  assert.equal(await runCli(['cluster', 'add', 'n4'], {}, deps(extra)), 2);
  assert.match(extra.stderr(), /^raftkv cluster add: unexpected argument "n4"/);
  const other = capture();
  assert.equal(await runCli(['cluster', 'grow'], {}, deps(other)), 2);
  assert.match(other.stderr(), /^raftkv cluster: unexpected argument "grow"/);
});

test('mistakes: one line on stderr, then the usage, exit 2', async () => {
  const io = capture();
  assert.equal(await runCli(['frobnicate'], {}, deps(io)), 2);
  assert.match(io.stderr(), /^raftkv: unknown command "frobnicate"\n\nraftkv: a replicated/);
  const io2 = capture();
  assert.equal(await runCli(['start', '--id', 'n1', '--bogus'], {}, deps(io2)), 2);
  assert.match(io2.stderr(), /^raftkv start: unknown flag --bogus\n\nUsage: raftkv start /);
  assert.equal(io2.stdout(), '');
  const io3 = capture();
  assert.equal(await runCli(['get'], {}, deps(io3)), 2);
  assert.match(io3.stderr(), /^raftkv get: missing KEY\n/);
  const io4 = capture();
  assert.equal(await runCli(['cluster', '--nodes', 'many'], {}, deps(io4)), 2);
  assert.match(io4.stderr(), /^raftkv cluster: --nodes must be a whole number/);
  const io5 = capture();
  assert.equal(await runCli(['help', 'nope'], {}, deps(io5)), 2);
  // A family of commands named alone, or with a wrong second word, lists its members.
  for (const argv of [['snapshot'], ['snapshot', 'take']]) {
    const io6 = capture();
    assert.equal(await runCli(argv, {}, deps(io6)), 2);
    assert.match(
      io6.stderr(),
      new RegExp(
        `^raftkv: unknown command "${argv.join(' ')}": expected "raftkv snapshot save\\|status\\|restore"\n`,
      ),
    );
  }
  const io7 = capture();
  assert.equal(await runCli(['snapshot', 'restore', 'f.snap', '--id', 'n1'], {}, deps(io7)), 2);
  assert.match(
    io7.stderr(),
    /^raftkv snapshot restore: missing --cluster\n\nUsage: raftkv snapshot restore FILE/,
  );
});

test('a client command with nothing reachable exits 1 with one line', async () => {
  const io = capture();
  assert.equal(await runCli(['get', 'k', '--endpoints', 'a:1'], {}, deps(io)), 1);
  assert.equal(io.stderr(), 'raftkv: no endpoint answered: a:1: no network in this test\n');
});

async function withDataDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'raftkv-cli-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const cluster = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';

test('start: runs the node until SIGTERM, stops it, exits 0; creates the data dir', async () => {
  await withDataDir(async (dir) => {
    const io = capture();
    let fake: FakeNode | undefined;
    let signal: (s: string) => void = () => {};
    let listening!: () => void;
    const handlerInstalled = new Promise<void>((r) => {
      listening = r;
    });
    const dataDir = join(dir, 'nested', 'n1');
    const code = runCli(
      ['start', '--id', 'n1', '--cluster', cluster, '--data-dir', dataDir],
      {},
      deps(io, {
        startNode: async (o) => {
          assert.equal(o.dataDir, dataDir);
          fake = fakeNode(o);
          return fake.node;
        },
        signal: (h) => {
          signal = h;
          listening();
        },
      }),
    );
    await handlerInstalled;
    signal('SIGTERM');
    assert.equal(await code, 0);
    assert.equal(fake?.stopCalls, 1);
    assert.match(io.stderr(), /raftkv: SIGTERM: stopping node n1/);
  });
});

test('start: a node that stops on its own exits 1', async () => {
  await withDataDir(async (dir) => {
    const io = capture();
    const code = await runCli(
      ['start', '--id', 'n1', '--cluster', cluster, '--data-dir', dir],
      {},
      deps(io, {
        startNode: async (o) => {
          const f = fakeNode(o);
          f.die();
          return f.node;
        },
      }),
    );
    assert.equal(code, 1);
    assert.match(io.stderr(), /node n1 stopped: see the log above/);
  });
});

test('start: failures to start are one clear line and exit 1', async () => {
  const failures: [unknown, RegExp][] = [
    [
      Object.assign(new Error('listen EADDRINUSE: address already in use 127.0.0.1:7001'), {
        code: 'EADDRINUSE',
      }),
      /address 127.0.0.1:7001 is already in use/,
    ],
    [
      new CorruptionError('wal/0001.log', 4096, 'bad checksum'),
      /data in .* is corrupt; refusing to start: corrupt wal\/0001.log at byte 4096: bad checksum/,
    ],
    [new Error('something else'), /cannot start node n1: something else$/m],
  ];
  for (const [err, re] of failures) {
    await withDataDir(async (dir) => {
      const io = capture();
      const code = await runCli(
        ['start', '--id', 'n1', '--cluster', cluster, '--data-dir', dir],
        {},
        deps(io, {
          startNode: async () => {
            throw err;
          },
        }),
      );
      assert.equal(code, 1);
      assert.match(io.stderr(), re);
      assert.equal(io.stderr().trimEnd().split('\n').length, 1, 'one line');
    });
  }
});
