// Exercise 1, basic operations: a write committed through the leader is on every node. Each node
// is read twice: stale with minIndex = the write's index, which it answers from its own state
// once it has applied that index itself (so it shows replication, not forwarding), and
// linearizably, which it answers only after confirming with the leader that nothing newer exists.

import { describeFailure, ids, quote, valueOn, waitForLeader, writeThrough } from './cluster-ops.js';
import { type Exercise, ExerciseFailed } from './runner.js';

/** A value quoted; a failure or an absence as it is. */
const show = (v: string): string => (v.startsWith('failed: ') || v === '(absent)' ? v : JSON.stringify(v));

export const basicOperations: Exercise = {
  n: 1,
  title: 'Basic operations',
  async precondition() {
    // Any cluster will do, one node included.
  },
  async run(ctx) {
    const { nodes } = ctx.target;
    ctx.step(
      `Waiting for a leader among ${ids(nodes)} (polling GET /debug every ${ctx.timing.pollMs} ms)...`,
    );
    const leader = await waitForLeader(ctx, nodes);
    ctx.observe('leader', leader.id);
    ctx.observe('term', leader.term);
    ctx.step(`${leader.id} leads (term ${leader.term}).`);

    const key = `exercise/1/${ctx.runId}`;
    const value = `written through ${leader.id}`;
    const put = await writeThrough(ctx, ctx.target.node(leader.id), key, value);
    ctx.observe('key', key);
    ctx.observe('index', put.index);
    ctx.step(
      `Put ${key} through ${leader.id}: committed at index ${put.index} (a majority has it in its log).`,
    );

    const stale: Record<string, string> = {};
    const linearizable: Record<string, string> = {};
    const wrong: string[] = [];
    for (const node of nodes) {
      try {
        const v = await valueOn(ctx, node, key, { consistency: 'stale', minIndex: put.index });
        stale[node.id] = v ?? '(absent)';
        if (v !== value) wrong.push(`${node.id} (stale) returned ${quote(v)}`);
      } catch (e) {
        stale[node.id] = `failed: ${describeFailure(e)}`;
        wrong.push(`${node.id} (stale, minIndex ${put.index}) failed: ${describeFailure(e)}`);
      }
    }
    ctx.observe('staleReads', stale);
    ctx.step(
      `Stale reads with minIndex=${put.index} (each node answers from its own state once it has applied the write): ` +
        nodes.map((n) => `${n.id} ${show(stale[n.id]!)}`).join('; '),
    );
    for (const node of nodes) {
      try {
        const v = await valueOn(ctx, node, key, { consistency: 'linearizable' });
        linearizable[node.id] = v ?? '(absent)';
        if (v !== value) wrong.push(`${node.id} (linearizable) returned ${quote(v)}`);
      } catch (e) {
        linearizable[node.id] = `failed: ${describeFailure(e)}`;
        wrong.push(`${node.id} (linearizable) failed: ${describeFailure(e)}`);
      }
    }
    ctx.observe('linearizableReads', linearizable);
    ctx.step(
      'Linearizable reads (each node first confirms with the leader that it has everything committed): ' +
        nodes.map((n) => `${n.id} ${show(linearizable[n.id]!)}`).join('; '),
    );
    if (wrong.length > 0) {
      throw new ExerciseFailed(`not every node returned the committed value: ${wrong.join('; ')}`);
    }
    return `every node (${ids(nodes)}) returned the value committed at index ${put.index}, stale and linearizable`;
  },
};
