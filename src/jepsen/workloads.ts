// The two workloads.
//
// Register: concurrent get / put / compare-and-set on a few keys, unique values, each request to
// a random node. Like Jepsen's "independent" keys, each key slot moves on to a fresh key after a
// bounded number of operations, which keeps every key's history small enough for the checker.
//
// Set: unique elements added to a few bucket keys by read-modify-write: read the bucket, then
// compare-and-set it from what was read to that plus the element. An indeterminate CAS is retried
// with the same Idempotency-Key (a retry of a write that did commit must get the first answer,
// 200, rather than a 409); a 409 starts a new round with a fresh read. A round that finds the
// element already in the bucket stops (an earlier indeterminate attempt took effect). At the end
// one read of every bucket must contain each acknowledged element exactly once.

import type { GetOutcome, WriteOutcome } from '../check/index.js';
import { fieldOf } from '../client/errors.js';
import { apiRequests, type RaftkvClient } from '../client/index.js';
import type { Prng } from '../random.js';
import { definiteFailure, describeAnswer, type Exchange, exchange } from './client.js';
import type { RegisterCall } from './recorder.js';

export interface Target {
  /** Node number (1..n), for the report. */
  readonly node: number;
  readonly client: RaftkvClient;
}

/** Reads as the workloads make them: linearizable, or from local state with --stale-reads. */
function readOptions(stale: boolean): { consistency?: 'stale' } {
  return stale ? { consistency: 'stale' } : {};
}

function getOutcome(x: Exchange): GetOutcome {
  if (x.kind === 'unsent') return { type: 'fail', error: x.error };
  if (x.kind === 'lost') return { type: 'info', error: x.error };
  if (x.status === 200 || x.status === 404) {
    const v = fieldOf(x.body, 'value');
    if (x.status === 404) return { type: 'ok', value: null };
    if (typeof v === 'string') return { type: 'ok', value: v };
    return { type: 'info', error: `200 without a value` };
  }
  const error = describeAnswer(x.status, x.body);
  return definiteFailure(x.status, x.body) ? { type: 'fail', error } : { type: 'info', error };
}

function writeOutcome(x: Exchange, isCas: boolean): WriteOutcome {
  if (x.kind === 'unsent') return { type: 'fail', error: x.error };
  if (x.kind === 'lost') return { type: 'info', error: x.error };
  if (x.status === 200) return { type: 'ok' };
  const error = describeAnswer(x.status, x.body);
  if (x.status === 409 && isCas && fieldOf(x.body, 'code') === 'precondition_failed') {
    return { type: 'fail', precondition: true, error };
  }
  return definiteFailure(x.status, x.body) ? { type: 'fail', error } : { type: 'info', error };
}

export interface RegisterOptions {
  /** Keys in use at once. */
  readonly slots: number;
  /** Operations on one key before its slot moves to a fresh key. */
  readonly opsPerKey: number;
  /** Serve reads from local state (`?consistency=stale`): unsafe, to show the runner can fail. */
  readonly staleReads: boolean;
  readonly timeoutMs: number;
}

export class RegisterWorkload {
  private readonly generation: number[];
  private readonly used: number[];
  private nextValue = 0;
  /** The latest value seen per key, and recent values written, to pick CAS preconditions from. */
  private readonly latest = new Map<string, string | null>();
  private readonly recent = new Map<string, string[]>();
  readonly keys = new Set<string>();

  constructor(readonly options: RegisterOptions) {
    this.generation = new Array<number>(options.slots).fill(0);
    this.used = new Array<number>(options.slots).fill(0);
  }

  private keyFor(slot: number): string {
    if (this.used[slot]! >= this.options.opsPerKey) {
      this.generation[slot]!++;
      this.used[slot] = 0;
    }
    this.used[slot]!++;
    const key = `r${slot}.${this.generation[slot]}`;
    this.keys.add(key);
    return key;
  }

  /** A read of a key in use now (for the quiet phase). */
  readCall(rng: Prng): RegisterCall {
    const slot = rng.nextInt(this.options.slots);
    return { kind: 'get', key: `r${slot}.${this.generation[slot]}` };
  }

  nextCall(rng: Prng): RegisterCall {
    const key = this.keyFor(rng.nextInt(this.options.slots));
    const r = rng.next();
    if (r < 0.5) return { kind: 'get', key };
    const value = `v${this.nextValue++}`;
    if (r < 0.7) return { kind: 'put', key, value };
    const recent = this.recent.get(key) ?? [];
    let prevValue: string | null;
    if (rng.next() < 0.75 && this.latest.has(key)) prevValue = this.latest.get(key) ?? null;
    else if (recent.length > 0 && rng.next() < 0.8) prevValue = rng.pick(recent);
    else prevValue = null;
    return { kind: 'cas', key, prevValue, value };
  }

  private saw(key: string, value: string | null): void {
    this.latest.set(key, value);
  }

  private wrote(key: string, value: string): void {
    const list = this.recent.get(key) ?? [];
    list.push(value);
    if (list.length > 5) list.shift();
    this.recent.set(key, list);
  }

  async perform(call: RegisterCall, target: Target): Promise<GetOutcome | WriteOutcome> {
    const timeoutMs = this.options.timeoutMs;
    switch (call.kind) {
      case 'get': {
        const x = await exchange(
          target.client,
          apiRequests.get(call.key, readOptions(this.options.staleReads)),
          timeoutMs,
        );
        const o = getOutcome(x);
        if (o.type === 'ok') this.saw(call.key, o.value);
        return o;
      }
      case 'put':
      case 'cas': {
        this.wrote(call.key, call.value);
        const req =
          call.kind === 'put'
            ? apiRequests.put(call.key, call.value)
            : apiRequests.put(call.key, call.value, { prevValue: call.prevValue });
        const x = await exchange(target.client, req, timeoutMs);
        const o = writeOutcome(x, call.kind === 'cas');
        if (o.type === 'ok') this.saw(call.key, call.value);
        else if (o.type === 'fail' && o.precondition && x.kind === 'answered') {
          const current = fieldOf(x.body, 'value');
          if (typeof current === 'string' || current === null) this.saw(call.key, current);
        }
        return o;
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Set

export type SetAttemptResult = 'ok' | 'precondition' | 'fail' | 'info' | 'read-failed' | 'already-present';

export interface SetAttempt {
  /** When the answer came (or the attempt gave up); for a CAS also when it was sent. */
  readonly at: number;
  readonly sentAt?: number;
  readonly node: number;
  readonly round: number;
  readonly idempotencyKey?: string;
  readonly result: SetAttemptResult;
  readonly error?: string;
}

export interface SetAdd {
  readonly element: string;
  readonly bucket: string;
  readonly process: number;
  readonly invokedAt: number;
  completedAt: number;
  /** ok: acknowledged (or seen present); fail: definitely not added; info: may or may not be. */
  outcome: 'ok' | 'fail' | 'info';
  readonly attempts: SetAttempt[];
}

export interface SetOptions {
  readonly buckets: number;
  readonly staleReads: boolean;
  readonly timeoutMs: number;
  /** Give up on an element after this long (it stays indeterminate if any attempt was). */
  readonly giveUpMs: number;
}

export interface SetCheck {
  readonly valid: boolean;
  readonly attempted: number;
  readonly acknowledged: number;
  readonly indeterminate: number;
  readonly failed: number;
  /** Found in the final read. */
  readonly present: number;
  /** Acknowledged but missing from the final read. */
  readonly lost: readonly string[];
  /** In the final read more than once. */
  readonly duplicated: readonly string[];
  /** In the final read but never attempted, or definitely failed. */
  readonly unexpected: readonly string[];
  /** Indeterminate and present. */
  readonly recovered: number;
  readonly finalRead: 'ok' | 'failed';
  readonly finalReadError?: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const setPrefix = 'set/';

function splitBucket(v: string | null): string[] {
  return v === null || v === '' ? [] : v.split(',');
}

export class SetWorkload {
  private nextElement = 0;
  readonly adds: SetAdd[] = [];

  constructor(readonly options: SetOptions) {}

  bucketKey(b: number): string {
    return `${setPrefix}b${b}`;
  }

  /** Adds one new element; `pickTarget` gives a random node per request. */
  async add(rng: Prng, process: number, now: () => number, pickTarget: () => Target): Promise<SetAdd> {
    const element = `e${this.nextElement++}`;
    const bucket = this.bucketKey(rng.nextInt(this.options.buckets));
    const add: SetAdd = {
      element,
      bucket,
      process,
      invokedAt: now(),
      completedAt: 0,
      outcome: 'fail',
      attempts: [],
    };
    this.adds.push(add);
    const { timeoutMs, staleReads } = this.options;
    const deadline = add.invokedAt + this.options.giveUpMs;
    let sawInfo = false;
    let done = false;
    for (let round = 0; !done && now() < deadline; round++) {
      const reader = pickTarget();
      const read = getOutcome(
        await exchange(reader.client, apiRequests.get(bucket, readOptions(staleReads)), timeoutMs),
      );
      if (read.type !== 'ok') {
        add.attempts.push({
          at: now(),
          node: reader.node,
          round,
          result: 'read-failed',
          error: read.error ?? '',
        });
        await sleep(50 + rng.nextInt(100));
        continue;
      }
      const members = splitBucket(read.value);
      if (members.includes(element)) {
        add.attempts.push({ at: now(), node: reader.node, round, result: 'already-present' });
        add.outcome = 'ok';
        done = true;
        break;
      }
      const value = [...members, element].join(',');
      const idempotencyKey = `${element}.r${round}`;
      for (let retry = 0; retry < 4 && now() < deadline; retry++) {
        const t = pickTarget();
        const sentAt = now();
        const x = await exchange(
          t.client,
          apiRequests.put(bucket, value, { prevValue: read.value, idempotencyKey }),
          timeoutMs,
        );
        const o = writeOutcome(x, true);
        const at = now();
        if (o.type === 'ok') {
          add.attempts.push({ at, sentAt, node: t.node, round, idempotencyKey, result: 'ok' });
          add.outcome = 'ok';
          done = true;
          break;
        }
        if (o.type === 'fail' && o.precondition) {
          add.attempts.push({ at, sentAt, node: t.node, round, idempotencyKey, result: 'precondition' });
          break;
        }
        if (o.type === 'info') sawInfo = true;
        add.attempts.push({
          at,
          sentAt,
          node: t.node,
          round,
          idempotencyKey,
          result: o.type,
          error: o.error ?? '',
        });
        await sleep(50 + rng.nextInt(100));
      }
    }
    if (!done) add.outcome = sawInfo ? 'info' : 'fail';
    add.completedAt = now();
    return add;
  }

  /** Reads every bucket with one prefix listing, retrying until `deadlineMs` of trying passed. */
  async finalRead(
    pickTarget: () => Target,
    deadlineMs: number,
  ): Promise<{ items: Map<string, string> } | { error: string }> {
    const until = Date.now() + deadlineMs;
    let lastError = 'not tried';
    while (Date.now() < until) {
      const t = pickTarget();
      const x = await exchange(
        t.client,
        apiRequests.list(setPrefix, { limit: 10_000, ...readOptions(this.options.staleReads) }),
        this.options.timeoutMs,
      );
      if (x.kind === 'answered' && x.status === 200) {
        const items = fieldOf(x.body, 'items');
        if (Array.isArray(items) && fieldOf(x.body, 'more') !== true) {
          const map = new Map<string, string>();
          for (const it of items) {
            const k = fieldOf(it, 'key');
            const v = fieldOf(it, 'value');
            if (typeof k === 'string' && typeof v === 'string') map.set(k, v);
          }
          return { items: map };
        }
        lastError = 'unexpected listing answer';
      } else {
        lastError = x.kind === 'answered' ? describeAnswer(x.status, x.body) : x.error;
      }
      await sleep(200);
    }
    return { error: lastError };
  }

  check(read: { items: Map<string, string> } | { error: string }): SetCheck {
    const count = (o: SetAdd['outcome']): number => this.adds.filter((a) => a.outcome === o).length;
    const base = {
      attempted: this.adds.length,
      acknowledged: count('ok'),
      indeterminate: count('info'),
      failed: count('fail'),
    };
    if ('error' in read) {
      return {
        ...base,
        valid: false,
        present: 0,
        lost: [],
        duplicated: [],
        unexpected: [],
        recovered: 0,
        finalRead: 'failed',
        finalReadError: read.error,
      };
    }
    const seen = new Map<string, number>();
    for (const [key, value] of read.items) {
      for (const e of splitBucket(value)) seen.set(`${key}|${e}`, (seen.get(`${key}|${e}`) ?? 0) + 1);
    }
    const byId = new Map(this.adds.map((a) => [`${a.bucket}|${a.element}`, a]));
    const lost: string[] = [];
    let recovered = 0;
    for (const a of this.adds) {
      const n = seen.get(`${a.bucket}|${a.element}`) ?? 0;
      if (a.outcome === 'ok' && n === 0) lost.push(a.element);
      if (a.outcome === 'info' && n > 0) recovered++;
    }
    const duplicated: string[] = [];
    const unexpected: string[] = [];
    for (const [id, n] of seen) {
      const element = id.slice(id.indexOf('|') + 1);
      if (n > 1) duplicated.push(element);
      const a = byId.get(id);
      if (!a || a.outcome === 'fail') unexpected.push(element);
    }
    return {
      ...base,
      valid: lost.length === 0 && duplicated.length === 0 && unexpected.length === 0,
      present: seen.size,
      lost,
      duplicated,
      unexpected,
      recovered,
      finalRead: 'ok',
    };
  }
}
