// Goal: `raftkv exercise 2` and `raftkv exercise 4` as a user runs them, the built CLI against a
// real `raftkv cluster --enable-faults` with its supervisor: found through supervisor.json (its
// endpoints too), the leader killed with SIGKILL and the failover timed, every node stopped and
// started again — each ends in PASS (exit 0) with what it observed; and the cluster is whole
// after. Exercise 3 on these 3 nodes cannot run: exit 2, saying how to start 5.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runCli } from '../support/cli.js';
import { SupervisedCluster } from '../support/supervised-cluster.js';

test('raftkv exercise 2 and 4 against raftkv cluster with its supervisor: PASS, with what they observed', async (t) => {
  const c = await SupervisedCluster.start(t, { args: ['--enable-faults'] });
  await c.waitForLeader();
  const file = c.supervisorFile;

  const two = await runCli(['exercise', '2', '--supervisor', file], 120_000);
  assert.equal(two.code, 0, `${two.stdout}\n${two.stderr}`);
  const out2 = two.stdout;
  assert.match(
    out2,
    /^Exercise 2: Leader failover — on n1 \(http:\/\/127\.0\.0\.1:\d+\), n2 .*the supervisor of raftkv cluster/m,
  );
  const killed = /^\d+\. (n\d) leads \(term (\d+)\); killing it \(SIGKILL via the supervisor\)\.\.\.$/m.exec(
    out2,
  );
  assert.ok(killed, out2);
  const elected = /^\d+\. (n\d) was elected leader in term (\d+), (\d+) ms after (n\d) failed/m.exec(out2);
  assert.ok(elected, out2);
  assert.notEqual(elected[1], killed[1]);
  assert.equal(elected[4], killed[1]);
  assert.ok(Number(elected[2]) > Number(killed[2]));
  assert.match(
    out2,
    new RegExp(`^\\d+\\. Restarting ${killed[1]} on its data dir \\(via the supervisor\\)`, 'm'),
  );
  assert.match(out2, /Stale reads of all 10 keys on n\d \(its own state\): every one as written\./);
  assert.match(out2, /^PASS: /m);
  assert.match(out2, /^ {2}failoverMs: \d+$/m);
  assert.match(out2, /^ {2}catchUpMs: \d+$/m);
  assert.match(out2, /^ {2}failedBy: SIGKILL through the supervisor$/m);
  // The supervisor saw it as asked, and went on.
  assert.ok(c.process.running);
  assert.match(
    c.process.output(),
    new RegExp(`${killed[1]} was killed by SIGKILL, as the control API asked`),
  );

  const four = await runCli(['exercise', '4', '--supervisor', file, '--json'], 120_000);
  assert.equal(four.code, 0, `${four.stdout}\n${four.stderr}`);
  const report = JSON.parse(four.stdout) as {
    exercise: number;
    result: string;
    summary: string;
    observed: Record<string, unknown>;
    steps: { n: number; text: string }[];
  };
  assert.equal(report.exercise, 4);
  assert.equal(report.result, 'PASS', report.summary);
  assert.equal(report.observed.keys, 20);
  assert.ok(typeof report.observed.recoveryMs === 'number');
  assert.ok(report.steps.some((s) => /All 3 nodes are down/.test(s.text)));
  const nodes = await c.nodes();
  assert.ok(
    nodes.every((n) => n.running && n.exits >= 1),
    JSON.stringify(nodes),
  );
  assert.ok(c.process.running, 'every node stopped through the control API does not end the supervisor');
  await c.waitForLeader();

  const three = await runCli(['exercise', '3', '--supervisor', file], 60_000);
  assert.equal(three.code, 2, three.stdout + three.stderr);
  assert.match(three.stderr, /raftkv exercise 3: cannot run: .*raftkv cluster --nodes 5 --enable-faults/);
  assert.equal(three.stdout, '');
});
