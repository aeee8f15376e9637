// Goal: the supervisor's control API answers only with its token, routes GET /nodes and POST
// /nodes/{id}/kill|stop|restart to the supervisor and nothing else; `raftkv start` takes its
// supervisor from the environment (both variables or neither, loopback only); `raftkv cluster`
// parses --control-port / --no-control; and a node's POST /ui/nodes/{id}/process passes the
// action on to its supervisor with the supervisor's token — 404 not_supervised without one, 503
// supervisor_unreachable when it does not answer, 400 for a bad body — and /ui/state says
// whether the node is supervised. The exercises: POST /exercises and GET /exercises/{run} reach the
// supervisor's runs (202, 400 naming the field, its 409 and 412 as the API words them, 404 for an
// unknown run), and a node's /ui/exercises routes pass both on to it, checked first.
// (test/e2e/supervisor.test.ts runs the real thing.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExerciseCannotRunError, ExerciseRunningError, NotSupervisedError } from '../../src/api/errors.js';
import { parseClusterCommand } from '../../src/cli/cluster-options.js';
import { parseStartOptions } from '../../src/cli/start-options.js';
import {
  ControlServer,
  type ControlTarget,
  type NodeAction,
  newControlToken,
  type SupervisedNode,
} from '../../src/cli/supervisor-control.js';
import { RaftkvClient } from '../../src/client/index.js';
import { startCluster } from '../support/cluster.js';
import { request } from '../support/http.js';
import { freePorts } from '../support/ports.js';

/**
 * A supervisor that runs n1..n3 on paper and records what it was asked. Its exercises: 1 starts
 * run "r1" (then "r2", ...), 2 is running already, 3 cannot run.
 */
function fakeTarget(): ControlTarget & { asked: [string, NodeAction][]; started: number[] } {
  const asked: [string, NodeAction][] = [];
  const started: number[] = [];
  const runs = new Map<string, unknown>();
  const node = (id: string): SupervisedNode => ({
    id,
    pid: 1234,
    running: true,
    exits: 0,
    url: `http://127.0.0.1:1/${id}`,
  });
  return {
    asked,
    started,
    exercises: {
      start: async (n) => {
        if (n === 2) throw new ExerciseRunningError('exercise 1 is running', { run: 'r0', exercise: 1 });
        if (n === 3) throw new ExerciseCannotRunError('a network partition needs 5 nodes');
        started.push(n);
        const run = `r${started.length}`;
        const view = { run, exercise: n, state: 'running', runsIn: 'supervisor', steps: [] };
        runs.set(run, { ...view, state: 'done', result: 'PASS' });
        return view;
      },
      get: (run) => runs.get(run),
    },
    nodes: () => ['n1', 'n2', 'n3'].map(node),
    act: async (id, action) => {
      if (!['n1', 'n2', 'n3'].includes(id)) throw new NotSupervisedError(`no node "${id}"`);
      asked.push([id, action]);
      return { ...node(id), running: action === 'restart', pid: action === 'restart' ? 99 : null };
    },
  };
}

async function withControl(
  fn: (server: ControlServer, token: string, target: ReturnType<typeof fakeTarget>) => Promise<void>,
): Promise<void> {
  const token = newControlToken();
  const target = fakeTarget();
  const server = await ControlServer.start(0, token, target);
  try {
    await fn(server, token, target);
  } finally {
    await server.close();
  }
}

test('the control API: 401 without its token, GET /nodes and the three actions with it, 404 otherwise', async () => {
  await withControl(async (server, token, target) => {
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const anon = new RaftkvClient(server.url, { keepAlive: false });
    const wrong = new RaftkvClient(server.url, { keepAlive: false, token: `${token.slice(1)}x` });
    for (const c of [anon, wrong]) {
      for (const [method, path] of [
        ['GET', '/nodes'],
        ['POST', '/nodes/n1/kill'],
      ] as const) {
        const a = await c.send({ method, path });
        assert.equal(a.status, 401, `${method} ${path}: ${a.text}`);
        assert.equal((a.body as { code: string }).code, 'unauthenticated');
      }
    }
    assert.deepEqual(target.asked, [], 'nothing was done for a caller without the token');

    const c = new RaftkvClient(server.url, { keepAlive: false, token });
    const nodes = await c.send({ method: 'GET', path: '/nodes' });
    assert.equal(nodes.status, 200);
    assert.deepEqual(
      (nodes.body as SupervisedNode[]).map((n) => n.id),
      ['n1', 'n2', 'n3'],
    );
    for (const action of ['kill', 'stop', 'restart'] as const) {
      const a = await c.send({ method: 'POST', path: `/nodes/n2/${action}` });
      assert.equal(a.status, 200, a.text);
      assert.equal((a.body as SupervisedNode).id, 'n2');
    }
    assert.deepEqual(target.asked, [
      ['n2', 'kill'],
      ['n2', 'stop'],
      ['n2', 'restart'],
    ]);
    const garbled = await c.send({ method: 'POST', path: '/nodes/%ZZ/kill' });
    assert.equal(garbled.status, 400, garbled.text);
    assert.equal((garbled.body as { code: string }).code, 'bad_request');
    const unknown = await c.send({ method: 'POST', path: '/nodes/n9/kill' });
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body as { code: string }).code, 'not_supervised');
    for (const [method, path] of [
      ['POST', '/nodes'],
      ['GET', '/nodes/n1/kill'],
      ['POST', '/nodes/n1/explode'],
      ['GET', '/'],
    ] as const) {
      const a = await c.send({ method, path });
      assert.equal(a.status, 404, `${method} ${path}: ${a.text}`);
      assert.equal((a.body as { code: string }).code, 'not_found');
    }
    assert.equal(target.asked.length, 3);
  });
});

test('raftkv start reads its supervisor from RAFTKV_SUPERVISOR_URL and _TOKEN: both or neither, loopback', () => {
  const start = ['--id', 'n1', '--cluster', 'n1=127.0.0.1:7001'];
  const token = newControlToken();
  assert.equal(parseStartOptions(start, {}).supervisor, undefined);
  assert.deepEqual(
    parseStartOptions(start, {
      RAFTKV_SUPERVISOR_URL: 'http://127.0.0.1:4567',
      RAFTKV_SUPERVISOR_TOKEN: token,
    }).supervisor,
    { url: 'http://127.0.0.1:4567', token },
  );
  assert.throws(
    () => parseStartOptions(start, { RAFTKV_SUPERVISOR_URL: 'http://127.0.0.1:4567' }),
    /RAFTKV_SUPERVISOR_TOKEN is not set/,
  );
  for (const url of [
    'http://10.0.0.1:4567',
    'https://127.0.0.1:4567',
    '127.0.0.1:4567',
    'http://127.0.0.1',
  ]) {
    assert.throws(
      () => parseStartOptions(start, { RAFTKV_SUPERVISOR_URL: url, RAFTKV_SUPERVISOR_TOKEN: token }),
      /RAFTKV_SUPERVISOR_URL must be http:\/\/127\.0\.0\.1:PORT/,
      url,
    );
  }
  assert.throws(
    () =>
      parseStartOptions(start, {
        RAFTKV_SUPERVISOR_URL: 'http://127.0.0.1:1',
        RAFTKV_SUPERVISOR_TOKEN: 'short',
      }),
    /RAFTKV_SUPERVISOR_TOKEN must be/,
  );
});

test('raftkv cluster: the control API on a free port by default, --control-port, --no-control', () => {
  assert.equal(parseClusterCommand([], {}).controlPort, 0);
  assert.equal(parseClusterCommand(['--control-port', '7100'], {}).controlPort, 7100);
  assert.equal(parseClusterCommand(['--no-control'], {}).controlPort, null);
  assert.throws(() => parseClusterCommand(['--no-control', '--control-port', '7100'], {}), /go against/);
  assert.throws(() => parseClusterCommand(['--control-port', '0'], {}), /--control-port/);
  // An inherited supervisor is not the nodes' one: the supervisor sets its own (or none).
  const plan = parseClusterCommand([], {
    RAFTKV_SUPERVISOR_URL: 'http://127.0.0.1:1',
    RAFTKV_SUPERVISOR_TOKEN: 'x',
  });
  assert.equal(plan.env.RAFTKV_SUPERVISOR_URL, undefined);
  assert.equal(plan.env.RAFTKV_SUPERVISOR_TOKEN, undefined);
});

test('POST /ui/nodes/{id}/process: passed on to the supervisor with its token; /ui/state says supervised', async (t) => {
  const token = newControlToken();
  const target = fakeTarget();
  const server = await ControlServer.start(0, token, target);
  t.after(() => server.close());
  const c = await startCluster(t, { size: 1, supervisor: { url: server.url, token } });
  await c.waitForLeader();
  const page = c.client('n1');

  const state = await request(page, 'GET', '/ui/state');
  assert.equal(state.status, 200, state.text);
  assert.equal(state.body.supervised, true);

  const killed = await request(page, 'POST', '/ui/nodes/n2/process', { body: { action: 'kill' } });
  assert.equal(killed.status, 200, killed.text);
  assert.deepEqual({ id: killed.body.id, running: killed.body.running }, { id: 'n2', running: false });
  const restarted = await request(page, 'POST', '/ui/nodes/n3/process', { body: { action: 'restart' } });
  assert.equal(restarted.status, 200, restarted.text);
  assert.equal(restarted.body.pid, 99);
  assert.deepEqual(target.asked, [
    ['n2', 'kill'],
    ['n3', 'restart'],
  ]);
  // The supervisor's refusal is relayed as it came.
  const unknown = await request(page, 'POST', '/ui/nodes/n7/process', { body: { action: 'kill' } });
  assert.equal(unknown.status, 404, unknown.text);
  assert.equal(unknown.body.code, 'not_supervised');

  // A bad body is refused here, before the supervisor hears of it.
  for (const body of [{}, { action: 'explode' }, { action: 'kill', now: true }, 'not json', { action: 1 }]) {
    const a = await request(page, 'POST', '/ui/nodes/n2/process', { body });
    assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.text}`);
    assert.equal(a.body.code, 'bad_request');
  }
  const badId = await request(page, 'POST', '/ui/nodes/%ZZ/process', { body: { action: 'kill' } });
  assert.equal(badId.status, 400, badId.text);
  assert.equal((await request(page, 'GET', '/ui/nodes/n2/process')).status, 404);
  assert.equal(target.asked.length, 2, 'no bad request reached the supervisor');

  // The supervisor gone: 503 supervisor_unreachable, the outcome unknown.
  await server.close();
  const gone = await request(page, 'POST', '/ui/nodes/n2/process', { body: { action: 'kill' } });
  assert.equal(gone.status, 503, gone.text);
  assert.deepEqual(
    { code: gone.body.code, definite: gone.body.definite },
    {
      code: 'supervisor_unreachable',
      definite: false,
    },
  );
});

test('without a supervisor: 404 not_supervised, and /ui/state says supervised: false', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  const page = c.client('n1');
  assert.equal((await request(page, 'GET', '/ui/state')).body.supervised, false);
  const a = await request(page, 'POST', '/ui/nodes/n1/process', { body: { action: 'restart' } });
  assert.equal(a.status, 404, a.text);
  assert.deepEqual(
    { code: a.body.code, definite: a.body.definite },
    { code: 'not_supervised', definite: true },
  );
  assert.match(a.body.error, /without a supervisor/);
});

test('the control API runs exercises: POST /exercises 202, GET /exercises/{run}; refusals as the API words them', async () => {
  await withControl(async (server, token, target) => {
    const anon = await new RaftkvClient(server.url, { keepAlive: false }).send({
      method: 'POST',
      path: '/exercises',
      body: { exercise: 1 },
    });
    assert.equal(anon.status, 401);
    const c = new RaftkvClient(server.url, { keepAlive: false, token });
    const started = await c.send({ method: 'POST', path: '/exercises', body: { exercise: 1 } });
    assert.equal(started.status, 202, started.text);
    assert.deepEqual(started.body, {
      run: 'r1',
      exercise: 1,
      state: 'running',
      runsIn: 'supervisor',
      steps: [],
    });
    const run = await c.send({ method: 'GET', path: '/exercises/r1' });
    assert.equal(run.status, 200, run.text);
    assert.equal((run.body as { result: string }).result, 'PASS');

    const running = await c.send({ method: 'POST', path: '/exercises', body: { exercise: 2 } });
    assert.equal(running.status, 409, running.text);
    assert.deepEqual(running.body, {
      error: 'exercise 1 is running',
      code: 'exercise_running',
      definite: true,
      run: 'r0',
      exercise: 1,
    });
    const cannot = await c.send({ method: 'POST', path: '/exercises', body: { exercise: 3 } });
    assert.equal(cannot.status, 412, cannot.text);
    assert.equal((cannot.body as { code: string }).code, 'exercise_cannot_run');

    for (const body of [{}, { exercise: 9 }, { exercise: 1, extra: 1 }]) {
      const a = await c.send({ method: 'POST', path: '/exercises', body });
      assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.text}`);
      assert.equal((a.body as { code: string }).code, 'bad_request');
    }
    const big = await c.send({ method: 'POST', path: '/exercises', rawBody: 'x'.repeat(10_000) });
    assert.equal(big.status, 413, big.text);
    assert.equal((await c.send({ method: 'GET', path: '/exercises/nope' })).status, 404);
    assert.equal((await c.send({ method: 'GET', path: '/exercises/%ZZ' })).status, 400);
    assert.equal((await c.send({ method: 'GET', path: '/exercises' })).status, 404);
    assert.equal((await c.send({ method: 'DELETE', path: '/exercises/r1' })).status, 404);
    // A body sent to a route that reads none is drained: the node routes still answer.
    const killed = await c.send({ method: 'POST', path: '/nodes/n1/kill', rawBody: 'y'.repeat(10_000) });
    assert.equal(killed.status, 200, killed.text);
    assert.deepEqual(target.started, [1]);
  });
});

test('a node passes /ui/exercises on to its supervisor, after checking the request itself', async (t) => {
  const token = newControlToken();
  const target = fakeTarget();
  const server = await ControlServer.start(0, token, target);
  t.after(() => server.close());
  const c = await startCluster(t, { size: 1, supervisor: { url: server.url, token } });
  await c.waitForLeader();
  const page = c.client('n1');
  // Even exercise 4, which a node without a supervisor refuses.
  const started = await request(page, 'POST', '/ui/exercises', { body: { exercise: 4 } });
  assert.equal(started.status, 202, started.text);
  assert.equal(started.body.runsIn, 'supervisor');
  const run = await request(page, 'GET', `/ui/exercises/${started.body.run}`);
  assert.equal(run.status, 200, run.text);
  assert.equal(run.body.result, 'PASS');
  const running = await request(page, 'POST', '/ui/exercises', { body: { exercise: 2 } });
  assert.equal(running.status, 409, running.text);
  assert.equal(running.body.run, 'r0');
  assert.equal((await request(page, 'GET', '/ui/exercises/unknown')).status, 404);
  for (const body of [{ exercise: 0 }, 'nope']) {
    assert.equal((await request(page, 'POST', '/ui/exercises', { body })).status, 400);
  }
  assert.equal((await request(page, 'GET', '/ui/exercises/a%20b')).status, 400);
  assert.deepEqual(target.started, [4], 'no bad request reached the supervisor');
  await server.close();
  const gone = await request(page, 'GET', `/ui/exercises/${started.body.run}`);
  assert.equal(gone.status, 503, gone.text);
  assert.equal(gone.body.code, 'supervisor_unreachable');
});

test('a port already taken: ControlServer.start rejects', async () => {
  const [port] = await freePorts(1);
  const first = await ControlServer.start(port!, newControlToken(), fakeTarget());
  try {
    await assert.rejects(ControlServer.start(port!, newControlToken(), fakeTarget()), /EADDRINUSE/);
  } finally {
    await first.close();
  }
});
