// Exercise 4, persistence: every node stopped at once (gracefully, through the supervisor of
// `raftkv cluster`) loses nothing that was committed — a write is acknowledged only once a
// majority has it fsynced in its log. Restarted on their data dirs, the nodes replay their logs
// (and snapshots), elect a leader, and every key reads back.

import {
  describeFailure,
  ids,
  narratedReads,
  observedReads,
  quote,
  type ReadOutcome,
  readOn,
  waitAnswering,
  waitForLeader,
} from './cluster-ops.js';
import { type Exercise, ExerciseFailed, PreconditionFailed } from './runner.js';

const keyCount = 20;

export const persistence: Exercise = {
  n: 4,
  title: 'Persistence',
  async precondition(target) {
    if (target.supervisor === null) {
      throw new PreconditionFailed(
        `persistence needs every node stopped and started again, which the supervisor of raftkv cluster does; ` +
          `${target.supervisorNote}. Start a cluster with: raftkv cluster --enable-faults ` +
          '(or name its file: raftkv exercise 4 --supervisor DATA_DIR/supervisor.json)',
      );
    }
  },
  async run(ctx) {
    const { nodes, cluster } = ctx.target;
    const supervisor = ctx.target.supervisor!;
    ctx.step(`Waiting for a leader among ${ids(nodes)}...`);
    const first = await waitForLeader(ctx, nodes);
    ctx.observe('leaderBefore', first.id);
    const written = new Map<string, string>();
    let lastIndex = 0;
    for (let i = 1; i <= keyCount; i++) {
      const key = `exercise/4/${ctx.runId}/k${String(i).padStart(2, '0')}`;
      const value = `value ${i}`;
      try {
        const r = await cluster.put(key, value, { timeoutMs: ctx.timing.waitMs });
        lastIndex = Math.max(lastIndex, r.index);
      } catch (e) {
        throw new ExerciseFailed(`the write of ${key} failed: ${describeFailure(e)}`);
      }
      written.set(key, value);
    }
    ctx.observe('keys', written.size);
    ctx.observe('lastIndex', lastIndex);
    ctx.step(
      `${first.id} leads (term ${first.term}); wrote ${keyCount} keys, the last committed at index ${lastIndex}.`,
    );

    ctx.step(`Stopping every node (SIGTERM via the supervisor: each finishes and syncs, then exits)...`);
    const undo = ctx.undo('every node started again', () =>
      Promise.all(nodes.map((n) => supervisor.act(n.id, 'restart'))),
    );
    const stoppedAt = performance.now();
    const stopped = await Promise.all(nodes.map((n) => supervisor.act(n.id, 'stop')));
    const stopMs = Math.round(performance.now() - stoppedAt);
    const still = stopped.filter((s) => s.running);
    if (still.length > 0)
      throw new ExerciseFailed(`still running after the stop: ${still.map((s) => s.id).join(', ')}`);
    ctx.observe('stopMs', stopMs);
    ctx.step(`All ${nodes.length} nodes are down (${stopMs} ms); the cluster holds nothing in memory now.`);

    ctx.step('Starting every node again on its data dir (via the supervisor)...');
    const startedAt = performance.now();
    await Promise.all(nodes.map((n) => supervisor.act(n.id, 'restart')));
    undo.done();
    await Promise.all(nodes.map((n) => waitAnswering(ctx, n)));
    const leader = await waitForLeader(ctx, nodes);
    const recoveryMs = Math.round(performance.now() - startedAt);
    ctx.observe('leaderAfter', leader.id);
    ctx.observe('termAfter', leader.term);
    ctx.observe('recoveryMs', recoveryMs);
    ctx.step(
      `${leader.id} leads (term ${leader.term}), ${recoveryMs} ms after the start: each node replayed its log.`,
    );

    const wrong: string[] = [];
    for (const [key, value] of written) {
      try {
        const r = await cluster.get(key, { timeoutMs: ctx.timing.waitMs });
        if (r.value !== value) wrong.push(`${key}: ${quote(r.value)}, expected ${quote(value)}`);
      } catch (e) {
        wrong.push(`${key}: ${describeFailure(e)}`);
      }
    }
    ctx.step(
      `Linearizable reads of all ${written.size} keys: ${wrong.length === 0 ? 'every one as written' : `${wrong.length} wrong`}.`,
    );
    const lastKey = [...written.keys()].at(-1)!;
    const perNode = new Map<string, ReadOutcome>();
    for (const n of nodes) {
      const r = await readOn(ctx, n, lastKey, { consistency: 'stale', minIndex: lastIndex });
      perNode.set(n.id, r);
      if (r.failure !== null) wrong.push(`${n.id} (stale, minIndex ${lastIndex}): ${r.failure}`);
      else if (r.value !== written.get(lastKey)) wrong.push(`${n.id} (stale) ${lastKey}: ${quote(r.value)}`);
    }
    ctx.observe('lastKeyPerNode', observedReads(perNode));
    ctx.step(`The last key on each node (stale, minIndex ${lastIndex}): ${narratedReads(perNode)}.`);
    if (wrong.length > 0)
      throw new ExerciseFailed(`not everything survived the restart: ${wrong.join('; ')}`);
    return `all ${written.size} keys survived a stop of all ${nodes.length} nodes; ${leader.id} led again ${recoveryMs} ms after the start`;
  },
};
