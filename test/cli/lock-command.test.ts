// Goal: `raftkv lock` parses NAME, --ttl and the COMMAND after "--", and refuses what it cannot use.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseLockCommand } from '../../src/cli/lock-command.js';

test('raftkv lock NAME [--ttl S] [-- COMMAND ...]', () => {
  const inv = parseLockCommand(['jobs', '--ttl', '5', '--', 'sh', '-c', 'echo $RAFTKV_LOCK_TOKEN'], {});
  assert.equal(inv.name, 'jobs');
  assert.equal(inv.ttl, 5);
  assert.deepEqual(inv.command, ['sh', '-c', 'echo $RAFTKV_LOCK_TOKEN']);
  assert.equal(inv.endpoints.length, 3, 'the local cluster by default');
  const hold = parseLockCommand(['jobs', '--endpoints', '127.0.0.1:9001'], {});
  assert.deepEqual(hold.command, []);
  assert.equal(hold.ttl, 10);
  assert.equal(hold.endpoints.length, 1);
  assert.throws(() => parseLockCommand([], {}), /missing NAME/);
  assert.throws(() => parseLockCommand(['', '--', 'true'], {}), /NAME must not be empty/);
  assert.throws(() => parseLockCommand(['jobs', '--ttl', '0'], {}), /--ttl/);
});
