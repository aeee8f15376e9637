// Goal: every command that talks to a node takes --token, --cacert, --cert and --key (and their
// RAFTKV_* variables), reads the files once when it starts, and refuses — as a usage error naming
// the flag or variable and the file — a file that is missing or not what it should be, and a
// --cert without --key or the reverse. What it parsed reaches the requests: the token and client
// certificate arrive at an https stand-in node, from the client commands, snapshot save, bench,
// cluster add and start --join's reads; start keeps them for the node's own calls; raftkv cluster
// --auth-file gives its nodes an admin's token, said by the user's name only.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { hashToken } from '../../src/auth/index.js';
import { runBench } from '../../src/bench/load.js';
import { jsonReport } from '../../src/bench/report.js';
import { parseEndpoints } from '../../src/cli/addresses.js';
import { type FlagDef, parseArgs, UsageError } from '../../src/cli/args.js';
import { parseBenchOptions } from '../../src/cli/bench-command.js';
import { parseClusterAddCommand } from '../../src/cli/cluster-add-options.js';
import { parseClusterCommand } from '../../src/cli/cluster-options.js';
import { connectionFlags, parseCredentials } from '../../src/cli/connection-options.js';
import { discoverCluster } from '../../src/cli/join.js';
import { parseClientCommand } from '../../src/cli/kv-commands.js';
import { runClientCommand } from '../../src/cli/kv-output.js';
import { parseSnapshotSave } from '../../src/cli/snapshot-options.js';
import { saveSnapshot } from '../../src/cli/snapshot-save.js';
import { parseStartCommand } from '../../src/cli/start-options.js';
import { commandInfo } from '../../src/cli/usage.js';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { runCli } from '../support/cli.js';
import { httpsStub } from '../support/https-stub.js';
import { makeTestCerts, opensslMissing, type TestCerts } from '../support/tls-certs.js';

const skip = (await opensslMissing()) ?? false;

const talkingToNodes = [
  'start',
  'cluster',
  'cluster add',
  'put',
  'get',
  'del',
  'list',
  'status',
  'member',
  'leader',
  'snapshot save',
  'bench',
];

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-conn-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** The client's flags for `certs`: the CA, and the client certificate and key. */
function tlsArgs(certs: TestCerts, withCert = true): string[] {
  return [
    '--cacert',
    certs.ca,
    ...(withCert ? ['--cert', certs.client.cert, '--key', certs.client.key] : []),
  ];
}

test('every command that talks to a node takes --token, --cacert, --cert and --key, with their variables', () => {
  for (const name of talkingToNodes) {
    const info = commandInfo(name);
    assert.ok(info, name);
    for (const want of connectionFlags) {
      const flag: FlagDef | undefined = info.flags.find((f) => f.name === want.name);
      assert.ok(flag, `raftkv ${name} --${want.name}`);
      assert.equal(flag.env, want.env, `raftkv ${name} --${want.name}'s variable`);
    }
  }
});

test('a file missing, unreadable or not PEM, and --cert without --key or the reverse: usage errors naming them', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const dir = await tempDir(t);
  const junk = path.join(dir, 'junk.pem');
  await writeFile(junk, 'not a certificate\n');
  const missing = path.join(dir, 'missing.pem');
  const parse =
    (argv: string[], env: Record<string, string> = {}) =>
    () =>
      parseCredentials(parseArgs(argv, connectionFlags), env);
  const usage = (message: RegExp) => (e: unknown) => e instanceof UsageError && message.test(e.message);
  assert.throws(parse(['--cacert', missing]), usage(/^--cacert: cannot read .*missing\.pem: no such file$/));
  assert.throws(parse([], { RAFTKV_CACERT: missing }), usage(/^RAFTKV_CACERT: cannot read .*missing\.pem/));
  assert.throws(parse(['--cacert', dir]), usage(/^--cacert: cannot read .*: it is a directory$/));
  assert.throws(parse(['--cacert', junk]), usage(/^--cacert .*junk\.pem: no PEM certificate in it$/));
  assert.throws(parse(['--cert', certs.client.cert]), usage(/^--cert needs --key/));
  assert.throws(parse([], { RAFTKV_KEY: certs.client.key }), usage(/^RAFTKV_KEY needs --cert/));
  assert.throws(
    parse(['--cert', certs.client.key, '--key', certs.client.key]),
    usage(/^--cert .*client-key\.pem: no PEM certificate in it$/),
  );
  assert.throws(parse(['--cert', certs.client.cert, '--key', junk]), usage(/^--key .*junk\.pem: /));
  assert.throws(
    parse(['--cert', certs.client.cert, '--key', certs.other.intruder.key]),
    usage(/^--key .*intruder-key\.pem: it is not the client certificate’s key$/),
  );
  assert.throws(parse(['--token', 'a b']), usage(/^--token must be printable ASCII/));

  // Read once, flags winning over the environment.
  const c = parse(tlsArgs(certs), { RAFTKV_CACERT: missing, RAFTKV_TOKEN: 'env-token-0123456789' })();
  assert.equal(c.token, 'env-token-0123456789');
  assert.deepEqual(c.tls?.ca, await readFile(certs.ca));
  assert.deepEqual(c.tls?.cert, await readFile(certs.client.cert));
  assert.deepEqual(parse([])(), {}, 'nothing given: nothing');

  // The same errors from every command's parser.
  for (const parseCommand of [
    (a: string[]) => parseClientCommand('get', ['k', ...a], {}),
    (a: string[]) => parseSnapshotSave(['b.snap', ...a], {}),
    (a: string[]) => parseBenchOptions(a, {}),
    (a: string[]) => parseClusterAddCommand(a, {}),
    (a: string[]) => parseClusterCommand(a, {}),
    (a: string[]) => parseStartCommand(['--id', 'n1', '--cluster', 'n1=127.0.0.1:7001', ...a], {}),
  ]) {
    assert.throws(() => parseCommand(['--cacert', missing]), usage(/^--cacert: cannot read/));
    assert.throws(() => parseCommand(['--key', certs.client.key]), usage(/^--key needs --cert/));
  }
});

test('the client commands over https: the CA, the client certificate and the token reach the node', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'optional' });
  const get = (argv: string[]) =>
    runClientCommand(parseClientCommand('get', ['k', '--endpoints', stub.url, ...argv], {}));
  const named = await get([...tlsArgs(certs), '--token', 'cli-token-0123456789']);
  assert.deepEqual(named, { out: 'client\n', err: '', code: 0 });
  assert.deepEqual(stub.seen.at(-1), {
    method: 'GET',
    path: '/kv/k',
    authorization: 'Bearer cli-token-0123456789',
    clientName: 'client',
  });
  assert.equal((await get(tlsArgs(certs, false))).out, 'anonymous\n');
  const untrusted = await get([]);
  assert.equal(untrusted.code, 1);
  assert.match(
    untrusted.err,
    /no endpoint answered: .*TLS: the node's certificate is not signed by a trusted CA/,
  );
  // A write refused at the handshake was not sent: a definite failure, not an unknown outcome.
  const put = await runClientCommand(parseClientCommand('put', ['k', 'v', '--endpoints', stub.url], {}));
  assert.equal(put.code, 1, put.err);
  // status asks every endpoint; its row says why.
  const status = await runClientCommand(parseClientCommand('status', ['--endpoints', stub.url], {}));
  assert.match(status.out, /TLS: /);
});

test('the built CLI: raftkv get over https with --cacert, a TLS error without it', { skip }, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'required' });
  const ok = await runCli(['get', 'k', '--endpoints', stub.url, ...tlsArgs(certs)]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'client\n');
  const noCa = await runCli(['get', 'k', '--endpoints', stub.url]);
  assert.equal(noCa.code, 1);
  assert.match(
    noCa.stderr,
    /^raftkv: no endpoint answered: 127\.0\.0\.1:\d+: TLS: the node's certificate is not signed by a trusted CA/,
  );
  const noCert = await runCli(['get', 'k', '--endpoints', stub.url, ...tlsArgs(certs, false)]);
  assert.equal(noCert.code, 1);
  assert.match(noCert.stderr, /TLS: the node requires a client certificate/);
  const badFile = await runCli(['get', 'k', '--endpoints', stub.url, '--cacert', `${certs.ca}.nope`]);
  assert.equal(badFile.code, 2);
  assert.match(badFile.stderr, /^raftkv get: --cacert: cannot read .*ca\.pem\.nope: no such file/);
});

test('snapshot save, start --join and bench send the token and client certificate over https', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'required' });
  const dir = await tempDir(t);
  const token = ['--token', 'admin-token-0123456789'];

  // snapshot save: the stand-in has no backup to give (404), but the request arrived as sent.
  const save = parseSnapshotSave(
    [path.join(dir, 'b.snap'), '--endpoints', stub.url, ...tlsArgs(certs), ...token],
    {},
  );
  await assert.rejects(
    saveSnapshot(save, () => {}),
    /404/,
  );
  assert.deepEqual(stub.seen.at(-1), {
    method: 'GET',
    path: '/admin/snapshot',
    authorization: 'Bearer admin-token-0123456789',
    clientName: 'client',
  });

  // start --join: the node's credentials are its own calls' and its join reads'.
  const start = parseStartCommand(
    ['--id', 'n2', '--listen', '127.0.0.1:7002', '--join', stub.url, ...tlsArgs(certs), ...token],
    {},
  );
  assert.equal(start.options.ownCalls?.token, 'admin-token-0123456789');
  assert.ok(start.options.ownCalls?.tls?.cert);
  assert.ok(start.join);
  const view = await discoverCluster(start.join, 5000);
  assert.equal(view.clusterId, 'stub-cluster');
  assert.equal(stub.seen.at(-1)?.path, '/cluster/members');
  assert.equal(stub.seen.at(-1)?.authorization, 'Bearer admin-token-0123456789');
  assert.equal(stub.seen.at(-1)?.clientName, 'client');

  // bench: https endpoints, the token on every request, and no credential in the report.
  const options = parseBenchOptions(
    ['--endpoints', stub.url, '--op', 'get', '--total', '20', '--clients', '2', ...tlsArgs(certs), ...token],
    {},
  );
  const { json: _json, ...benchOptions } = options;
  const result = await runBench(benchOptions);
  assert.equal(result.requests, 20, JSON.stringify(result.errors));
  assert.ok(
    stub.seen
      .slice(-20)
      .every((s) => s.authorization === 'Bearer admin-token-0123456789' && s.clientName === 'client'),
  );
  const report = JSON.stringify(jsonReport(result));
  assert.ok(!report.includes('admin-token') && !report.includes('PRIVATE KEY'), report);
  assert.throws(
    () => parseBenchOptions(['--target', 'etcd', ...token], {}),
    /--token goes with --target raftkv/,
  );
  assert.equal(parseBenchOptions(['--target', 'etcd'], { RAFTKV_TOKEN: 'x'.repeat(20) }).token, undefined);
});

test('cluster add hands its credentials to the node by environment: the token, and the files as absolute paths', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const relative = path.relative(process.cwd(), certs.ca);
  const req = parseClusterAddCommand(['--token', 'admin-token-0123456789', '--cacert', relative], {});
  assert.equal(req.credentials.token, 'admin-token-0123456789');
  assert.equal(req.env.RAFTKV_TOKEN, 'admin-token-0123456789');
  assert.equal(req.env.RAFTKV_CACERT, certs.ca);
  assert.ok(!req.passThrough.some((a) => a.includes('admin-token')), 'not on the command line');
  const join = parseStartCommand(
    ['--id', 'n4', '--listen', '127.0.0.1:7004', '--join', '127.0.0.1:7001'],
    req.env,
  );
  assert.equal(join.join?.credentials?.token, 'admin-token-0123456789');
  assert.ok(join.join?.credentials?.tls?.ca);

  // With the cluster's auth file: passed to the node, and its first admin's token used.
  const authFile = await writeAuthFile(t, [testUsers.writer, testUsers.admin]);
  const withAuth = parseClusterAddCommand(['--auth-file', authFile], {});
  assert.ok(withAuth.passThrough.includes(`--auth-file=${authFile}`));
  assert.equal(withAuth.credentials.token, testUsers.admin.token);
  assert.equal(withAuth.env.RAFTKV_TOKEN, testUsers.admin.token);
  assert.deepEqual(withAuth.notes, [
    `nodes' own calls use the token of user "admin" (the first admin of ${authFile})`,
  ]);
});

test('raftkv cluster --auth-file: the nodes get the file and an admin token for their own calls, named by user', async (t) => {
  const hashedAdmin = {
    name: 'hashed-admin',
    tokenHash: hashToken('hashed-admin-token-01234'),
    role: 'admin',
  };
  const file = await writeAuthFile(t, [
    testUsers.reader,
    hashedAdmin as unknown as typeof testUsers.admin,
    testUsers.admin,
  ]);
  const plan = parseClusterCommand(['--auth-file', file], {});
  assert.equal(plan.env.RAFTKV_TOKEN, testUsers.admin.token, 'the first admin whose token is in the clear');
  assert.equal(plan.credentials.token, testUsers.admin.token, 'the supervisor polls with it too');
  assert.deepEqual(plan.notes, [
    `nodes' own calls use the token of user "admin" (the first admin of ${file})`,
  ]);
  for (const node of plan.nodes) {
    assert.ok(node.argv.includes(`--auth-file=${file}`));
    assert.ok(!node.argv.some((a) => a.includes(testUsers.admin.token)), 'the token is in no command line');
    assert.equal(
      parseStartCommand(node.argv.slice(1), plan.env).options.ownCalls?.token,
      testUsers.admin.token,
    );
  }

  const given = parseClusterCommand(['--auth-file', file], { RAFTKV_TOKEN: 'hashed-admin-token-01234' });
  assert.equal(given.env.RAFTKV_TOKEN, 'hashed-admin-token-01234');
  assert.deepEqual(given.notes, [`nodes' own calls use the token of user "hashed-admin" (RAFTKV_TOKEN)`]);
  const reader = parseClusterCommand(['--auth-file', file, '--token', testUsers.reader.token], {});
  assert.match(reader.notes[0]!, /user "reader" \(--token\) \(role read, not admin: .* will be refused\)/);

  const noAdmin = await writeAuthFile(t, [testUsers.writer]);
  const none = parseClusterCommand([], { RAFTKV_AUTH_FILE: noAdmin });
  assert.equal(none.env.RAFTKV_TOKEN, undefined);
  assert.match(none.notes[0]!, /has no admin whose token is in the clear.*will be refused/);
  assert.ok(none.notes.every((n) => !n.includes(testUsers.writer.token)));

  assert.throws(
    () => parseClusterCommand(['--auth-file', `${file}.nope`], {}),
    /--auth-file: cannot read .*no such file/,
  );
  await writeFile(file, '{"users": []}');
  assert.throws(() => parseClusterCommand(['--auth-file', file], {}), /--auth-file .*: users is empty/);
  assert.deepEqual(parseClusterCommand([], {}).notes, [], 'without an auth file: nothing to say');
  assert.equal(parseEndpoints('https://127.0.0.1:7001')[0]?.url, 'https://127.0.0.1:7001');
});
