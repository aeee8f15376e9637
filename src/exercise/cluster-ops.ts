// What the exercises do to a cluster, each bounded: wait for a leader (polling /debug, 50 ms),
// write through one node (one idempotency key, retried while the failure allows), read, and say
// what a failure was in the API's own terms.

import { type NodeStatus, type PutResult, RaftkvApiError, RaftkvConnectionError } from '../client/index.js';
import { retryableFailure, sleep } from '../client/retry.js';
import { type ExerciseContext, ExerciseFailed } from './runner.js';
import type { ExerciseNode } from './target.js';

/** A failure as the narration says it: `503 no_leader (definite)`, `no answer within 3000 ms`. */
export function describeFailure(e: unknown): string {
  if (e instanceof RaftkvApiError) {
    return `${e.status}${e.code === null ? '' : ` ${e.code}`} (definite: ${e.definite})`;
  }
  if (e instanceof RaftkvConnectionError) return e.reason;
  return e instanceof Error ? e.message : String(e);
}

export async function statusOf(node: ExerciseNode, timeoutMs: number): Promise<NodeStatus | null> {
  try {
    return await node.client.status({ timeoutMs });
  } catch {
    return null;
  }
}

export interface LeaderSeen {
  readonly id: string;
  readonly term: number;
}

/**
 * Polls GET /debug of `among` every pollMs until one of them says it leads in a term after
 * `afterTerm`. FAIL after waitMs, with what each node last said.
 */
export async function waitForLeader(
  ctx: ExerciseContext,
  among: readonly ExerciseNode[],
  afterTerm = 0,
): Promise<LeaderSeen> {
  const { pollMs, waitMs } = ctx.timing;
  const deadline = performance.now() + waitMs;
  let seen = '';
  for (;;) {
    const infos = await Promise.all(
      among.map((n) => statusOf(n, Math.max(200, Math.min(1000, pollMs * 10)))),
    );
    const leader = infos.find((d) => d !== null && d.state === 'leader' && d.term > afterTerm);
    if (leader) return { id: leader.nodeId, term: leader.term };
    seen = among
      .map((n, i) => {
        const d = infos[i];
        return d ? `${n.id} ${d.state} in term ${d.term}` : `${n.id} not answering`;
      })
      .join(', ');
    if (performance.now() > deadline) {
      throw new ExerciseFailed(
        `no leader among ${among.map((n) => n.id).join(', ')}${afterTerm > 0 ? ` after term ${afterTerm}` : ''} ` +
          `within ${waitMs} ms (last seen: ${seen})`,
      );
    }
    await sleep(pollMs);
  }
}

/**
 * Puts key=value through `node` alone, with one idempotency key, retried (the same key: applied
 * at most once) after a failure another try may not have (no connection, no leader, a timeout, a
 * 5xx), until waitMs.
 */
export async function writeThrough(
  ctx: ExerciseContext,
  node: ExerciseNode,
  key: string,
  value: string,
): Promise<PutResult> {
  const deadline = performance.now() + ctx.timing.waitMs;
  const idempotencyKey = `exercise-${ctx.runId}-${key}`;
  for (;;) {
    try {
      return await node.client.put(key, value, { idempotencyKey, timeoutMs: ctx.timing.requestMs });
    } catch (e) {
      if (!retryableFailure(e) || performance.now() > deadline) {
        throw new ExerciseFailed(`the write of ${key} through ${node.id} failed: ${describeFailure(e)}`);
      }
      await sleep(100);
    }
  }
}

/** How a read is made: its consistency, the index it waits for, its bound (requestMs if none). */
export interface ReadOptions {
  readonly consistency?: 'stale' | 'linearizable';
  readonly minIndex?: number;
  readonly timeoutMs?: number;
}

/** The value of `key` on `node` (null: absent), or throws as the client does. */
export async function valueOn(
  ctx: ExerciseContext,
  node: ExerciseNode,
  key: string,
  options: ReadOptions = {},
): Promise<string | null> {
  const r = await node.client.get(key, {
    ...(options.consistency !== undefined && { consistency: options.consistency }),
    ...(options.minIndex !== undefined && { minIndex: options.minIndex }),
    timeoutMs: options.timeoutMs ?? ctx.timing.requestMs,
  });
  return r.value;
}

/** What one read on one node gave: the value (null: absent), or the failure as describeFailure says it. */
export type ReadOutcome =
  | { readonly value: string | null; readonly failure: null }
  | { readonly value: null; readonly failure: string };

/** Reads `key` on `node` once; a failure is an outcome too, not a throw. */
export async function readOn(
  ctx: ExerciseContext,
  node: ExerciseNode,
  key: string,
  options: ReadOptions = {},
): Promise<ReadOutcome> {
  try {
    return { value: await valueOn(ctx, node, key, options), failure: null };
  } catch (e) {
    return { value: null, failure: describeFailure(e) };
  }
}

/**
 * A read as the narration says it: the value quoted (as it is with `quoted` false, for the
 * report's observations), `(absent)`, or `failed: ` and the failure.
 */
function showRead(r: ReadOutcome, quoted = true): string {
  if (r.failure !== null) return `failed: ${r.failure}`;
  if (r.value === null) return '(absent)';
  return quoted ? JSON.stringify(r.value) : r.value;
}

/** Reads by node id as the report records them: `{n1: "the value" | "(absent)" | "failed: ..."}`. */
export function observedReads(reads: ReadonlyMap<string, ReadOutcome>): Record<string, string> {
  return Object.fromEntries([...reads].map(([id, r]) => [id, showRead(r, false)]));
}

/** Reads by node id as narrated: `n1 "the value"; n2 (absent); n3 failed: 503 no_leader (definite: true)`. */
export function narratedReads(reads: ReadonlyMap<string, ReadOutcome>): string {
  return [...reads].map(([id, r]) => `${id} ${showRead(r)}`).join('; ');
}

/**
 * A linearizable read of `key` on `node`, tried again after a failure (an election under way)
 * until waitMs: for checks whose point is the value, not whether one read went through.
 */
export async function settledValue(
  ctx: ExerciseContext,
  node: ExerciseNode,
  key: string,
): Promise<string | null> {
  const deadline = performance.now() + ctx.timing.waitMs;
  for (;;) {
    try {
      return await valueOn(ctx, node, key, { consistency: 'linearizable' });
    } catch (e) {
      if (performance.now() > deadline) {
        throw new ExerciseFailed(`a linearizable read of ${key} on ${node.id} failed: ${describeFailure(e)}`);
      }
      await sleep(100);
    }
  }
}

/**
 * Polls `node`'s GET /debug until it has applied `index`; resolves with the milliseconds that
 * took. FAIL after waitMs.
 */
export async function waitApplied(ctx: ExerciseContext, node: ExerciseNode, index: number): Promise<number> {
  const from = performance.now();
  let last = 'not answering';
  for (;;) {
    const d = await statusOf(node, 1000);
    if (d !== null && d.lastApplied >= index) return Math.round(performance.now() - from);
    if (d !== null) last = `applied ${d.lastApplied}, ${d.state} in term ${d.term}`;
    if (performance.now() - from > ctx.timing.waitMs) {
      throw new ExerciseFailed(
        `${node.id} did not apply index ${index} within ${ctx.timing.waitMs} ms (last seen: ${last})`,
      );
    }
    await sleep(ctx.timing.pollMs);
  }
}

/** Polls until `node` answers GET /debug again; resolves with the milliseconds that took. */
export async function waitAnswering(ctx: ExerciseContext, node: ExerciseNode): Promise<number> {
  const from = performance.now();
  for (;;) {
    if ((await statusOf(node, 1000)) !== null) return Math.round(performance.now() - from);
    if (performance.now() - from > ctx.timing.waitMs) {
      throw new ExerciseFailed(`${node.id} did not answer within ${ctx.timing.waitMs} ms of being started`);
    }
    await sleep(ctx.timing.pollMs);
  }
}

/** Whether every node answers GET /admin/faults (started with --enable-faults). */
export async function faultsEnabled(nodes: readonly ExerciseNode[], timeoutMs = 5000): Promise<boolean> {
  const answers = await Promise.all(
    nodes.map((n) =>
      n.client.faults({ timeoutMs }).then(
        () => true,
        () => false,
      ),
    ),
  );
  return answers.every((a) => a);
}

export function ids(nodes: readonly ExerciseNode[]): string {
  return nodes.map((n) => n.id).join(', ');
}

export function quote(v: string | null): string {
  return v === null ? 'absent' : JSON.stringify(v);
}
