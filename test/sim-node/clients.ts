// Goal: clients of the simulated cluster, recording a history the linearizability checker can
// judge. Each client runs one operation at a time — put, linearizable get, cas, now and then a
// delete — on a few keys, with values unique across the run, against a random node's
// NodeKvService. A NotLeaderError is followed to the leader it names, as the HTTP server forwards
// a write. Outcomes follow the checker's three-way split, in virtual ms:
//   ok   — the service answered;
//   fail — definitely not applied: a definite RaftkvError (cas precondition failures flagged as
//          such), or the node was not serving so the request was never sent;
//   info — may or may not have applied: an indefinite RaftkvError (timeout, leadership lost,
//          shutting down), the serving node crashed mid-request, or the client gave up.
// A write may carry an Idempotency-Key; after an indeterminate answer the client then retries
// it (to any node) and only an `ok` settles it: the state machine's deduplication must make the
// retries and the original take effect once.
//
// Test-only switch: `ackBeforeCommit` answers a write as soon as the leader accepted the proposal,
// without waiting for it to commit. The simulator must catch it.

import { ConflictError, NotLeaderError, RaftkvError } from '../../src/api/errors.js';
import type { PutResponse } from '../../src/api/service.js';
import type { CasOp, DeleteOp, GetOp, KvOp, ProcessId, PutOp } from '../../src/check/index.js';
import type { NodeKvService } from '../../src/node/kv-service.js';
import type { NodeId } from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import { type CallResult, errorText, type SimCluster } from './cluster.js';
import type { Tracer } from './trace.js';
import { Domain, type Scheduler } from './virtual-clock.js';

export interface ClientConfig {
  readonly clients: number;
  readonly keys: readonly string[];
  /** Pause between two operations of one client: uniform in [0, thinkMs]. */
  readonly thinkMs: number;
  readonly requestTimeoutMs: number;
  /** Probability that a write carries an Idempotency-Key (and is retried when indeterminate). */
  readonly idempotentRate: number;
  /** Test-only: acknowledge writes before they commit. */
  readonly ackBeforeCommit: boolean;
}

export interface ClientStats {
  ok: number;
  fail: number;
  info: number;
  forwarded: number;
  retried: number;
}

type Outcome<T> =
  | { readonly type: 'ok'; readonly value: T }
  | { readonly type: 'fail'; readonly error: string; readonly precondition?: boolean }
  | { readonly type: 'info'; readonly error: string };

/** Hops to follow NotLeaderError, like the server's forwarding. */
/** What the ackBeforeCommit bug answers for a put: nothing is known of it yet. */
const NO_ANSWER_YET = (key: string, value: string): PutResponse => ({
  key,
  value,
  index: 0,
  version: 0,
  createIndex: 0,
  modIndex: 0,
});

const MAX_FORWARDS = 3;
const RETRIES = 2;

export class Clients {
  readonly history: KvOp[] = [];
  readonly stats: ClientStats = { ok: 0, fail: 0, info: 0, forwarded: 0, retried: 0 };
  readonly domain = new Domain('clients');
  private nextId = 1;
  private nextValue = 1;

  constructor(
    private readonly sched: Scheduler,
    private readonly cluster: SimCluster,
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    private readonly config: ClientConfig,
  ) {}

  /** Every client issues operations until virtual time `until`; resolves once all have finished. */
  run(until: number): Promise<void> {
    const runs: Promise<void>[] = [];
    for (let c = 1; c <= this.config.clients; c++) runs.push(this.client(c, this.rng.fork(), until));
    return Promise.all(runs).then(() => {});
  }

  /**
   * After the faults: reads `key` linearizably, from random nodes, until one read succeeds or
   * `patienceMs` passes. Every attempt goes into the history. Returns the value, or undefined.
   */
  async finalRead(key: string, patienceMs: number): Promise<string | null | undefined> {
    const giveUp = this.sched.now + patienceMs;
    const rng = this.rng;
    for (let attempt = 1; this.sched.now < giveUp; attempt++) {
      const target = rng.pick(this.cluster.ids);
      // A fresh process per attempt: an indeterminate read may still be in flight.
      const op = await this.get(`final-${key}.${attempt}`, target, key, rng);
      if (op.outcome.type === 'ok') return op.outcome.value;
      await this.sched.sleep(this.config.requestTimeoutMs / 10, this.domain);
    }
    return undefined;
  }

  private async client(c: number, rng: Prng, until: number): Promise<void> {
    let gen = 0;
    let process: ProcessId = `c${c}`;
    /** What this client last saw in each key: the cas's usual precondition. */
    const seen = new Map<string, string | null>();
    while (this.sched.now < until) {
      await this.sched.sleep(rng.int(0, this.config.thinkMs), this.domain);
      if (this.sched.now >= until) break;
      const key = rng.pick(this.config.keys);
      const target = rng.pick(this.cluster.ids);
      const dice = rng.next();
      let op: KvOp;
      if (dice < 0.4) {
        op = await this.get(process, target, key, rng);
        if (op.outcome.type === 'ok') seen.set(key, op.outcome.value);
      } else if (dice < 0.75) {
        const value = this.value(c);
        op = await this.put(process, target, key, value, rng);
        if (op.outcome.type === 'ok') seen.set(key, value);
      } else if (dice < 0.95) {
        const value = this.value(c);
        const prev = rng.chance(0.2) ? null : (seen.get(key) ?? null);
        op = await this.cas(process, target, key, prev, value, rng);
        if (op.outcome.type === 'ok') seen.set(key, value);
      } else {
        op = await this.del(process, target, key, rng);
        if (op.outcome.type === 'ok') seen.set(key, null);
      }
      // A process with an operation of unknown outcome may still have it in flight: a fresh one.
      if (op.outcome.type === 'info') process = `c${c}.${++gen}`;
    }
  }

  private value(c: number): string {
    return `v${this.nextValue++}c${c}`;
  }

  private async get(process: ProcessId, target: NodeId, key: string, rng: Prng): Promise<GetOp> {
    const invokedAt = this.sched.now;
    const deadline = invokedAt + this.config.requestTimeoutMs;
    const r = await this.send(
      target,
      (svc) => svc.get(key, { consistency: 'linearizable' }, deadline),
      deadline,
      rng,
    );
    const o = this.classify(r);
    const op: GetOp = {
      id: this.nextId++,
      process,
      key,
      kind: 'get',
      invokedAt,
      completedAt: this.sched.now,
      outcome: o.type === 'ok' ? { type: 'ok', value: o.value.value } : o,
    };
    return this.record(op, `get ${key}`);
  }

  private async put(
    process: ProcessId,
    target: NodeId,
    key: string,
    value: string,
    rng: Prng,
  ): Promise<PutOp> {
    const invokedAt = this.sched.now;
    const o = await this.write(
      target,
      rng,
      invokedAt,
      (idem) => (svc, deadline) =>
        this.ack(svc.put({ key, value, ...idem }, deadline), NO_ANSWER_YET(key, value)),
    );
    const op: PutOp = {
      id: this.nextId++,
      process,
      key,
      kind: 'put',
      value,
      invokedAt,
      completedAt: this.sched.now,
      outcome: o.type === 'ok' ? { type: 'ok' } : o,
    };
    return this.record(op, `put ${key}=${value}`);
  }

  private async cas(
    process: ProcessId,
    target: NodeId,
    key: string,
    prevValue: string | null,
    value: string,
    rng: Prng,
  ): Promise<CasOp> {
    const invokedAt = this.sched.now;
    const o = await this.write(
      target,
      rng,
      invokedAt,
      (idem) => (svc, deadline) =>
        this.ack(svc.put({ key, value, prevValue, ...idem }, deadline), NO_ANSWER_YET(key, value)),
    );
    const op: CasOp = {
      id: this.nextId++,
      process,
      key,
      kind: 'cas',
      prevValue,
      value,
      invokedAt,
      completedAt: this.sched.now,
      outcome: o.type === 'ok' ? { type: 'ok' } : o,
    };
    return this.record(op, `cas ${key} ${prevValue ?? '∅'}->${value}`);
  }

  private async del(process: ProcessId, target: NodeId, key: string, rng: Prng): Promise<DeleteOp> {
    const invokedAt = this.sched.now;
    const o = await this.write(
      target,
      rng,
      invokedAt,
      (idem) => (svc, deadline) =>
        this.ack(svc.del({ key, ...idem }, deadline), { key, deleted: true, index: 0 }),
    );
    const op: DeleteOp = {
      id: this.nextId++,
      process,
      key,
      kind: 'delete',
      invokedAt,
      completedAt: this.sched.now,
      outcome:
        o.type === 'ok'
          ? this.config.ackBeforeCommit
            ? { type: 'ok' }
            : { type: 'ok', existed: o.value.deleted }
          : o,
    };
    return this.record(op, `delete ${key}`);
  }

  /**
   * One write, with its retries: an attempt's indeterminate outcome is retried (same
   * Idempotency-Key) when the write carries one; after that only an `ok` is conclusive.
   */
  private async write<T>(
    target: NodeId,
    rng: Prng,
    invokedAt: number,
    make: (idem: { idempotencyKey?: string }) => (svc: NodeKvService, deadline: number) => Promise<T>,
  ): Promise<Outcome<T>> {
    const idempotent = rng.chance(this.config.idempotentRate);
    const idem = idempotent ? { idempotencyKey: `k${invokedAt}-${this.nextId}-${rng.nextU32()}` } : {};
    const fn = make(idem);
    let first = true;
    for (let attempt = 0; ; attempt++) {
      const deadline = this.sched.now + this.config.requestTimeoutMs;
      const to = attempt === 0 ? target : rng.pick(this.cluster.ids);
      const o = this.classify(await this.send(to, (svc) => fn(svc, deadline), deadline, rng));
      if (o.type === 'ok') return o;
      if (first && o.type === 'fail') return o;
      first = false;
      if (!idempotent || attempt >= RETRIES) return { type: 'info', error: o.error };
      this.stats.retried++;
      await this.sched.sleep(this.config.requestTimeoutMs / 10, this.domain);
    }
  }

  /** The ackBeforeCommit bug: a write still pending after 1 ms is reported done. */
  private ack<T>(p: Promise<T>, early: T): Promise<T> {
    if (!this.config.ackBeforeCommit) return p;
    return Promise.race([p, this.sched.sleep(1, this.domain).then(() => early)]);
  }

  /** Sends to `target`, following NotLeaderError to the leader it names. */
  private async send<T>(
    target: NodeId,
    fn: (svc: NodeKvService) => Promise<T>,
    deadline: number,
    rng: Prng,
  ): Promise<CallResult<T>> {
    let to = target;
    for (let hop = 0; ; hop++) {
      // The client waits a little past the server's deadline, which answers on its next tick.
      const patience = deadline - this.sched.now + 3 * this.cluster.config.heartbeatMs;
      const r = await this.cluster.call(to, fn, patience, this.domain);
      if (
        r.kind === 'error' &&
        r.error instanceof NotLeaderError &&
        r.error.leader !== null &&
        hop < MAX_FORWARDS
      ) {
        const leader = this.cluster.idOfAddress(r.error.leader);
        if (leader !== null) {
          this.stats.forwarded++;
          to = leader;
          continue;
        }
      }
      if (r.kind === 'refused' && hop === 0 && rng.chance(0.5)) {
        // Like a client with a list of servers: try another one.
        to = rng.pick(this.cluster.ids);
        continue;
      }
      return r;
    }
  }

  private classify<T>(r: CallResult<T>): Outcome<T> {
    switch (r.kind) {
      case 'ok':
        return { type: 'ok', value: r.value };
      case 'refused':
        return { type: 'fail', error: 'connection refused' };
      case 'crashed':
        return { type: 'info', error: 'node went down' };
      case 'timeout':
        return { type: 'info', error: 'client timeout' };
      case 'error': {
        const e = r.error;
        if (e instanceof ConflictError) return { type: 'fail', error: e.code, precondition: true };
        if (e instanceof RaftkvError)
          return e.definite ? { type: 'fail', error: e.code } : { type: 'info', error: e.code };
        this.cluster.violation(`a client got an unexpected error: ${errorText(e)}`);
        return { type: 'info', error: errorText(e) };
      }
    }
  }

  private record<T extends KvOp>(op: T, what: string): T {
    this.history.push(op);
    this.stats[op.outcome.type]++;
    if (this.tracer.on) {
      const o = op.outcome;
      const detail =
        o.type === 'ok'
          ? op.kind === 'get' && 'value' in o
            ? ` -> ${o.value ?? '∅'}`
            : ''
          : ` (${o.error ?? ''}${o.type === 'fail' && o.precondition === true ? ', precondition' : ''})`;
      this.tracer.event('client', `${op.process} #${op.id} ${what} [${op.invokedAt}] ${o.type}${detail}`);
    }
    return op;
  }
}
