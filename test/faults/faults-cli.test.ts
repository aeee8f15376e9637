// Goal: `--enable-faults` reaches the node: `raftkv start` turns it into the node option,
// `raftkv cluster` and `raftkv cluster add` pass it to every node they run (and only when given),
// and the usage text lists it for all three.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseClusterAddCommand } from '../../src/cli/cluster-add-options.js';
import { parseClusterCommand } from '../../src/cli/cluster-options.js';
import { parseStartOptions } from '../../src/cli/start-options.js';
import { commands } from '../../src/cli/usage.js';

const start = ['--id', 'n1', '--cluster', 'n1=127.0.0.1:7001'];

test('raftkv start --enable-faults sets the node option; without it, nothing', () => {
  assert.equal(parseStartOptions([...start, '--enable-faults'], {}).enableFaults, true);
  assert.equal(parseStartOptions(start, {}).enableFaults, undefined);
});

test('raftkv cluster and cluster add pass --enable-faults to their nodes when given', () => {
  const on = parseClusterCommand(['--enable-faults', '--nodes', '3'], {});
  for (const n of on.nodes) {
    assert.ok(n.argv.includes('--enable-faults'), n.argv.join(' '));
    assert.equal(parseStartOptions(n.argv.slice(1), {}).enableFaults, true);
  }
  const off = parseClusterCommand([], {});
  for (const n of off.nodes) assert.ok(!n.argv.includes('--enable-faults'));

  const add = parseClusterAddCommand(['--enable-faults'], {});
  assert.deepEqual(add.passThrough, ['--enable-faults']);
  assert.deepEqual(parseClusterAddCommand([], {}).passThrough, []);
});

test('the usage of start, cluster and cluster add lists --enable-faults', () => {
  for (const name of ['start', 'cluster', 'cluster add']) {
    const c = commands.find((x) => x.name === name);
    assert.ok(
      c?.flags.some((f) => f.name === 'enable-faults' && f.value === undefined),
      name,
    );
  }
});
