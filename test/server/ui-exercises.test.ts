// Goal: the dashboard's exercise routes on a node without a supervisor. POST /ui/exercises starts
// exercise 1 on the node asked (202 with the run), GET /ui/exercises/{run} shows its steps as they
// come and ends in PASS with what it observed; a second start while one runs is 409
// exercise_running naming the run; exercise 4 (which stops every node) is refused with
// not_supervised and how to start a supervised cluster; exercise 3 on 3 nodes cannot run (412,
// saying it needs 5); bad bodies and run ids are 400 naming the field, an unknown run 404; and
// with an auth file the node runs the exercise with its caller's token.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { testUsers, writeAuthFile } from '../support/auth.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { StopWaiting, waitFor } from '../support/wait.js';

/** Polls GET /ui/exercises/{run} on `id` until it is done; every view seen, in order. */
async function followRun(
  c: TestCluster,
  id: string,
  run: string,
  headers: Record<string, string> = {},
): Promise<Answer[]> {
  const seen: Answer[] = [];
  await waitFor(
    `run ${run} done`,
    async (note) => {
      const a = await c.request(id, 'GET', `/ui/exercises/${run}`, { headers });
      // Not a "not yet": a run that cannot be shown ends the wait at once.
      if (a.status !== 200) throw new StopWaiting(`GET /ui/exercises/${run}: ${a.status} ${a.text}`);
      seen.push(a);
      note(a.body.steps.at(-1)?.text);
      return a.body.state === 'done';
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  );
  return seen;
}

test('exercise 1 from the node routes: 202, steps as they come, PASS with what it observed; one at a time', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const page = c.followerOf(leader);
  const started = await c.request(page, 'POST', '/ui/exercises', { body: { exercise: 1 } });
  assert.equal(started.status, 202, started.text);
  const { run } = started.body;
  assert.match(run, /^[a-z0-9]+-[0-9a-f]{6}$/);
  assert.equal(started.body.exercise, 1);
  assert.equal(started.body.title, 'Basic operations');
  assert.equal(started.body.runsIn, `node ${page}`);
  assert.equal(started.body.result, null);

  // One at a time: the second is refused, naming the first. The first cannot have ended yet: after
  // its 202 it still has a write to commit and six reads to make; the second start is one request.
  const second = await c.request(page, 'POST', '/ui/exercises', { body: { exercise: 1 } });
  assert.equal(second.status, 409, second.text);
  assert.deepEqual(
    {
      code: second.body.code,
      run: second.body.run,
      exercise: second.body.exercise,
      definite: second.body.definite,
    },
    { code: 'exercise_running', run, exercise: 1, definite: true },
  );

  const views = await followRun(c, page, run);
  const last = views.at(-1)!.body;
  assert.equal(last.result, 'PASS', `${last.summary}\n${JSON.stringify(last.steps, null, 1)}`);
  assert.match(last.summary, /every node \(n1, n2, n3\) returned the value committed at index \d+/);
  assert.equal(last.observed.leader, leader);
  for (const id of c.ids) assert.equal(last.observed.staleReads[id], `written through ${leader}`);
  assert.equal(typeof last.durationMs, 'number');
  assert.ok(last.durationMs >= 0);
  assert.deepEqual(
    last.steps.map((s: { n: number }) => s.n),
    last.steps.map((_: unknown, i: number) => i + 1),
  );
  assert.match(last.steps[1].text, new RegExp(`^${leader} leads \\(term \\d+\\)\\.$`));
  // The steps only grow: each view's steps begin the next one's.
  for (let i = 1; i < views.length; i++) {
    const before = views[i - 1]!.body.steps;
    assert.deepEqual(views[i]!.body.steps.slice(0, before.length), before);
  }
  // The run is kept after its end; another node, which did not run it, does not know it.
  assert.equal((await c.request(page, 'GET', `/ui/exercises/${run}`)).body.result, 'PASS');
  const elsewhere = await c.request(leader, 'GET', `/ui/exercises/${run}`);
  assert.equal(elsewhere.status, 404, elsewhere.text);
  assert.equal(elsewhere.body.code, 'not_found');
  // Done: another may start.
  const again = await c.request(page, 'POST', '/ui/exercises', { body: { exercise: 1 } });
  assert.equal(again.status, 202, again.text);
  await followRun(c, page, again.body.run);
});

test('exercise 4 without a supervisor is not_supervised; 3 on 3 nodes cannot run; bad input is 400', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const four = await c.request('n1', 'POST', '/ui/exercises', { body: { exercise: 4 } });
  assert.equal(four.status, 404, four.text);
  assert.deepEqual(
    { code: four.body.code, definite: four.body.definite },
    { code: 'not_supervised', definite: true },
  );
  assert.match(four.body.error, /supervisor of `raftkv cluster`.*raftkv cluster --enable-faults/);

  const three = await c.request('n1', 'POST', '/ui/exercises', { body: { exercise: 3 } });
  assert.equal(three.status, 412, three.text);
  assert.equal(three.body.code, 'exercise_cannot_run');
  assert.match(three.body.error, /needs 5 nodes.*raftkv cluster --nodes 5 --enable-faults/);
  // Without --enable-faults and without a supervisor, exercise 2 cannot fail the leader either.
  const two = await c.request('n1', 'POST', '/ui/exercises', { body: { exercise: 2 } });
  assert.equal(two.status, 412, two.text);
  assert.match(two.body.error, /fault injection/);

  for (const [body, field] of [
    [{}, 'exercise'],
    [{ exercise: 5 }, 'exercise'],
    [{ exercise: '1' }, 'exercise'],
    [{ exercise: 1.5 }, 'exercise'],
    [{ exercise: 1, now: true }, 'now'],
    ['not json', undefined],
    [[1], undefined],
  ] as const) {
    const a = await c.request('n1', 'POST', '/ui/exercises', { body });
    assert.equal(a.status, 400, `${JSON.stringify(body)}: ${a.text}`);
    assert.equal(a.body.code, 'bad_request');
    assert.equal(a.body.field, field, JSON.stringify(body));
  }
  for (const path of ['/ui/exercises/%ZZ', '/ui/exercises/a%20b', `/ui/exercises/${'x'.repeat(65)}`]) {
    const a = await c.request('n1', 'GET', path);
    assert.equal(a.status, 400, `${path}: ${a.text}`);
    assert.equal(a.body.field, 'run');
  }
  assert.equal((await c.request('n1', 'GET', '/ui/exercises/no-such-run')).status, 404);
  assert.equal((await c.request('n1', 'GET', '/ui/exercises')).status, 404);
  assert.equal((await c.request('n1', 'DELETE', '/ui/exercises/x')).status, 404);
  // Nothing was started by any of these: exercise 1 may start now.
  const one = await c.request('n1', 'POST', '/ui/exercises', { body: { exercise: 1 } });
  assert.equal(one.status, 202, one.text);
  await followRun(c, 'n1', one.body.run);
});

test('with an auth file: an admin runs exercise 1, its token on the exercise calls; a reader is 403', async (t) => {
  const authFile = await writeAuthFile(t);
  const c = await startCluster(t, { size: 3, authFile, token: testUsers.admin.token });
  await c.waitForLeader();
  const admin = { authorization: `Bearer ${testUsers.admin.token}` };
  const reader = { authorization: `Bearer ${testUsers.reader.token}` };
  const denied = await c.request('n2', 'POST', '/ui/exercises', { body: { exercise: 1 }, headers: reader });
  assert.equal(denied.status, 403, denied.text);
  const started = await c.request('n2', 'POST', '/ui/exercises', { body: { exercise: 1 }, headers: admin });
  assert.equal(started.status, 202, started.text);
  const views = await followRun(c, 'n2', started.body.run, admin);
  const last = views.at(-1)!.body;
  assert.equal(last.result, 'PASS', `${last.summary}`);
  assert.equal(
    (await c.request('n2', 'GET', `/ui/exercises/${started.body.run}`, { headers: reader })).status,
    403,
  );
});
