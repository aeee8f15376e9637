// Goal: `raftkv cluster` plans N nodes whose command lines `raftkv start` accepts, with the
// ports, data dirs and pass-through flags the docs promise.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { childEnv, parseClusterCommand } from '../../src/cli/cluster-options.js';
import { defaultEndpoints } from '../../src/cli/kv-commands.js';
import { parseStartCommand } from '../../src/cli/start-options.js';

test('defaults: 3 nodes on 127.0.0.1:7001..7003, data in ./data/n1..n3, the client default endpoints', () => {
  const plan = parseClusterCommand([], {});
  assert.deepEqual(
    plan.nodes.map((n) => [n.id, n.port, n.url, n.dataDir]),
    [
      ['n1', 7001, 'http://127.0.0.1:7001', join('data', 'n1')],
      ['n2', 7002, 'http://127.0.0.1:7002', join('data', 'n2')],
      ['n3', 7003, 'http://127.0.0.1:7003', join('data', 'n3')],
    ],
  );
  assert.equal(plan.endpoints, defaultEndpoints);
});

test("each node's command line is a `raftkv start` command for that node", () => {
  const plan = parseClusterCommand(
    [
      '--nodes',
      '5',
      '--base-port',
      '9000',
      '--data-dir',
      'tmp/c',
      '--election-timeout',
      '600',
      '--log-format',
      'json',
      '--cluster-token',
      'dev',
    ],
    {},
  );
  assert.equal(plan.nodes.length, 5);
  for (const [i, node] of plan.nodes.entries()) {
    assert.equal(node.argv[0], 'start');
    const { options, stopWithStdin } = parseStartCommand(node.argv.slice(1), plan.env);
    assert.equal(options.id, `n${i + 1}`);
    assert.equal(options.dataDir, join('tmp', 'c', `n${i + 1}`));
    assert.deepEqual(options.cluster[options.id], { host: '127.0.0.1', port: 9000 + i });
    assert.equal(Object.keys(options.cluster).length, 5);
    assert.equal(options.electionTimeoutMs, 600);
    assert.equal(options.logFormat, 'json');
    assert.equal(options.clusterToken, 'dev');
    assert.equal(stopWithStdin, true);
  }
});

test('per-node variables of the environment are not passed to the nodes', () => {
  const env = childEnv({
    NODE_ID: 'x',
    CLUSTER: 'x',
    DATA_DIR: 'x',
    LISTEN: 'x',
    JOIN: 'x',
    ADVERTISE: 'x',
    PEER_IDS: 'x',
    PORT: '1',
    PATH: '/bin',
    RAFTKV_LOG_LEVEL: 'warn',
  });
  assert.deepEqual(env, { PATH: '/bin', RAFTKV_LOG_LEVEL: 'warn' });
  // A JOIN in the supervisor's environment would make every node refuse --cluster.
  const plan = parseClusterCommand([], { LISTEN: '0.0.0.0:1', JOIN: '127.0.0.1:9' });
  assert.equal(parseStartCommand(plan.nodes[1]!.argv.slice(1), plan.env).options.listen, undefined);
});

test('IPv6 host', () => {
  const plan = parseClusterCommand(['--host', '::1', '--nodes', '1'], {});
  assert.equal(plan.nodes[0]!.url, 'http://[::1]:7001');
  assert.deepEqual(parseStartCommand(plan.nodes[0]!.argv.slice(1), {}).options.cluster.n1, {
    host: '::1',
    port: 7001,
  });
});

test('usage errors, found before anything is spawned', () => {
  const cases: [string[], RegExp][] = [
    [['--nodes', '0'], /--nodes must be between 1 and 99/],
    [['--base-port', '65535', '--nodes', '3'], /--base-port must be between 1 and 65533/],
    [['--host', 'a b'], /--host/],
    [['--election-timeout', '10', '--heartbeat-interval', '100'], /at least 5 heartbeat intervals/],
    [['--read-mode', 'x'], /--read-mode/],
    [['--id', 'n1'], /unknown flag --id/],
    [['extra'], /unexpected argument/],
  ];
  for (const [argv, re] of cases) {
    assert.throws(
      () => parseClusterCommand(argv, {}),
      (e: unknown) => e instanceof UsageError && re.test(e.message),
      argv.join(' '),
    );
  }
});
