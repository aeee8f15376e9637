// Goal: one rule for addresses and node ids across the layers: what formatHostPort writes (an
// IPv6 host in brackets) parseHostPort reads back — the server forwards writes to a leader at
// such an address, the node dials its peers there — and a node id the CLI takes the server takes.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatHostPort, isNodeId, parseHostPort } from '../../src/api/addresses.js';
import { checkNodeId } from '../../src/cli/addresses.js';

test('parseHostPort reads what formatHostPort writes, IPv6 included', () => {
  for (const a of [
    { host: '127.0.0.1', port: 7001 },
    { host: '::1', port: 7002 },
    { host: 'fe80::1:2', port: 65535 },
    { host: 'node_1.example', port: 1 },
  ]) {
    assert.deepEqual(parseHostPort(formatHostPort(a)), a);
  }
  for (const bad of [
    '',
    '7001',
    ':7001',
    'h:0',
    'h:65536',
    'h:70a',
    '::1:7001',
    '[::1]',
    '[]:1',
    'a b:1',
    'a/b:1',
    'a,b:1',
  ]) {
    assert.equal(parseHostPort(bad), null, bad);
  }
});

test('the CLI and the server agree on node ids', () => {
  assert.equal(isNodeId('n1'), true);
  assert.equal(isNodeId('a'.repeat(128)), true);
  assert.equal(isNodeId('a'.repeat(129)), false);
  assert.equal(isNodeId('-n'), false);
  assert.equal(isNodeId('n/1'), false);
  assert.throws(() => checkNodeId('a'.repeat(129), 'ID'), /not a valid node id/);
  assert.equal(checkNodeId('a'.repeat(128), 'ID'), 'a'.repeat(128));
});
