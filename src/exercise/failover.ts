// Exercise 2, leader failover: the leader fails — killed (SIGKILL) through the supervisor of
// `raftkv cluster`, or without one cut off with the fault API (isolate) — and the others elect a
// new one after an election timeout; the time that takes is measured by polling their /debug
// every 50 ms. Writes go on through the new leader; the old one, restarted (or healed), rejoins as
// a follower and catches up on what it missed from the new leader's log.

import {
  describeFailure,
  faultsEnabled,
  ids,
  quote,
  statusOf,
  valueOn,
  waitAnswering,
  waitApplied,
  waitForLeader,
  writeThrough,
} from './cluster-ops.js';
import { type Exercise, ExerciseFailed, PreconditionFailed } from './runner.js';
import type { ExerciseNode } from './target.js';

const keysEachSide = 5;

export const leaderFailover: Exercise = {
  n: 2,
  title: 'Leader failover',
  async precondition(target) {
    if (target.nodes.length < 3) {
      throw new PreconditionFailed(
        `leader failover needs at least 3 nodes (a majority left when one fails); got ${target.nodes.length}. ` +
          'Start them with: raftkv cluster --enable-faults',
      );
    }
    if (target.supervisor === null && !(await faultsEnabled(target.nodes))) {
      throw new PreconditionFailed(
        `leader failover needs a way to fail the leader: the supervisor of raftkv cluster (${target.supervisorNote}) ` +
          'or fault injection (--enable-faults) on every node. Start them with: raftkv cluster --enable-faults',
      );
    }
  },
  async run(ctx) {
    const { nodes, supervisor } = ctx.target;
    ctx.step(`Waiting for a leader among ${ids(nodes)}...`);
    const first = await waitForLeader(ctx, nodes);
    ctx.observe('oldLeader', first.id);
    ctx.observe('oldTerm', first.term);
    const old = ctx.target.node(first.id);
    const written = new Map<string, string>();
    let lastIndex = 0;
    const write = async (via: ExerciseNode, name: string): Promise<void> => {
      const key = `exercise/2/${ctx.runId}/${name}`;
      const value = `${name} through ${via.id}`;
      lastIndex = Math.max(lastIndex, (await writeThrough(ctx, via, key, value)).index);
      written.set(key, value);
    };
    for (let i = 1; i <= keysEachSide; i++) await write(old, `before-${i}`);
    ctx.step(`Wrote ${keysEachSide} keys through ${first.id}; the last committed at index ${lastIndex}.`);

    const others = nodes.filter((n) => n.id !== first.id);
    const failedAt = performance.now();
    const undo =
      supervisor !== null
        ? ctx.undo(`${first.id} restarted`, () => supervisor.act(first.id, 'restart'))
        : ctx.undo(`${first.id} healed`, () => old.client.healFaults({ timeoutMs: ctx.timing.requestMs }));
    if (supervisor !== null) {
      ctx.step(`${first.id} leads (term ${first.term}); killing it (SIGKILL via the supervisor)...`);
      const gone = await supervisor.act(first.id, 'kill');
      ctx.observe('failedBy', 'SIGKILL through the supervisor');
      ctx.step(`${first.id} is down (its process is gone: running=${gone.running}).`);
    } else {
      ctx.step(
        `${first.id} leads (term ${first.term}); no supervisor (${ctx.target.supervisorNote}), so isolating it ` +
          'with the fault API instead (POST /admin/faults {"isolate": true}: every Raft message to and from it is dropped)...',
      );
      await old.client.setFaults({ isolate: true }, { timeoutMs: ctx.timing.requestMs });
      ctx.observe('failedBy', 'isolated with the fault API');
    }
    ctx.step(`Polling GET /debug of ${ids(others)} every ${ctx.timing.pollMs} ms for a new leader...`);
    const next = await waitForLeader(ctx, others, first.term);
    const failoverMs = Math.round(performance.now() - failedAt);
    ctx.observe('newLeader', next.id);
    ctx.observe('newTerm', next.term);
    ctx.observe('failoverMs', failoverMs);
    ctx.step(
      `${next.id} was elected leader in term ${next.term}, ${failoverMs} ms after ${first.id} failed ` +
        '(an election timeout without heartbeats, then one round of votes).',
    );

    const newLeader = ctx.target.node(next.id);
    for (let i = 1; i <= keysEachSide; i++) await write(newLeader, `after-${i}`);
    ctx.observe('lastIndex', lastIndex);
    ctx.step(`Wrote ${keysEachSide} more keys through ${next.id}, the last committed at index ${lastIndex}.`);

    const backAt = performance.now();
    if (supervisor !== null) {
      ctx.step(`Restarting ${first.id} on its data dir (via the supervisor)...`);
      await supervisor.act(first.id, 'restart');
      const upMs = await waitAnswering(ctx, old);
      ctx.step(`${first.id} answers again after ${upMs} ms, with the log it had on disk.`);
    } else {
      ctx.step(`Healing ${first.id} (DELETE /admin/faults)...`);
      await old.client.healFaults({ timeoutMs: ctx.timing.requestMs });
    }
    undo.done();
    const appliedMs = await waitApplied(ctx, old, lastIndex);
    const catchUpMs = Math.round(performance.now() - backAt);
    ctx.observe('catchUpMs', catchUpMs);
    const now = await statusOf(old, ctx.timing.requestMs);
    const role =
      now === null
        ? 'not answering'
        : `a ${now.state} in term ${now.term}, leader ${now.leaderId ?? 'unknown'}`;
    ctx.observe(
      'oldLeaderNow',
      now === null ? null : { state: now.state, term: now.term, leaderId: now.leaderId },
    );
    ctx.step(
      `${first.id} has applied everything up to index ${lastIndex}, ${catchUpMs} ms after it came back ` +
        `(${appliedMs} ms of it catching up); it is now ${role}.`,
    );

    const wrong: string[] = [];
    for (const [key, value] of written) {
      try {
        const v = await valueOn(ctx, old, key, { consistency: 'stale' });
        if (v !== value) wrong.push(`${key}: ${quote(v)}, expected ${quote(value)}`);
      } catch (e) {
        wrong.push(`${key}: ${describeFailure(e)}`);
      }
    }
    ctx.step(
      `Stale reads of all ${written.size} keys on ${first.id} (its own state): ${wrong.length === 0 ? 'every one as written' : `${wrong.length} wrong`}.`,
    );
    if (wrong.length > 0) throw new ExerciseFailed(`${first.id} did not catch up: ${wrong.join('; ')}`);
    return (
      `${first.id} failed (${supervisor !== null ? 'killed' : 'isolated'}); ${next.id} led after ${failoverMs} ms ` +
      `(term ${next.term}) and took writes; ${first.id} came back and had all ${written.size} keys ${catchUpMs} ms later`
    );
  },
};
