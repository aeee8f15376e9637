// Goal: the dashboard's exercises under a real `raftkv cluster --enable-faults`, through the node
// routes the page uses. Exercise 2 is started through the leader's POST /ui/exercises: it runs in
// the supervisor, which kills that very node — the run goes on, GET /ui/exercises/{run} is asked
// of the other nodes while it is down, and it ends in PASS with the failover timed. A second
// start meanwhile is 409 exercise_running. Exercise 4 stops every node: no node answers for a
// while, and once they are back the run shows PASS. The supervisor narrates both in its output.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type Answer, request } from '../support/http.js';
import { SupervisedCluster } from '../support/supervised-cluster.js';
import { StopWaiting, waitFor } from '../support/wait.js';

interface RunView {
  run: string;
  exercise: number;
  state: 'running' | 'done';
  runsIn: string;
  steps: { n: number; text: string }[];
  observed: Record<string, unknown>;
  result: 'PASS' | 'FAIL' | null;
  summary: string | null;
}

/**
 * Polls GET /ui/exercises/{run}, first on `first`, and on the next node whenever the one asked does
 * not answer; resolves with the final view and the nodes that did not answer meanwhile.
 */
async function followRun(
  c: SupervisedCluster,
  first: string,
  run: string,
): Promise<{ view: RunView; unanswered: Set<string> }> {
  const unanswered = new Set<string>();
  let at = c.ids.indexOf(first);
  const view = await waitFor(
    `run ${run} done`,
    async (note) => {
      c.alive();
      const id = c.ids[at]!;
      let a: Answer;
      try {
        a = await request(c.client(id), 'GET', `/ui/exercises/${run}`);
      } catch (e) {
        unanswered.add(id);
        at = (at + 1) % c.ids.length;
        throw e;
      }
      // An answer, but not the run: no point asking again.
      if (a.status !== 200) throw new StopWaiting(`${id} answered ${a.status}: ${a.text}`);
      const v = a.body as RunView;
      note(v.steps.at(-1)?.text);
      return v.state === 'done' ? v : null;
    },
    { timeoutMs: 120_000, intervalMs: 200 },
  );
  return { view, unanswered };
}

test('exercises 2 and 4 from the node routes under raftkv cluster: they run in the supervisor and PASS', async (t) => {
  const c = await SupervisedCluster.start(t, { args: ['--enable-faults'] });
  const { id: leader } = await c.waitForLeader();

  const started = await request(c.client(leader), 'POST', '/ui/exercises', { body: { exercise: 2 } });
  assert.equal(started.status, 202, started.text);
  assert.equal(started.body.runsIn, 'supervisor');
  const run = started.body.run as string;
  const other = c.ids.find((id) => id !== leader)!;
  const busy = await request(c.client(other), 'POST', '/ui/exercises', { body: { exercise: 1 } });
  assert.equal(busy.status, 409, busy.text);
  assert.deepEqual({ code: busy.body.code, run: busy.body.run }, { code: 'exercise_running', run });

  const { view } = await followRun(c, leader, run);
  const text = view.steps.map((s) => `${s.n}. ${s.text}`).join('\n');
  assert.equal(view.result, 'PASS', `${view.summary}\n${text}`);
  // The node asked led, so it was the one killed — and it is back, a follower.
  assert.equal(view.observed.oldLeader, leader, text);
  assert.equal(view.observed.failedBy, 'SIGKILL through the supervisor');
  assert.notEqual(view.observed.newLeader, leader);
  assert.ok(typeof view.observed.failoverMs === 'number' && view.observed.failoverMs > 0);
  assert.match(
    text,
    new RegExp(`${leader} leads \\(term \\d+\\); killing it \\(SIGKILL via the supervisor\\)`),
  );
  assert.match(c.process.output(), /raftkv cluster: exercise 2 \(Leader failover\) started, run /);
  assert.match(c.process.output(), /raftkv cluster: exercise 2: PASS: /);
  const back = await request(c.client(leader), 'GET', `/ui/exercises/${run}`);
  assert.equal(back.body.result, 'PASS', 'the node killed shows the run too, once back');

  // Exercise 4 stops every node: the run is followed through the gap.
  await c.waitForLeader();
  const four = await request(c.client(other), 'POST', '/ui/exercises', { body: { exercise: 4 } });
  assert.equal(four.status, 202, four.text);
  const { view: v4, unanswered } = await followRun(c, other, four.body.run);
  assert.equal(v4.result, 'PASS', `${v4.summary}\n${v4.steps.map((s) => s.text).join('\n')}`);
  assert.equal(v4.observed.keys, 20);
  assert.ok(unanswered.size >= 1, 'the nodes were down for a while');
  assert.ok(c.process.running, 'the supervisor went on throughout');
});
