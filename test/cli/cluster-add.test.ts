// Goal: `raftkv cluster add` picks the node the user means from the running cluster's members —
// the next free n<i>, one past the members' highest port on the host, DIR/<id> — restarts a member
// on its own data dir and address, and refuses, saying how to fix it, every case in which the node
// would refuse to start or start wrong: data of a node that is not a member, a member without its
// data, someone else's data, an address in use, a bootstrap member that a join would leave without
// a membership. Flag mistakes are usage errors before the cluster is asked anything.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { UsageError } from '../../src/cli/args.js';
import { type ClusterAddRequest, parseClusterAddCommand } from '../../src/cli/cluster-add-options.js';
import {
  AdditionRefused,
  type Member,
  nextFreeId,
  nextFreePort,
  planAddition,
} from '../../src/cli/cluster-add-plan.js';
import { type DataDirState, inspectDataDir } from '../../src/cli/data-dir-state.js';
import { parseStartCommand } from '../../src/cli/start-options.js';
import type { MembersResult } from '../../src/client/index.js';
import { encodeIdentity } from '../../src/storage/identity.js';

const clusterId = 'raftkv-0123456789abcdef';

function voter(id: string, address: string): Member {
  return { id, address, role: 'voter' };
}

/** The members of `raftkv cluster` with its defaults, after one change (index 5). */
const threeNodes: MembersResult = {
  clusterId,
  leaderId: 'n1',
  index: 5,
  members: [voter('n1', '127.0.0.1:7001'), voter('n2', '127.0.0.1:7002'), voter('n3', '127.0.0.1:7003')],
};

const fresh = (): DataDirState => ({ kind: 'fresh' });
const holds =
  (nodeId: string, owner = clusterId) =>
  (): DataDirState => ({ kind: 'node', identity: { clusterId: owner, nodeId } });

function request(argv: string[] = [], env: Record<string, string> = {}): ClusterAddRequest {
  return parseClusterAddCommand(argv, env);
}

function refusal(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof AdditionRefused, `an AdditionRefused, not ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('defaults: the endpoints, host and data dir of raftkv cluster; nothing chosen before the members are known', () => {
  const req = request();
  assert.deepEqual(
    req.endpoints.map((e) => e.label),
    ['127.0.0.1:7001', '127.0.0.1:7002', '127.0.0.1:7003'],
  );
  assert.equal(req.endpointsGiven, false);
  assert.equal(req.host, '127.0.0.1');
  assert.equal(req.hostGiven, false);
  assert.equal(req.dataDir, './data');
  assert.equal(req.id, undefined);
  assert.equal(req.port, undefined);
  assert.equal(req.learner, false);
  assert.deepEqual(req.passThrough, []);
  // RAFTKV_ENDPOINTS as for the client commands; a scheme other than http:// is kept for --join.
  const fromEnv = request([], { RAFTKV_ENDPOINTS: 'https://10.0.0.1:7001,10.0.0.2:7001' });
  assert.equal(fromEnv.endpointsArg, 'https://10.0.0.1:7001,10.0.0.2:7001');
  assert.equal(fromEnv.endpointsGiven, false);
});

test('flag mistakes are usage errors, a bad tuning value included', () => {
  for (const argv of [
    ['--port', '0'],
    ['--port', '70000'],
    ['--port', 'x'],
    ['--id', 'not an id'],
    ['--host', 'a b'],
    ['--host', '0.0.0.0'],
    ['--data-dir', ''],
    ['--endpoints', ''],
    ['extra'],
    ['--election-timeout', '10'],
    ['--read-mode', 'fast'],
    ['--cluster-token', 't'],
  ]) {
    assert.throws(() => request(argv), UsageError, argv.join(' '));
  }
});

test('a new node: the next free id, one past the highest port on the host, DIR/<id>, raftkv start --join', () => {
  const plan = planAddition(request(), threeNodes, fresh);
  assert.equal(plan.id, 'n4');
  assert.equal(plan.address, '127.0.0.1:7004');
  assert.equal(plan.url, 'http://127.0.0.1:7004');
  assert.equal(plan.dataDir, join('data', 'n4'));
  assert.equal(plan.member, undefined);
  assert.deepEqual(plan.argv, [
    'start',
    '--id',
    'n4',
    '--listen',
    '127.0.0.1:7004',
    '--data-dir',
    join('data', 'n4'),
    '--join',
    '127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003',
    '--stop-with-stdin',
  ]);
  // The command line is one `raftkv start` accepts: it joins, advertised where it listens.
  const start = parseStartCommand(plan.argv.slice(1), {});
  assert.deepEqual(start.join?.advertise, { host: '127.0.0.1', port: 7004 });
  assert.equal(start.join?.learner, false);
  assert.equal(start.stopWithStdin, true);
});

test('--learner and the tuning flags reach the node; --id, --port, --host and --data-dir are used as given', () => {
  const req = request([
    '--id',
    'extra',
    '--port',
    '9100',
    '--host',
    '::1',
    '--data-dir',
    '/srv/raftkv',
    '--learner',
    '--election-timeout',
    '600',
    '--log-format',
    'json',
  ]);
  const plan = planAddition(req, threeNodes, fresh);
  assert.equal(plan.id, 'extra');
  assert.equal(plan.address, '[::1]:9100');
  assert.equal(plan.dataDir, join('/srv/raftkv', 'extra'));
  const start = parseStartCommand(plan.argv.slice(1), {});
  assert.equal(start.join?.learner, true);
  assert.equal(start.options.electionTimeoutMs, 600);
  assert.equal(start.options.logFormat, 'json');
});

test('the next id and port count past removed members and ignore other ids and hosts', () => {
  const members = [
    voter('n1', '127.0.0.1:7001'),
    voter('n7', '127.0.0.1:7010'),
    voter('node12', '127.0.0.1:7002'),
    voter('n9', '10.0.0.9:7050'),
    { id: 'n3', address: '127.0.0.1:7003', role: 'learner' as const },
  ];
  assert.equal(nextFreeId(members), 'n10');
  assert.equal(nextFreePort(members, '127.0.0.1'), 7011);
  assert.equal(nextFreePort(members, '10.0.0.9'), 7051);
  assert.equal(nextFreePort(members, '10.0.0.1'), undefined);
  assert.equal(nextFreeId([voter('node1', 'node1:7001')]), 'n1');
});

test('no member on the host, a port in use by a member, a port past 65535: refused', () => {
  refusal(
    () => planAddition(request(['--host', '10.0.0.5']), threeNodes, fresh),
    /no member is on 10\.0\.0\.5 .*give --port/,
  );
  assert.equal(
    planAddition(request(['--host', '10.0.0.5', '--port', '7001']), threeNodes, fresh).address,
    '10.0.0.5:7001',
  );
  refusal(
    () => planAddition(request(['--port', '7002']), threeNodes, fresh),
    /127\.0\.0\.1:7002 is member n2's address/,
  );
  const high = { ...threeNodes, members: [voter('n1', '127.0.0.1:65535')] };
  refusal(() => planAddition(request(), high, fresh), /past 65535/);
});

test('a new id whose data dir holds a node: refused, saying to remove the directory', () => {
  // A node removed earlier (or one that was never added): it would not come back with that data.
  refusal(
    () => planAddition(request(), threeNodes, holds('n4')),
    /data\/n4 holds the data of node n4, which is not a member .*rm -r data\/n4/,
  );
  refusal(
    () => planAddition(request(), threeNodes, holds('n4', 'raftkv-other')),
    /node n4 of another cluster \(raftkv-other\)/,
  );
  refusal(
    () =>
      planAddition(request(), threeNodes, () => ({ kind: 'unknown', why: 'holds files but no IDENTITY' })),
    /holds files but no IDENTITY\. Remove the directory/,
  );
});

test('an id that is a member, its data dir in place: restarted where the cluster lists it, not added again', () => {
  const added: MembersResult = {
    ...threeNodes,
    members: [...threeNodes.members, { id: 'n4', address: '127.0.0.1:7004', role: 'learner' }],
  };
  const plan = planAddition(request(['--id', 'n4']), added, holds('n4'));
  assert.equal(plan.member?.role, 'learner');
  assert.equal(plan.address, '127.0.0.1:7004');
  assert.equal(parseStartCommand(plan.argv.slice(1), {}).options.listen?.port, 7004);
  // Its own address given again is fine; another is a mistake.
  assert.equal(
    planAddition(request(['--id', 'n4', '--port', '7004']), added, holds('n4')).address,
    '127.0.0.1:7004',
  );
  refusal(
    () => planAddition(request(['--id', 'n4', '--port', '7005']), added, holds('n4')),
    /n4 is already a member, at 127\.0\.0\.1:7004/,
  );
  refusal(
    () => planAddition(request(['--id', 'n4', '--host', 'localhost']), added, holds('n4')),
    /leave out --host and --port/,
  );
});

test('a member without its data, or with data that is not its own: refused; a member replaced goes by remove, then add', () => {
  refusal(
    () => planAddition(request(['--id', 'n2']), threeNodes, fresh),
    /n2 is already a member \(voter\), but data\/n2 holds no data.*raftkv member remove n2, then raftkv cluster add/,
  );
  refusal(
    () => planAddition(request(['--id', 'n2']), threeNodes, holds('n3')),
    /holds the data of node n3 .* not of member n2/,
  );
  refusal(
    () => planAddition(request(['--id', 'n2']), threeNodes, holds('n2', 'raftkv-other')),
    /of cluster raftkv-other, not of member n2 of cluster raftkv-0123456789abcdef/,
  );
});

test('a member on its data dir is restarted, whether or not the membership ever changed', () => {
  // While it never changed, `raftkv start --join` gives the member the configuration it started with.
  assert.equal(
    planAddition(request(['--id', 'n2']), { ...threeNodes, index: 0 }, holds('n2')).member?.id,
    'n2',
  );
  assert.equal(planAddition(request(['--id', 'n2']), threeNodes, holds('n2')).member?.id, 'n2');
});

test('the data dir as found on disk: missing or empty is fresh, IDENTITY names the node, anything else is not', async () => {
  const root = await mkdtemp(join(tmpdir(), 'raftkv-add-'));
  try {
    assert.deepEqual(inspectDataDir(join(root, 'missing')), { kind: 'fresh' });
    await mkdir(join(root, 'empty'));
    assert.deepEqual(inspectDataDir(join(root, 'empty')), { kind: 'fresh' });
    await mkdir(join(root, 'node'));
    await writeFile(join(root, 'node', 'IDENTITY'), encodeIdentity({ clusterId, nodeId: 'n4' }));
    assert.deepEqual(inspectDataDir(join(root, 'node')), {
      kind: 'node',
      identity: { clusterId, nodeId: 'n4' },
    });
    await mkdir(join(root, 'junk'));
    await writeFile(join(root, 'junk', 'notes.txt'), 'hello');
    assert.equal(inspectDataDir(join(root, 'junk')).kind, 'unknown');
    await mkdir(join(root, 'broken'));
    await writeFile(join(root, 'broken', 'IDENTITY'), 'not an identity');
    const broken = inspectDataDir(join(root, 'broken'));
    assert.ok(broken.kind === 'unknown' && /unreadable IDENTITY/.test(broken.why), JSON.stringify(broken));
    await writeFile(join(root, 'a-file'), '');
    assert.equal(inspectDataDir(join(root, 'a-file')).kind, 'unknown');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
