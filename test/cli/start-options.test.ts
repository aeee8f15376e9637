// Goal: `raftkv start` reads flags, the environment and the seed's NODE_ID/PEER_IDS/PORT into the
// NodeOptions the API contract describes, with flags winning, and refuses bad input as usage errors.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import {
  parseStartCommand,
  parseStartOptions,
  startEnvNames,
  tuningFlags,
} from '../../src/cli/start-options.js';
import { resolveNodeOptions } from '../../src/node/options.js';

const cluster3 = 'n1=127.0.0.1:7001,n2=127.0.0.1:7002,n3=127.0.0.1:7003';

test("the API contract's example", () => {
  const o = parseStartOptions(['--id', 'n1', '--cluster', cluster3, '--data-dir', './data/n1'], {});
  assert.deepEqual(o, {
    id: 'n1',
    cluster: {
      n1: { host: '127.0.0.1', port: 7001 },
      n2: { host: '127.0.0.1', port: 7002 },
      n3: { host: '127.0.0.1', port: 7003 },
    },
    dataDir: './data/n1',
  });
  const l = parseStartOptions(['--id', 'n1', '--cluster', cluster3, '--listen', '0.0.0.0:7001'], {});
  assert.deepEqual(l.listen, { host: '0.0.0.0', port: 7001 });
  assert.equal(l.dataDir, './data/n1', 'the data dir defaults to ./data/<id>');
});

test('every tuning flag', () => {
  const o = parseStartOptions(
    [
      ...['--id', 'n1', '--cluster', cluster3],
      ...['--heartbeat-interval', '50', '--election-timeout', '1s', '--request-timeout=2500ms'],
      ...['--snapshot-every', '100', '--snapshot-catch-up-entries', '0', '--disk-stall-timeout', '700'],
      ...[
        '--read-mode',
        'lease',
        '--log-format',
        'json',
        '--log-level',
        'debug',
        '--cluster-token',
        'prod-1',
      ],
    ],
    {},
  );
  assert.equal(o.clusterToken, 'prod-1');
  assert.equal(o.heartbeatIntervalMs, 50);
  assert.equal(o.electionTimeoutMs, 1000);
  assert.equal(o.requestTimeoutMs, 2500);
  assert.equal(o.snapshotEvery, 100);
  assert.equal(o.snapshotCatchUpEntries, 0);
  assert.equal(o.diskStallMs, 700);
  assert.equal(o.readMode, 'lease');
  assert.equal(o.logFormat, 'json');
  assert.equal(o.logLevel, 'debug');
});

test('environment variables do what the flags do; flags win', () => {
  const env = { NODE_ID: 'n2', CLUSTER: cluster3, DATA_DIR: '/var/lib/raftkv', LISTEN: ':7002' };
  const o = parseStartOptions([], env);
  assert.equal(o.id, 'n2');
  assert.equal(o.dataDir, '/var/lib/raftkv');
  assert.deepEqual(o.listen, { host: '0.0.0.0', port: 7002 });
  assert.equal(Object.keys(o.cluster).length, 3);
  const f = parseStartOptions(['--id', 'n3', '--data-dir', 'd'], env);
  assert.equal(f.id, 'n3');
  assert.equal(f.dataDir, 'd');
  const t = parseStartOptions(['--log-level', 'warn'], {
    ...env,
    RAFTKV_ELECTION_TIMEOUT: '2000',
    RAFTKV_LOG_LEVEL: 'error',
  });
  assert.equal(t.electionTimeoutMs, 2000);
  assert.equal(parseStartOptions([], { ...env, CLUSTER_TOKEN: 'blue' }).clusterToken, 'blue');
  assert.equal(t.logLevel, 'warn');
});

test("the seed's form: NODE_ID=node1 PEER_IDS=node2:3000,node3:3000 PORT=3000", () => {
  const o = parseStartOptions([], { NODE_ID: 'node1', PEER_IDS: 'node2:3000,node3:3000', PORT: '3000' });
  assert.deepEqual(o, {
    id: 'node1',
    cluster: {
      node1: { host: 'node1', port: 3000 },
      node2: { host: 'node2', port: 3000 },
      node3: { host: 'node3', port: 3000 },
    },
    dataDir: './data/node1',
    listen: { host: '0.0.0.0', port: 3000 },
  });
  const d = parseStartOptions([], { NODE_ID: 'node2', PEER_IDS: 'node1,node3', DATA_DIR: '/data' });
  assert.deepEqual(d.cluster.node3, { host: 'node3', port: 3000 }, 'PORT defaults to the seed default 3000');
  assert.equal(d.dataDir, '/data');
  const l = parseStartOptions([], {
    NODE_ID: 'node1',
    PEER_IDS: 'node2:3000',
    PORT: '3000',
    LISTEN: 'node1:3000',
  });
  assert.deepEqual(l.listen, { host: 'node1', port: 3000 }, 'LISTEN still overrides');
  const c = parseStartOptions([], { NODE_ID: 'n1', CLUSTER: cluster3, PEER_IDS: 'x:1', PORT: '9' });
  assert.deepEqual(Object.keys(c.cluster), ['n1', 'n2', 'n3'], 'CLUSTER wins over the seed form');
  assert.equal(c.listen, undefined);
});

test('usage errors', () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [[], {}, /missing --id \(or NODE_ID\)/],
    [['--id', 'n1'], {}, /missing --cluster/],
    [['--id', 'n9', '--cluster', cluster3], {}, /"n9" is not one of the cluster's ids \(n1, n2, n3\)/],
    [[], { NODE_ID: 'n9', CLUSTER: cluster3 }, /^UsageError: NODE_ID "n9"/],
    [['--id', 'n1', '--cluster', cluster3, 'extra'], {}, /unexpected argument "extra"/],
    [
      ['--id', 'n1', '--cluster', cluster3, '--read-mode', 'fast'],
      {},
      /--read-mode must be one of safe, lease/,
    ],
    [['--id', 'n1', '--cluster', cluster3], { RAFTKV_LOG_FORMAT: 'xml' }, /RAFTKV_LOG_FORMAT must be one of/],
    [
      ['--id', 'n1', '--cluster', cluster3, '--heartbeat-interval', 'soon'],
      {},
      /--heartbeat-interval must be a duration/,
    ],
    [
      ['--id', 'n1', '--cluster', cluster3, '--snapshot-every', '0'],
      {},
      /--snapshot-every must be at least 1/,
    ],
    [[], { NODE_ID: 'node1', PORT: 'http' }, /PORT must be a whole number/],
    [
      ['--id', 'n1', '--cluster', cluster3, '--cluster-token', 'a b'],
      {},
      /--cluster-token must be 1-128 characters/,
    ],
    // The node's own checks come back as usage errors too.
    [
      ['--id', 'n1', '--cluster', cluster3, '--heartbeat-interval', '500'],
      {},
      /at least 5 heartbeat intervals/,
    ],
  ];
  for (const [argv, env, re] of cases) {
    assert.throws(
      () => parseStartOptions(argv, env),
      (e: unknown) => e instanceof UsageError && re.test(String(e)),
      `${argv.join(' ')} ${JSON.stringify(env)}`,
    );
  }
});

test('--stop-with-stdin is a CLI flag, not a node option', () => {
  const c = parseStartCommand(['--id', 'n1', '--cluster', cluster3, '--stop-with-stdin'], {});
  assert.equal(c.stopWithStdin, true);
  assert.equal(parseStartCommand(['--id', 'n1', '--cluster', cluster3], {}).stopWithStdin, false);
});

test("the usage's defaults are the node's defaults", () => {
  const r = resolveNodeOptions(parseStartOptions(['--id', 'n1', '--cluster', cluster3], {}));
  const shown = new Map(tuningFlags.map((f) => [f.name, f.default]));
  assert.equal(shown.get('heartbeat-interval'), String(r.heartbeatIntervalMs));
  assert.equal(shown.get('election-timeout'), String(r.electionTimeoutMs));
  assert.equal(shown.get('request-timeout'), String(r.requestTimeoutMs));
  assert.equal(shown.get('snapshot-every'), String(r.snapshotEvery));
  assert.equal(shown.get('snapshot-catch-up-entries'), String(r.snapshotCatchUpEntries));
  assert.equal(r.diskStallMs, r.electionTimeoutMs, 'disk stall timeout defaults to the election timeout');
  assert.equal(shown.get('read-mode'), r.readMode);
  assert.equal(shown.get('log-format'), r.logFormat);
  assert.equal(shown.get('log-level'), r.logLevel);
});

test('the environment variables start reads', () => {
  for (const name of ['NODE_ID', 'CLUSTER', 'DATA_DIR', 'LISTEN', 'PEER_IDS', 'PORT', 'CLUSTER_TOKEN']) {
    assert.ok(startEnvNames.includes(name), name);
  }
});

test('TLS flags: paths recorded, pairs enforced; a node serving HTTPS joins over https with its own files', () => {
  const file = new URL('../../../package.json', import.meta.url).pathname;
  const base = ['--id', 'n4', '--listen', '127.0.0.1:7004', '--join', '127.0.0.1:7001,http://127.0.0.1:7002'];
  const cmd = parseStartCommand(
    [...base, '--cert-file', file, '--key-file', file, '--trusted-ca-file', file],
    {},
  );
  assert.deepEqual(cmd.options.tls, { certFile: file, keyFile: file, trustedCaFile: file });
  // Without a scheme the members are taken to serve what this node serves; an explicit one stays.
  assert.deepEqual(
    cmd.join?.endpoints.map((e) => e.url),
    ['https://127.0.0.1:7001', 'http://127.0.0.1:7002'],
  );
  assert.ok(cmd.join?.credentials?.tls?.cert !== undefined, "the join's reads present the node certificate");
  assert.equal(parseStartCommand(base, {}).join?.endpoints[0]?.url, 'http://127.0.0.1:7001');
  const refused = (extra: string[], message: RegExp) =>
    assert.throws(
      () => parseStartCommand([...base, ...extra], {}),
      (e: unknown) => e instanceof UsageError && message.test(e.message),
    );
  refused(['--cert-file', file], /--cert-file and --key-file go together/);
  refused(
    ['--cert-file', file, '--key-file', file, '--client-cert-auth'],
    /--client-cert-auth needs --trusted-ca-file/,
  );
  refused(['--peer-cert-file', file], /go together \(peer TLS is always mutual\)/);
  refused(['--trusted-ca-file', file], /--trusted-ca-file needs --cert-file/);
});
