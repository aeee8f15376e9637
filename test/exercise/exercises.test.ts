// Goal: the exercises' runner against in-process clusters. Exercise 1 passes on a healthy
// cluster and says who led and what each node read; exercise 3 partitions 5 nodes, the leader on
// the minority side, and passes with the majority's leader and the refused minority write;
// exercise 2 without a supervisor isolates the leader instead and still times the failover. A
// broken cluster — a follower paused, so its stale read with minIndex never comes — FAILs naming
// that node; a cluster that lacks what an exercise needs is a PreconditionFailed saying how to
// start one. (Exercises 2 and 4 with a real supervisor: test/e2e/exercises.test.ts.)

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { noFaults } from '../../src/api/faults.js';
import {
  connect,
  type ExerciseReport,
  type ExerciseTarget,
  exerciseNumbered,
  PreconditionFailed,
  runExercise,
  type Step,
} from '../../src/exercise/index.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { LOOPBACK } from '../support/ports.js';

async function targetOf(t: { after: (fn: () => void) => void }, c: TestCluster): Promise<ExerciseTarget> {
  const target = await connect({ endpoints: c.ids.map((id) => `http://${LOOPBACK}:${c.port(id)}`) });
  t.after(() => target.close());
  return target;
}

async function run(
  n: number,
  target: ExerciseTarget,
  requestMs?: number,
): Promise<{ report: ExerciseReport; printed: Step[] }> {
  const printed: Step[] = [];
  const report = await runExercise(exerciseNumbered(n)!, target, {
    onStep: (s) => printed.push(s),
    timing: { waitMs: 20_000, ...(requestMs !== undefined && { requestMs }) },
  });
  return { report, printed };
}

const text = (r: ExerciseReport): string => r.steps.map((s) => `${s.n}. ${s.text}`).join('\n');

test('exercise 1 passes on a healthy cluster: the leader, the index, every node read back', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const { report, printed } = await run(1, await targetOf(t, c));
  assert.equal(report.result, 'PASS', `${report.summary}\n${text(report)}`);
  assert.deepEqual(printed, report.steps, 'each step reached onStep as it was narrated');
  assert.deepEqual(
    report.steps.map((s) => s.n),
    report.steps.map((_, i) => i + 1),
  );
  const o = report.observed as {
    leader: string;
    term: number;
    index: number;
    staleReads: Record<string, string>;
    linearizableReads: Record<string, string>;
  };
  assert.ok(c.ids.includes(o.leader));
  assert.ok(o.term >= 1 && o.index >= 1);
  for (const id of c.ids) {
    assert.equal(o.staleReads[id], `written through ${o.leader}`, id);
    assert.equal(o.linearizableReads[id], `written through ${o.leader}`, id);
  }
  assert.match(text(report), new RegExp(`${o.leader} leads \\(term ${o.term}\\)`));
  assert.match(text(report), new RegExp(`Stale reads with minIndex=${o.index}`));
  assert.match(report.summary, /every node \(n1, n2, n3\) returned the value committed at index/);
});

test('exercise 1 FAILs on a cluster with a paused follower, naming it', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true });
  const leader = await c.waitForLeader();
  const paused = c.followerOf(leader);
  await c.client(paused).setFaults({ paused: true });
  t.after(() =>
    c
      .client(paused)
      .healFaults()
      .then(
        () => undefined,
        () => undefined,
      ),
  );
  const { report } = await run(1, await targetOf(t, c), 1500);
  assert.equal(report.result, 'FAIL', text(report));
  assert.match(
    report.summary,
    new RegExp(`${paused} \\(stale, minIndex \\d+\\) failed: no answer within 1500 ms`),
  );
  const others = c.ids.filter((id) => id !== paused);
  const stale = (report.observed as { staleReads: Record<string, string> }).staleReads;
  for (const id of others) assert.equal(stale[id], `written through ${leader}`, id);
  assert.match(stale[paused]!, /^failed: /);
});

test('exercise 3 on 5 nodes: the majority elects and commits, the minority (with the old leader) cannot; healed, it catches up', async (t) => {
  const c = await startCluster(t, { size: 5, enableFaults: true });
  const { report } = await run(3, await targetOf(t, c));
  assert.equal(report.result, 'PASS', `${report.summary}\n${text(report)}`);
  const o = report.observed as {
    oldLeader: string;
    minority: string[];
    majority: string[];
    majorityLeader: string;
    majorityTerm: number;
    oldTerm: number;
    electionMs: number;
    majorityWriteIndex: number;
    minorityWrite: string;
    catchUpMs: Record<string, number>;
  };
  assert.equal(o.minority.length, 2);
  assert.ok(o.minority.includes(o.oldLeader), 'the leader is cut off with the minority');
  assert.ok(o.majority.includes(o.majorityLeader));
  assert.ok(o.majorityTerm > o.oldTerm);
  assert.ok(o.electionMs > 0);
  assert.match(
    o.minorityWrite,
    /^(refused|outcome unknown): \d{3} [a-z_]+ \(definite: (true|false)\)$|^outcome unknown: no answer within/,
  );
  assert.deepEqual(Object.keys(o.catchUpMs).sort(), [...o.minority].sort());
  assert.match(text(report), /Partitioning \{n\d, n\d\} from \{n\d, n\d, n\d\}/);
  // Nothing was left cut: every node heals to no faults, and one leader leads them all.
  for (const id of c.ids) assert.deepEqual(await c.client(id).faults(), noFaults, id);
  await c.waitForLeader();
});

test('exercise 2 without a supervisor: the leader isolated with the fault API, the failover timed, it catches up', async (t) => {
  const c = await startCluster(t, { size: 3, enableFaults: true });
  const target = await targetOf(t, c);
  assert.equal(target.supervisor, null);
  const { report } = await run(2, target);
  assert.equal(report.result, 'PASS', `${report.summary}\n${text(report)}`);
  const o = report.observed as {
    oldLeader: string;
    newLeader: string;
    failoverMs: number;
    failedBy: string;
    catchUpMs: number;
  };
  assert.notEqual(o.oldLeader, o.newLeader);
  assert.equal(o.failedBy, 'isolated with the fault API');
  assert.ok(o.failoverMs > 0 && o.catchUpMs >= 0);
  assert.match(text(report), /no supervisor .*isolating it with the fault API/);
  assert.equal((await c.client(o.oldLeader).faults()).isolate, false, 'healed');
});

test('preconditions: 3 nodes for exercise 3, fault injection for 2 and 3, the supervisor for 4', async (t) => {
  const c = await startCluster(t, { size: 3 });
  await c.waitForLeader();
  const target = await targetOf(t, c);
  const refused = async (n: number, pattern: RegExp): Promise<void> => {
    await assert.rejects(run(n, target), (e: unknown) => {
      assert.ok(e instanceof PreconditionFailed, String(e));
      assert.match(e.message, pattern);
      return true;
    });
  };
  await refused(3, /needs 5 nodes .* raftkv cluster --nodes 5 --enable-faults/);
  await refused(2, /fault injection .* raftkv cluster --enable-faults/);
  await refused(4, /supervisor .* raftkv cluster/);
  // A node that does not answer: the exercise cannot start.
  await assert.rejects(
    connect({ endpoints: [`http://${LOOPBACK}:${c.port('n1')}`, 'http://127.0.0.1:1'], timeoutMs: 1000 }),
    (e: unknown) => e instanceof PreconditionFailed && /127\.0\.0\.1:1 does not answer/.test(e.message),
  );
});
