// Goal: every address form the CLI accepts parses to the right host and port, and every
// malformed one is a UsageError naming the flag.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clusterFromPeerIds,
  formatHostPort,
  parseCluster,
  parseEndpoints,
  parseHostPort,
} from '../../src/cli/addresses.js';
import { UsageError } from '../../src/cli/args.js';

test('host:port, [v6]:port, :port and default ports', () => {
  assert.deepEqual(parseHostPort('127.0.0.1:7001', 'x'), { host: '127.0.0.1', port: 7001 });
  assert.deepEqual(parseHostPort('node1:7001', 'x'), { host: 'node1', port: 7001 });
  assert.deepEqual(parseHostPort('[::1]:7001', 'x'), { host: '::1', port: 7001 });
  assert.deepEqual(parseHostPort(':7001', 'x', { allowEmptyHost: true }), { host: '0.0.0.0', port: 7001 });
  assert.deepEqual(parseHostPort('node2', 'x', { defaultPort: 3000 }), { host: 'node2', port: 3000 });
  assert.equal(formatHostPort({ host: '::1', port: 1 }), '[::1]:1');
  assert.equal(formatHostPort({ host: 'a', port: 1 }), 'a:1');
});

test('malformed addresses name the flag', () => {
  for (const bad of ['node1', ':7001', 'h:0', 'h:65536', 'h:x', '::1:7001', 'a b:1']) {
    assert.throws(
      () => parseHostPort(bad, '--listen'),
      (e: unknown) => e instanceof UsageError && e.message.startsWith('--listen'),
      bad,
    );
  }
});

test('cluster lists', () => {
  assert.deepEqual(parseCluster('n1=127.0.0.1:7001, n2=127.0.0.1:7002,'), {
    n1: { host: '127.0.0.1', port: 7001 },
    n2: { host: '127.0.0.1', port: 7002 },
  });
  assert.throws(() => parseCluster(''), /empty/);
  assert.throws(() => parseCluster('127.0.0.1:7001'), /not ID=HOST:PORT/);
  assert.throws(() => parseCluster('n1=a:1,n1=b:2'), /appears twice/);
  assert.throws(() => parseCluster('n1=a:1,n2=a:1'), /share the address a:1/);
  assert.throws(() => parseCluster('n/1=a:1'), /not a valid node id/);
  assert.deepEqual(Object.keys(parseCluster('n1=a:1,n1=a:1')), ['n1'], 'an exact repeat is harmless');
});

test("the seed's PEER_IDS: peers named by their host, port defaulting to PORT", () => {
  assert.deepEqual(clusterFromPeerIds('node1', 3000, 'node2:3000,node3'), {
    node1: { host: 'node1', port: 3000 },
    node2: { host: 'node2', port: 3000 },
    node3: { host: 'node3', port: 3000 },
  });
  assert.deepEqual(clusterFromPeerIds('node1', 3000, ''), { node1: { host: 'node1', port: 3000 } });
  assert.deepEqual(
    Object.keys(clusterFromPeerIds('node1', 3000, 'node1:3000,node2:3000')),
    ['node1', 'node2'],
    'listing itself among the peers is tolerated',
  );
  assert.throws(() => clusterFromPeerIds('node1', 3000, 'node1:4000'), /twice/);
});

test('endpoints', () => {
  assert.deepEqual(parseEndpoints('127.0.0.1:7001,http://h:2/, https://s:3'), [
    { label: '127.0.0.1:7001', url: 'http://127.0.0.1:7001' },
    { label: 'h:2', url: 'http://h:2' },
    { label: 's:3', url: 'https://s:3' },
  ]);
  assert.deepEqual(parseEndpoints('[::1]:7001'), [{ label: '[::1]:7001', url: 'http://[::1]:7001' }]);
  assert.throws(() => parseEndpoints(' , '), /--endpoints is empty/);
  assert.throws(() => parseEndpoints('h', 'RAFTKV_ENDPOINTS'), /^UsageError: RAFTKV_ENDPOINTS/);
});
