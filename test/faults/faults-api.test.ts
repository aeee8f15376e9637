// Goal: /admin/faults as the contract gives it, on real nodes. Without --enable-faults every
// method answers 403 faults_disabled (and /debug and /metrics say so); with an auth file a caller
// below admin gets 403 permission_denied. A POST sets the fields it names and keeps the others;
// GET answers the faults in force; DELETE heals. Every bad body is a 400 naming the field (or the
// id), never a 500. A paused node still answers /admin/faults, /debug, /metrics and the probes
// (/readyz says it is paused), holds client requests until it resumes, and answers one 504
// timeout if its deadline passes first. Each change is logged.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noFaults } from '../../src/api/faults.js';
import { RaftkvApiError } from '../../src/client/index.js';
import { parseFaultsBody } from '../../src/server/validate.js';
import { bearer, testUsers, writeAuthFile } from '../support/auth.js';
import { startCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

test('without --enable-faults: 403 faults_disabled on every method; /debug and /metrics say off', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  for (const [method, body] of [
    ['GET', undefined],
    ['POST', { isolate: true }],
    ['POST', { bogus: 1 }],
    ['DELETE', undefined],
  ] as const) {
    const a = await c.request('n1', method, '/admin/faults', body === undefined ? {} : { body });
    assert.equal(a.status, 403, `${method}: ${a.text}`);
    assert.equal(a.body.code, 'faults_disabled');
    assert.equal(a.body.definite, true);
    assert.match(a.body.error, /--enable-faults/);
  }
  await assert.rejects(
    c.client('n1').setFaults({ paused: true }),
    (e: unknown) => e instanceof RaftkvApiError && e.status === 403 && e.code === 'faults_disabled',
  );
  const debug = await c.debug('n1');
  assert.deepEqual(debug.faults, { enabled: false, ...noFaults });
  const metrics = parseExposition(await c.client('n1').metrics());
  assert.equal(seriesValue(metrics, 'raftkv_faults_enabled'), 0);
  assert.equal(c.logged('n1', 'faults.enabled'), false);
  // Nothing changed: the node still takes writes.
  assert.equal((await c.putRetrying('n1', 'k', 'v')).status, 200);
});

test('with an auth file: fault injection needs the admin role', async (t) => {
  const authFile = await writeAuthFile(t);
  const c = await startCluster(t, { size: 1, authFile, token: testUsers.admin.token, enableFaults: true });
  await c.waitForLeader();
  for (const user of [testUsers.reader, testUsers.writer]) {
    for (const method of ['GET', 'POST', 'DELETE']) {
      const a = await c.request('n1', method, '/admin/faults', {
        ...(method === 'POST' && { body: { paused: true } }),
        headers: bearer(user.token),
      });
      assert.equal(a.status, 403, `${user.name} ${method}: ${a.text}`);
      assert.equal(a.body.code, 'permission_denied');
      assert.equal(a.body.required, 'admin');
    }
  }
  const none = await c.request('n1', 'POST', '/admin/faults', { body: {}, headers: { authorization: '' } });
  assert.equal(none.status, 401);
  const admin = await c.request('n1', 'POST', '/admin/faults', {
    body: { diskDelayMs: 5 },
    headers: bearer(testUsers.admin.token),
  });
  assert.equal(admin.status, 200, admin.text);
  assert.equal(admin.body.diskDelayMs, 5);
  // Nothing the refused callers asked for took effect.
  assert.equal(admin.body.paused, false);
});

test('bad bodies: each a 400 naming the field or the id, never a 500; nothing changes', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true });
  await c.waitForLeader();
  const cases: readonly [unknown, RegExp, string | null][] = [
    [{ bogus: true }, /unknown field "bogus"/, 'bogus'],
    [{ isolate: 'yes' }, /^isolate must be true or false/, 'isolate'],
    [{ paused: 1 }, /^paused must be true or false/, 'paused'],
    [{ diskDelayMs: -1 }, /^diskDelayMs must be a whole number of milliseconds in 0\.\.60000/, 'diskDelayMs'],
    [{ diskDelayMs: 60_001 }, /^diskDelayMs must be/, 'diskDelayMs'],
    [{ messageDelayMs: 1.5 }, /^messageDelayMs must be/, 'messageDelayMs'],
    [{ messageDelayMs: '10' }, /^messageDelayMs must be/, 'messageDelayMs'],
    [{ messageDelayMs: 1e300 }, /^messageDelayMs must be/, 'messageDelayMs'],
    [{ dropTo: 'n2' }, /^dropTo must be a list of member ids/, 'dropTo'],
    [{ dropFrom: [3] }, /^dropFrom\[0\] must be a member id/, 'dropFrom[0]'],
    [{ dropTo: ['n2', 'bad id'] }, /^dropTo\[1\] must be a member id/, 'dropTo[1]'],
    [{ dropTo: ['n9'] }, /^dropTo: "n9" is not a member of the cluster/, 'dropTo'],
    [{ dropFrom: ['n1'] }, /^dropFrom: "n1" is this node/, 'dropFrom'],
    [[], /body must be a JSON object/, null],
    ['{"isolate": tru', /body is not valid JSON/, null],
    [null, /body must be a JSON object/, null],
  ];
  for (const [body, message, field] of cases) {
    const a = await c.request('n1', 'POST', '/admin/faults', {
      body: body === null ? 'null' : body,
    });
    const what = `${JSON.stringify(body)}: ${a.status} ${a.text}`;
    assert.equal(a.status, 400, what);
    assert.equal(a.body.code, 'bad_request', what);
    assert.match(a.body.error, message, what);
    if (field !== null) assert.equal(a.body.field, field, what);
  }
  // A bad field refuses the whole body: the good fields of it were not set either.
  const mixed = await c.request('n1', 'POST', '/admin/faults', { body: { isolate: true, dropTo: ['n9'] } });
  assert.equal(mixed.status, 400);
  assert.deepEqual((await c.request('n1', 'GET', '/admin/faults')).body, noFaults);
});

test('the parser takes any subset of the fields, an empty body as no change', () => {
  assert.deepEqual(parseFaultsBody(Buffer.alloc(0)), {});
  assert.deepEqual(parseFaultsBody(Buffer.from('{}')), {});
  assert.deepEqual(
    parseFaultsBody(
      Buffer.from(
        JSON.stringify({
          dropTo: ['n2'],
          dropFrom: [],
          isolate: false,
          paused: true,
          diskDelayMs: 0,
          messageDelayMs: 60_000,
        }),
      ),
    ),
    { dropTo: ['n2'], dropFrom: [], isolate: false, paused: true, diskDelayMs: 0, messageDelayMs: 60_000 },
  );
});

test('a POST sets what it names and keeps the rest; GET shows it; DELETE heals; each change logged', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true, logFormat: 'json' });
  await c.waitForLeader();
  const n1 = c.client('n1');
  assert.deepEqual(await n1.faults(), noFaults);
  assert.deepEqual(await n1.setFaults({ dropTo: ['n2', 'n2'], messageDelayMs: 20 }), {
    ...noFaults,
    dropTo: ['n2'],
    messageDelayMs: 20,
  });
  assert.deepEqual(await n1.setFaults({ dropFrom: ['n3'] }), {
    ...noFaults,
    dropTo: ['n2'],
    dropFrom: ['n3'],
    messageDelayMs: 20,
  });
  assert.deepEqual(await n1.setFaults({ dropTo: [], diskDelayMs: 7 }), {
    ...noFaults,
    dropFrom: ['n3'],
    diskDelayMs: 7,
    messageDelayMs: 20,
  });
  const debug = await c.debug('n1');
  const reported = debug.faults as Record<string, unknown>;
  assert.equal(reported.enabled, true);
  assert.deepEqual(reported.dropFrom, ['n3']);
  assert.equal(reported.diskDelayMs, 7);
  const metrics = parseExposition(await n1.metrics());
  assert.equal(seriesValue(metrics, 'raftkv_faults_enabled'), 1);
  const active = (fault: string) => seriesValue(metrics, 'raftkv_fault_active', { fault });
  assert.deepEqual(
    ['isolate', 'paused', 'dropTo', 'dropFrom', 'diskDelay', 'messageDelay'].map(active),
    [0, 0, 0, 1, 1, 1],
  );
  assert.deepEqual(await n1.healFaults(), noFaults);
  assert.deepEqual(await n1.faults(), noFaults);
  const after = parseExposition(await n1.metrics());
  assert.equal(seriesValue(after, 'raftkv_fault_active', { fault: 'dropFrom' }), 0);

  const lines = c.logs.get('n1')!.map((l) => JSON.parse(l) as Record<string, unknown>);
  const enabled = lines.find((o) => o.event === 'faults.enabled');
  assert.equal(enabled?.level, 'warn');
  const sets = lines.filter((o) => o.event === 'faults.set');
  assert.equal(sets.length, 3);
  assert.deepEqual(
    { ...sets[2], time: undefined, msg: undefined },
    {
      time: undefined,
      msg: undefined,
      level: 'warn',
      node: 'n1',
      event: 'faults.set',
      dropTo: '',
      dropFrom: 'n3',
      isolate: false,
      paused: false,
      diskDelayMs: 7,
      messageDelayMs: 20,
    },
  );
  assert.equal(lines.filter((o) => o.event === 'faults.healed').length, 1);
});

test('a paused node answers the operator routes, holds client requests until it resumes or their deadline', async (t) => {
  const c = await startCluster(t, { size: 1, enableFaults: true, requestTimeoutMs: 1500 });
  await c.waitForLeader();
  assert.equal((await c.putRetrying('n1', 'k', 'v1')).status, 200);
  const n1 = c.client('n1');
  assert.equal((await n1.setFaults({ paused: true })).paused, true);

  // Still answered: the faults routes, /debug, /metrics, the probes.
  assert.equal((await n1.faults()).paused, true);
  const debug = await c.debug('n1');
  assert.equal((debug.faults as { paused: boolean }).paused, true);
  assert.equal(
    seriesValue(parseExposition(await n1.metrics()), 'raftkv_fault_active', { fault: 'paused' }),
    1,
  );
  assert.equal((await n1.livez()).ok, true);
  const ready = await c.request('n1', 'GET', '/readyz');
  assert.equal(ready.status, 503);
  assert.match(ready.body.reason, /paused/);

  // A client request waits; past its deadline it gets 504 timeout (outcome unknown for a write).
  const timedOut = await c.put('n1', 'k', 'late');
  assert.equal(timedOut.status, 504, timedOut.text);
  assert.equal(timedOut.body.code, 'timeout');
  assert.equal(timedOut.body.definite, false);
  assert.match(timedOut.body.error, /paused/);

  // One sent while paused is answered once the node resumes.
  let settled = false;
  const held = c.get('n1', 'k').finally(() => {
    settled = true;
  });
  // The request has reached the node (it counts in /debug) and is still unanswered.
  await waitFor('the held read is in flight', async () => {
    const d = await c.debug('n1');
    return (d.admission as { inflight: number }).inflight >= 1;
  });
  assert.equal(settled, false, 'a paused node answers no client request');
  assert.deepEqual(await n1.setFaults({ paused: false }), noFaults);
  const answer = await held;
  assert.equal(answer.status, 200, answer.text);
  assert.equal(answer.body.value, 'v1');
  assert.equal((await c.request('n1', 'GET', '/readyz')).status, 200);
  assert.equal((await c.putRetrying('n1', 'k', 'v2')).status, 200);
});

test('a paused node stops gracefully: it resumes first, and requests it held are answered', async (t) => {
  const c = await startCluster(t, { size: 1, enableFaults: true });
  await c.waitForLeader();
  assert.equal((await c.putRetrying('n1', 'k', 'v')).status, 200);
  await c.client('n1').setFaults({ paused: true, diskDelayMs: 50 });
  const held: Promise<Answer | Error> = c.put('n1', 'k', 'w').catch((e: unknown) => e as Error);
  await waitFor('the held write is in flight', async () => {
    const d = await c.debug('n1');
    return (d.admission as { inflight: number }).inflight >= 1;
  });
  await c.stopNode('n1');
  const answer = await held;
  // Answered, not left hanging: refused as the node stops, or written just before it did.
  assert.ok(
    !(answer instanceof Error) && [200, 503].includes(answer.status),
    `the held write: ${answer instanceof Error ? answer.message : answer.text}`,
  );
  // Faults are not saved: restarted, the node has none and takes writes.
  await c.startNode('n1');
  await c.waitForLeader();
  assert.deepEqual(await c.client('n1').faults(), noFaults);
  assert.equal((await c.putRetrying('n1', 'k', 'x')).status, 200);
});
