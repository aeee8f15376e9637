// Exercise 3, network partition: two nodes — the leader among them — are cut off from the others
// with the fault API (each drops every Raft message to and from the other side). The majority
// side elects a leader of its own and commits; a write through the old leader, on the minority
// side, cannot: it fails, or its outcome stays unknown — and then a linearizable read on the
// majority shows it did not commit. Healed, the minority drops what it took alone and catches up.

import { mayHaveHappened } from '../client/retry.js';
import {
  describeFailure,
  faultsEnabled,
  ids,
  quote,
  settledValue,
  valueOn,
  waitApplied,
  waitForLeader,
  writeThrough,
} from './cluster-ops.js';
import { type Exercise, ExerciseFailed, PreconditionFailed } from './runner.js';

const howToStart = 'Start them with: raftkv cluster --nodes 5 --enable-faults';

export const networkPartition: Exercise = {
  n: 3,
  title: 'Network partition',
  async precondition(target) {
    if (target.nodes.length < 5) {
      throw new PreconditionFailed(
        `a network partition needs 5 nodes (2 cut off, a majority of 3 left); got ${target.nodes.length} ` +
          `(${ids(target.nodes)}). ${howToStart}`,
      );
    }
    if (!(await faultsEnabled(target.nodes))) {
      throw new PreconditionFailed(
        `a network partition is made with the fault API: every node must run with --enable-faults. ${howToStart}`,
      );
    }
  },
  async run(ctx) {
    const { nodes } = ctx.target;
    ctx.step(`Waiting for a leader among ${ids(nodes)}...`);
    const first = await waitForLeader(ctx, nodes);
    ctx.observe('oldLeader', first.id);
    ctx.observe('oldTerm', first.term);
    const old = ctx.target.node(first.id);
    // The leader and one more: the majority side must elect a leader of its own.
    const minority = [old, nodes.find((n) => n.id !== first.id)!];
    const majority = nodes.filter((n) => !minority.includes(n));
    ctx.observe(
      'minority',
      minority.map((n) => n.id),
    );
    ctx.observe(
      'majority',
      majority.map((n) => n.id),
    );
    ctx.step(
      `${first.id} leads (term ${first.term}). Partitioning {${ids(minority)}} from {${ids(majority)}}: ` +
        `${ids(minority)} drop every Raft message to and from ${ids(majority)} (POST /admin/faults dropTo/dropFrom)...`,
    );
    const cut = majority.map((n) => n.id);
    const heal = async (): Promise<void> => {
      await Promise.all(minority.map((n) => n.client.healFaults({ timeoutMs: ctx.timing.requestMs })));
    };
    const undo = ctx.undo(`${ids(minority)} healed`, heal);
    const cutAt = performance.now();
    await Promise.all(
      minority.map((n) =>
        n.client.setFaults({ dropTo: cut, dropFrom: cut }, { timeoutMs: ctx.timing.requestMs }),
      ),
    );

    ctx.step(
      `Polling GET /debug of ${ids(majority)} every ${ctx.timing.pollMs} ms for a leader of the majority...`,
    );
    const next = await waitForLeader(ctx, majority, first.term);
    const electedMs = Math.round(performance.now() - cutAt);
    ctx.observe('majorityLeader', next.id);
    ctx.observe('majorityTerm', next.term);
    ctx.observe('electionMs', electedMs);
    ctx.step(`${next.id} was elected by the majority in term ${next.term}, ${electedMs} ms after the cut.`);

    const majorityKey = `exercise/3/${ctx.runId}/majority`;
    const committed = await writeThrough(ctx, ctx.target.node(next.id), majorityKey, `through ${next.id}`);
    ctx.observe('majorityWriteIndex', committed.index);
    ctx.step(`A write through ${next.id} (majority side) committed at index ${committed.index}.`);

    const minorityKey = `exercise/3/${ctx.runId}/minority`;
    const bound = ctx.timing.minorityWriteMs;
    ctx.step(`A write through ${first.id} (minority side), given ${bound} ms...`);
    const minorityWrite: { readonly index: number } | { readonly error: unknown } = await old.client
      .put(minorityKey, `through ${first.id}`, {
        idempotencyKey: `exercise-${ctx.runId}-minority`,
        timeoutMs: bound,
      })
      .then(
        (r) => ({ index: r.index }),
        (error: unknown) => ({ error }),
      );
    if ('index' in minorityWrite) {
      ctx.observe('minorityWrite', `committed at index ${minorityWrite.index}`);
      throw new ExerciseFailed(
        `a write through ${first.id}, cut off with ${minority.length - 1} other node(s), committed at index ${minorityWrite.index}: ` +
          'the minority side must not be able to commit',
      );
    }
    const { error } = minorityWrite;
    const minorityOutcome = `${!mayHaveHappened(error) ? 'refused' : 'outcome unknown'}: ${describeFailure(error)}`;
    ctx.observe('minorityWrite', minorityOutcome);
    const onMajority = await settledValue(ctx, ctx.target.node(next.id), minorityKey);
    ctx.step(
      `The minority write did not commit (${minorityOutcome}); a linearizable read on ${next.id} finds ${minorityKey} ${quote(onMajority)}.`,
    );
    if (onMajority !== null) {
      throw new ExerciseFailed(
        `the write through the minority side is in the majority's state: ${quote(onMajority)}`,
      );
    }

    ctx.step(`Healing the partition (DELETE /admin/faults on ${ids(minority)})...`);
    const healedAt = performance.now();
    await heal();
    undo.done();
    const caughtUp: Record<string, number> = {};
    for (const n of minority) {
      await waitApplied(ctx, n, committed.index);
      const v = await valueOn(ctx, n, majorityKey, { consistency: 'stale', minIndex: committed.index });
      if (v !== `through ${next.id}`) {
        throw new ExerciseFailed(
          `${n.id} caught up to index ${committed.index} but reads ${majorityKey} as ${quote(v)}`,
        );
      }
      caughtUp[n.id] = Math.round(performance.now() - healedAt);
    }
    ctx.observe('catchUpMs', caughtUp);
    ctx.step(
      `The minority caught up: ${minority.map((n) => `${n.id} reads the majority's write (stale, minIndex ${committed.index}) after ${caughtUp[n.id]} ms`).join('; ')}.`,
    );
    const leaderNow = await waitForLeader(ctx, nodes);
    const after = await settledValue(ctx, ctx.target.node(leaderNow.id), minorityKey);
    ctx.step(
      `After the heal, ${leaderNow.id} leads (term ${leaderNow.term}); ${minorityKey} is ${quote(after)} cluster-wide.`,
    );
    if (after !== null) {
      throw new ExerciseFailed(
        `the write through the minority side surfaced after the heal: ${quote(after)}`,
      );
    }
    return (
      `the majority {${ids(majority)}} elected ${next.id} (term ${next.term}) in ${electedMs} ms and committed; ` +
      `the minority {${ids(minority)}} could not (${minorityOutcome}); healed, it caught up`
    );
  },
};
