// Goal: raftkv certs init and certs add take their arguments as docs/cli.md says, refuse wrong ones
// with one line naming the flag (exit 2), make the files, print the start flags of every node and
// the client's https usage, and refuse to overwrite without --force (exit 1, nothing written).

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { parseCertsAdd, parseCertsInit } from '../../src/cli/certs-options.js';
import type { Io } from '../../src/cli/io.js';
import { type CliDeps, runCli } from '../../src/cli/run.js';

const CLUSTER = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';

function capture(): Io & { stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return { out: (t) => (out += t), err: (t) => (err += t), stdout: () => out, stderr: () => err };
}

function deps(io: Io): CliDeps {
  const never = async (): Promise<never> => {
    throw new Error('not used by raftkv certs');
  };
  return {
    io,
    startNode: never,
    start: { onSignal: () => {}, onStdinClosed: () => {} },
    cluster: { onSignal: () => {}, command: ['false'], pollIntervalMs: 1000, gracePeriodMs: 1000 },
    kv: { send: never },
  };
}

async function raftkv(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const io = capture();
  const code = await runCli(argv, {}, deps(io));
  return { code, stdout: io.stdout(), stderr: io.stderr() };
}

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-certs-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('certs init: flags parsed; each mistake named', () => {
  const inv = parseCertsInit([
    '--cluster',
    'a=10.0.0.1:7001,b=[fd00::2]:7001,c=db.example:7001',
    '--out',
    'd',
  ]);
  assert.deepEqual(Object.keys(inv.cluster), ['a', 'b', 'c']);
  assert.equal(inv.cluster.b?.host, 'fd00::2');
  assert.deepEqual(
    { out: inv.outDir, days: inv.days, client: inv.clientName, force: inv.force },
    { out: 'd', days: 365, client: 'client', force: false },
  );
  const more = parseCertsInit([
    '--cluster',
    'a=h:1',
    '--out',
    'd',
    '--days',
    '30',
    '--client-name',
    'ops',
    '--force',
  ]);
  assert.deepEqual([more.days, more.clientName, more.force], [30, 'ops', true]);

  const cases: [string[], RegExp][] = [
    [['--out', 'd'], /: missing --cluster \(the nodes, ID=HOST:PORT,\.\.\.\)$/],
    [['--cluster', CLUSTER], /: missing --out \(the directory to write the files to\)$/],
    [['--cluster', 'n1', '--out', 'd'], /--cluster: "n1" is not ID=HOST:PORT/],
    [['--cluster', 'n1=h', '--out', 'd'], /--cluster: "h" has no port/],
    [
      ['--cluster', 'ca=h:1', '--out', 'd'],
      /--cluster: node id "ca" would overwrite the CA's files \(ca\.pem\)/,
    ],
    [['--cluster', 'client=h:1', '--out', 'd'], /would overwrite the client's files/],
    [['--cluster', 'n1=bad!host:1', '--out', 'd'], /--cluster n1: "bad!host" is not a host name/],
    [['--cluster', CLUSTER, '--out', 'd', '--days', '0'], /--days must be between 1 and 3650, got 0/],
    [['--cluster', CLUSTER, '--out', 'd', '--days', '3651'], /--days must be between 1 and 3650/],
    [['--cluster', CLUSTER, '--out', 'd', '--days', 'year'], /--days must be a whole number, got "year"/],
    [
      ['--cluster', CLUSTER, '--out', 'd', '--client-name='],
      /--client-name: the client name "" must be 1-64/,
    ],
    [['--cluster', CLUSTER, '--out', 'd', 'extra'], /unexpected argument "extra"/],
    [['--cluster', CLUSTER, '--out', 'd', '--host', 'h'], /unknown flag --host/],
    [['--cluster', CLUSTER, '--out'], /--out needs a value \(DIR\)/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseCertsInit(argv), message, argv.join(' '));
});

test('certs add: flags parsed; hosts repeated or comma-separated; each mistake named', () => {
  const inv = parseCertsAdd([
    '--ca-dir',
    'c',
    '--id',
    'n4',
    '--host',
    '10.0.0.4,n4.example',
    '--host',
    '[::2]',
  ]);
  assert.deepEqual(inv, {
    caDir: 'c',
    id: 'n4',
    hosts: ['10.0.0.4', 'n4.example', '::2'],
    outDir: 'c',
    days: 365,
    force: false,
  });
  assert.equal(parseCertsAdd(['--ca-dir', 'c', '--id', 'n4', '--host', 'h', '--out', 'o']).outDir, 'o');
  const cases: [string[], RegExp][] = [
    [['--id', 'n4', '--host', 'h'], /: missing --ca-dir \(the directory holding ca\.pem and ca-key\.pem\)$/],
    [['--ca-dir', 'c', '--host', 'h'], /: missing --id/],
    [['--ca-dir', 'c', '--id', 'n4'], /: missing --host \(where peers and clients reach n4\)$/],
    [['--ca-dir', 'c', '--id', 'n 4', '--host', 'h'], /--id: "n 4" is not a valid node id/],
    [['--ca-dir', 'c', '--id', 'ca', '--host', 'h'], /--id: node id "ca" would overwrite the CA's files/],
    [
      ['--ca-dir', 'c', '--id', 'n4', '--host', '10.0.0.4:7004'],
      /--host: "10\.0\.0\.4:7004" is neither .* without a port/,
    ],
    [['--ca-dir', 'c', '--id', 'n4', '--host', 'a..b'], /--host: "a\.\.b" is not a host name/],
    [['--ca-dir', 'c', '--id', 'n4', '--host', 'h', '--days', '-1'], /--days needs a value \(N\)/],
  ];
  for (const [argv, message] of cases) assert.throws(() => parseCertsAdd(argv), message, argv.join(' '));
});

test('raftkv certs init: the files, the start flags of every node, the client usage; no overwrite without --force', async (t) => {
  const dir = path.join(await tempDir(t), 'tls');
  const made = await raftkv('certs', 'init', '--cluster', CLUSTER, '--out', dir, '--days', '90');
  assert.equal(made.code, 0, made.stderr);
  assert.equal(made.stderr, '');
  const files = ['ca', 'ca-key', 'n1', 'n1-key', 'n2', 'n2-key', 'n3', 'n3-key', 'client', 'client-key'];
  assert.deepEqual((await readdir(dir)).sort(), files.map((f) => `${f}.pem`).sort());
  for (const f of files) assert.ok(made.stdout.includes(path.join(dir, `${f}.pem`)), `${f}.pem listed`);
  const f = (name: string): string => path.join(dir, name);
  for (const id of ['n1', 'n2', 'n3']) {
    const start = `  raftkv start --id ${id} --cluster ${CLUSTER} \\
      --cert-file ${f(`${id}.pem`)} --key-file ${f(`${id}-key.pem`)} --trusted-ca-file ${f('ca.pem')} --client-cert-auth \\
      --peer-cert-file ${f(`${id}.pem`)} --peer-key-file ${f(`${id}-key.pem`)} --peer-trusted-ca-file ${f('ca.pem')}\n`;
    assert.ok(made.stdout.includes(start), `start command of ${id}:\n${made.stdout}`);
  }
  const endpoints = 'https://127.0.0.1:7001,https://127.0.0.1:7002,https://127.0.0.1:7003';
  const clientFlags = `--cacert ${f('ca.pem')} --cert ${f('client.pem')} --key ${f('client-key.pem')}`;
  assert.ok(made.stdout.includes(`  raftkv get color --endpoints ${endpoints} \\\n      ${clientFlags}\n`));
  assert.ok(
    made.stdout.includes(`  raftkv put color blue --endpoints ${endpoints} \\\n      ${clientFlags}\n`),
  );
  assert.match(made.stdout, /node n2, for 127\.0\.0\.1, ::1, localhost/);
  const n1 = new X509Certificate(await readFile(f('n1.pem')));
  assert.ok(Math.abs(Date.parse(n1.validTo) - Date.now() - 90 * 86_400_000) < 60_000, '--days');

  const caBefore = await readFile(f('ca.pem'), 'utf8');
  const again = await raftkv('certs', 'init', '--cluster', CLUSTER, '--out', dir);
  assert.equal(again.code, 1);
  assert.match(
    again.stderr,
    /^raftkv certs init: .*ca\.pem, .* already exist: not overwriting \(--force overwrites\)\n$/,
  );
  assert.equal(again.stdout, '');
  assert.equal(await readFile(f('ca.pem'), 'utf8'), caBefore);
  const forced = await raftkv('certs', 'init', '--cluster', CLUSTER, '--out', dir, '--force');
  assert.equal(forced.code, 0, forced.stderr);
  assert.notEqual(await readFile(f('ca.pem'), 'utf8'), caBefore);
});

test('raftkv certs add: one more node with the same CA, and its flags; a missing CA is named', async (t) => {
  const dir = await tempDir(t);
  assert.equal((await raftkv('certs', 'init', '--cluster', CLUSTER, '--out', dir)).code, 0);
  const added = await raftkv('certs', 'add', '--ca-dir', dir, '--id', 'n4', '--host', '10.0.0.4');
  assert.equal(added.code, 0, added.stderr);
  assert.match(
    added.stdout,
    /^Wrote \S+n4\.pem \S+n4-key\.pem: node n4, for 10\.0\.0\.4, 127\.0\.0\.1, ::1, localhost;/,
  );
  assert.ok(added.stdout.includes(`--peer-cert-file ${path.join(dir, 'n4.pem')}`));
  const ca = new X509Certificate(await readFile(path.join(dir, 'ca.pem')));
  assert.ok(new X509Certificate(await readFile(path.join(dir, 'n4.pem'))).verify(ca.publicKey));

  const twice = await raftkv('certs', 'add', '--ca-dir', dir, '--id', 'n4', '--host', '10.0.0.4');
  assert.equal(twice.code, 1);
  assert.match(twice.stderr, /^raftkv certs add: .*n4\.pem, .*n4-key\.pem already exist/);

  const none = await raftkv('certs', 'add', '--ca-dir', path.join(dir, 'nope'), '--id', 'n5', '--host', 'h');
  assert.equal(none.code, 1);
  assert.match(none.stderr, /^raftkv certs add: cannot read the CA certificate .*nope\/ca\.pem: .*ENOENT/);
});

test('raftkv certs: usage errors exit 2 with the usage; help; the family named', async () => {
  const bad = await raftkv('certs', 'init', '--out', 'x');
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^raftkv certs init: missing --cluster .*\n\nUsage: raftkv certs init --cluster/);
  const help = await raftkv('certs', 'add', '--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: raftkv certs add --ca-dir DIR --id ID --host HOST/);
  const family = await raftkv('certs');
  assert.equal(family.code, 2);
  assert.match(family.stderr, /^raftkv: unknown command "certs": expected "raftkv certs init\|add"/);
  const general = await raftkv('help');
  assert.match(
    general.stdout,
    /\n {2}raftkv certs init +make a CA, a certificate per node and a client certificate/,
  );
});
