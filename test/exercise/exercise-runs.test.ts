// Goal: the runs behind the dashboard's exercises (src/app/exercise-runs.ts). One at a time — a
// second start while the first is still connecting is refused with exercise_running naming the
// first, and a start that cannot run frees the slot; a run goes on after start() resolves and
// its view grows to PASS with the report's observations; only the last 20 runs are kept.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExerciseCannotRunError, ExerciseRunningError } from '../../src/api/errors.js';
import { ExerciseRuns, keptRuns } from '../../src/app/exercise-runs.js';
import { connect, type ExerciseTarget, PreconditionFailed } from '../../src/exercise/index.js';
import { startCluster } from '../support/cluster.js';
import { LOOPBACK } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

test('one run at a time: a second start is exercise_running; one that cannot run frees the slot', async () => {
  const runs = new ExerciseRuns({ runsIn: 'here' });
  let fail: (e: unknown) => void = () => {};
  const connecting = new Promise<ExerciseTarget>((_, reject) => {
    fail = reject;
  });
  const first = runs.start(2, () => connecting);
  assert.equal(runs.running, true);
  await assert.rejects(
    runs.start(1, () => Promise.reject(new Error('never asked'))),
    (e: unknown) => {
      assert.ok(e instanceof ExerciseRunningError);
      assert.equal(e.details.exercise, 2);
      assert.match(String(e.details.run), /^[a-z0-9]+-[0-9a-f]{6}$/);
      assert.match(e.message, /exercise 2 \(Leader failover\) is running/);
      return true;
    },
  );
  fail(new PreconditionFailed('n3 does not answer'));
  await assert.rejects(first, (e: unknown) => e instanceof ExerciseCannotRunError && /n3/.test(e.message));
  assert.equal(runs.running, false);
  // Any other failure to connect is passed on as it is, and frees the slot too.
  await assert.rejects(
    runs.start(1, () => Promise.reject(new TypeError('boom'))),
    TypeError,
  );
  assert.equal(runs.running, false);
});

test('a run goes on after start, its view grows to PASS; a precondition refused; the last 20 kept', async (t) => {
  const c = await startCluster(t, { size: 1 });
  await c.waitForLeader();
  const lines: string[] = [];
  const runs = new ExerciseRuns({ runsIn: 'here', log: (l) => lines.push(l) });
  const target = (): Promise<ExerciseTarget> =>
    connect({ endpoints: [`http://${LOOPBACK}:${c.port('n1')}`] });

  await assert.rejects(runs.start(3, target), (e: unknown) => {
    assert.ok(e instanceof ExerciseCannotRunError);
    assert.match(e.message, /needs 5 nodes/);
    return true;
  });
  assert.equal(runs.running, false);

  const ids: string[] = [];
  for (let i = 0; i < keptRuns + 2; i++) {
    const view = await runs.start(1, target);
    assert.equal(view.state, 'running');
    assert.equal(view.runsIn, 'here');
    ids.push(view.run);
    const done = await waitFor('the run done', () => {
      const v = runs.get(view.run);
      return v?.state === 'done' ? v : null;
    });
    assert.equal(done.result, 'PASS', done.summary ?? '');
    assert.equal(done.observed.leader, 'n1');
    assert.ok(done.steps.length >= 4 && done.durationMs !== null);
    await waitFor('the slot free', () => !runs.running);
  }
  assert.equal(runs.get(ids[0]!), undefined, 'the oldest runs are forgotten');
  assert.equal(runs.get(ids[1]!), undefined);
  assert.equal(runs.get(ids[2]!)?.result, 'PASS');
  assert.equal(runs.get(ids.at(-1)!)?.result, 'PASS');
  assert.match(lines[0]!, /^exercise 1 \(Basic operations\) started, run /);
  assert.match(lines[1]!, /^exercise 1: 1\. Waiting for a leader/);
  assert.ok(lines.some((l) => /^exercise 1: PASS: every node \(n1\)/.test(l)));
});
