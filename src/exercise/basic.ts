// Exercise 1, basic operations: a write committed through the leader is on every node. Each node
// is read twice: stale with minIndex = the write's index, which it answers from its own state
// once it has applied that index itself (so it shows replication, not forwarding), and
// linearizably, which it answers only after confirming with the leader that nothing newer exists.

import {
  ids,
  narratedReads,
  observedReads,
  quote,
  type ReadOptions,
  type ReadOutcome,
  readOn,
  waitForLeader,
  writeThrough,
} from './cluster-ops.js';
import { type Exercise, ExerciseFailed } from './runner.js';

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

    const wrong: string[] = [];
    /** Reads the key on every node in turn; notes under `how` each that fails or differs. */
    const readEach = async (how: string, options: ReadOptions): Promise<Map<string, ReadOutcome>> => {
      const reads = new Map<string, ReadOutcome>();
      for (const node of nodes) {
        const r = await readOn(ctx, node, key, options);
        reads.set(node.id, r);
        if (r.failure !== null) wrong.push(`${node.id} (${how}) failed: ${r.failure}`);
        else if (r.value !== value) wrong.push(`${node.id} (${how}) returned ${quote(r.value)}`);
      }
      return reads;
    };

    const stale = await readEach(`stale, minIndex ${put.index}`, {
      consistency: 'stale',
      minIndex: put.index,
    });
    ctx.observe('staleReads', observedReads(stale));
    ctx.step(
      `Stale reads with minIndex=${put.index} (each node answers from its own state once it has applied the write): ` +
        narratedReads(stale),
    );
    const linearizable = await readEach('linearizable', { consistency: 'linearizable' });
    ctx.observe('linearizableReads', observedReads(linearizable));
    ctx.step(
      'Linearizable reads (each node first confirms with the leader that it has everything committed): ' +
        narratedReads(linearizable),
    );
    if (wrong.length > 0) {
      throw new ExerciseFailed(`not every node returned the committed value: ${wrong.join('; ')}`);
    }
    return `every node (${ids(nodes)}) returned the value committed at index ${put.index}, stale and linearizable`;
  },
};
