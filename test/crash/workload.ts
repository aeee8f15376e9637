// Concurrent writers against a real-process cluster, and the check of what survived.
//
// Every client writes its own unique keys (`<prefix>c<client>/<seq>`) and, now and then, one of a
// few hot keys everyone overwrites; every value is unique and never written twice. Each write is
// recorded with when it began and ended and its outcome:
//   ok       — 200: committed, fsynced on a majority, applied; it must survive anything
//   failed   — certainly not applied: connection refused, or an error answer with definite: true
//   unknown  — a timeout, a lost connection, an error with definite: false: it may or may not apply
//
// The check, after the faults stop and the replicas converge:
//   - every key read back was written by some client, with a value some client wrote for it
//     (nothing half-written, nothing invented), and not by a write that certainly failed;
//   - every unique key with an ok write holds exactly that value;
//   - a hot key holds a value whose write had not finished before some acknowledged write to the
//     same key began (otherwise the acknowledged write was lost behind an older one);
//   - every node holds exactly the same keys and values.

import { type Answer, describeError, neverArrived } from '../support/http.js';
import type { ProcessCluster } from '../support/process-cluster.js';
import { Prng } from '../support/random.js';
import { pause, waitFor } from '../support/wait.js';

export type Outcome = 'ok' | 'failed' | 'unknown';

export interface WriteRecord {
  readonly key: string;
  readonly value: string;
  readonly client: number;
  readonly node: string;
  readonly start: number;
  end: number;
  outcome: Outcome | 'pending';
  detail: string;
}

export interface WorkloadOptions {
  readonly clients: number;
  /** Every key starts with it (one workload per prefix). */
  readonly prefix: string;
  readonly hotKeys: number;
  /** Share of writes that go to a hot key. */
  readonly hotFraction: number;
  /** Largest value in characters (values are 20..maxValue). */
  readonly maxValue: number;
  /** Client-side bound on one request. */
  readonly requestTimeoutMs: number;
}

export const defaultWorkload: WorkloadOptions = {
  clients: 32,
  prefix: 'w/',
  hotKeys: 4,
  hotFraction: 0.15,
  maxValue: 2000,
  requestTimeoutMs: 8000,
};

const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class Workload {
  readonly writes: WriteRecord[] = [];
  /** 200 answers whose body did not echo the write (a protocol bug). */
  readonly anomalies: string[] = [];
  acked = 0;
  private stopping = false;
  private loops: Promise<void>[] = [];

  constructor(
    private readonly cluster: ProcessCluster,
    private readonly seed: number,
    readonly options: WorkloadOptions = defaultWorkload,
  ) {}

  hotKey(i: number): string {
    return `${this.options.prefix}hot/${i}`;
  }

  clientPrefix(c: number): string {
    return `${this.options.prefix}c${c}/`;
  }

  start(): void {
    for (let c = 0; c < this.options.clients; c++) this.loops.push(this.client(c));
  }

  /** Stops issuing writes and waits for every one in flight to be answered or to time out. */
  async stop(): Promise<void> {
    this.stopping = true;
    await Promise.all(this.loops);
  }

  count(outcome: Outcome): number {
    return this.writes.filter((w) => w.outcome === outcome).length;
  }

  private async client(c: number): Promise<void> {
    const rng = new Prng((this.seed ^ Math.imul(c + 1, 0x9e3779b1)) >>> 0);
    const o = this.options;
    for (let seq = 0; !this.stopping; seq++) {
      const targets = this.cluster.runningIds();
      if (targets.length === 0) {
        await pause(20);
        continue;
      }
      const node = rng.pick(targets);
      const key = rng.chance(o.hotFraction)
        ? this.hotKey(rng.int(0, o.hotKeys - 1))
        : `${this.clientPrefix(c)}${seq}`;
      let value = `v:${c}:${seq}:`;
      const len = rng.int(20, o.maxValue);
      while (value.length < len) value += alphabet[rng.int(0, alphabet.length - 1)];
      const rec: WriteRecord = {
        key,
        value,
        client: c,
        node,
        start: Date.now(),
        end: Number.POSITIVE_INFINITY,
        outcome: 'pending',
        detail: '',
      };
      this.writes.push(rec);
      let answer: Answer | null = null;
      try {
        answer = await this.cluster.put(node, key, value, { timeoutMs: o.requestTimeoutMs });
      } catch (e) {
        rec.outcome = neverArrived(e) ? 'failed' : 'unknown';
        rec.detail = describeError(e);
      }
      rec.end = Date.now();
      if (answer !== null) {
        if (answer.status === 200) {
          rec.outcome = 'ok';
          this.acked++;
          if (answer.body?.key !== key || answer.body?.value !== value || !(answer.body?.index > 0)) {
            this.anomalies.push(`200 for ${key} from ${node} with body ${answer.text.slice(0, 200)}`);
          }
        } else {
          rec.outcome = answer.body?.definite === true ? 'failed' : 'unknown';
          rec.detail = `${answer.status} ${answer.body?.code ?? answer.text.slice(0, 100)}`;
        }
      }
      if (rec.outcome !== 'ok') {
        // An unknown outcome never ends: the write may apply at any later time.
        if (rec.outcome === 'unknown') rec.end = Number.POSITIVE_INFINITY;
        await pause(rng.int(5, 30)); // pacing, so a leaderless cluster is not flooded
      }
    }
  }

  /** Waits until at least `n` more writes than now have been acknowledged. */
  async waitForAcks(n: number, what: string, timeoutMs = 30_000): Promise<void> {
    const target = this.acked + n;
    await waitFor(what, () => this.acked >= target, { timeoutMs, intervalMs: 10 });
  }
}

export interface CheckResult {
  readonly ok: number;
  readonly unknown: number;
  readonly failed: number;
  /** Unknown-outcome writes whose value is what the key holds now. */
  readonly unknownVisible: number;
  readonly keys: number;
  readonly commitIndex: number;
}

/**
 * Reads everything back (linearizable, from the leader), checks it against the write records,
 * then checks every node holds the same. Throws an Error listing the first violations.
 */
export async function checkWorkload(cluster: ProcessCluster, w: Workload): Promise<CheckResult> {
  const leader = await cluster.waitForLeader();
  const commitIndex = await cluster.waitConverged();
  const byKey = new Map<string, WriteRecord[]>();
  for (const rec of w.writes) {
    if (rec.outcome === 'pending') throw new Error(`write of ${rec.key} still pending after stop()`);
    const list = byKey.get(rec.key);
    if (list === undefined) byKey.set(rec.key, [rec]);
    else list.push(rec);
  }
  const prefixes = [
    ...Array.from({ length: w.options.clients }, (_, c) => w.clientPrefix(c)),
    `${w.options.prefix}hot/`,
  ];
  const read = async (node: string, consistency: 'stale' | 'linearizable'): Promise<Map<string, string>> => {
    const all = new Map<string, string>();
    // A client's keys end in its sequence number: a page that overflows splits by the next digit.
    const collect = async (p: string): Promise<void> => {
      const page = await cluster.listPage(node, p, consistency);
      if (!page.more) {
        for (const [k, v] of page.items) all.set(k, v);
        return;
      }
      // The key equal to the prefix sorts first, so it is on this page.
      const exact = page.items.get(p);
      if (exact !== undefined) all.set(p, exact);
      for (const d of '0123456789') await collect(`${p}${d}`);
    };
    for (const p of prefixes) await collect(p);
    // A key outside these prefixes was never written by anyone: the node's key count shows it.
    const total = Number((await cluster.debug(node)).keys);
    if (total !== all.size) {
      problems.push(`${node} holds ${total} keys, ${total - all.size} of them outside every prefix written`);
    }
    return all;
  };
  const problems: string[] = [...w.anomalies];
  const state = await read(leader, 'linearizable');

  let unknownVisible = 0;
  for (const [key, value] of state) {
    const recs = byKey.get(key);
    if (recs === undefined) {
      problems.push(`key ${key} exists but no client ever wrote it (value ${value.slice(0, 40)}...)`);
      continue;
    }
    const rec = recs.find((r) => r.value === value);
    if (rec === undefined) {
      problems.push(
        `key ${key} holds a value no client wrote for it: ${JSON.stringify(value.slice(0, 60))}...`,
      );
      continue;
    }
    if (rec.outcome === 'failed') {
      problems.push(
        `key ${key} holds the value of a write that certainly failed (${rec.detail} from ${rec.node})`,
      );
    }
    if (rec.outcome === 'unknown') unknownVisible++;
    const overtaking = recs.find((r) => r.outcome === 'ok' && r.start > rec.end);
    if (overtaking !== undefined) {
      problems.push(
        `key ${key} holds a value written before an acknowledged later write began: the later write ` +
          `(${overtaking.value.slice(0, 20)}..., started ${overtaking.start}) was lost behind one that ended at ${rec.end}`,
      );
    }
  }
  for (const [key, recs] of byKey) {
    const acked = recs.filter((r) => r.outcome === 'ok');
    if (acked.length === 0) continue;
    const now = state.get(key);
    if (now === undefined) {
      problems.push(
        `acknowledged write of ${key} is lost: the key is absent (${acked.length} acknowledged writes)`,
      );
    } else if (recs.length === 1 && now !== acked[0]!.value) {
      problems.push(`acknowledged write of ${key} is lost: it holds ${now.slice(0, 20)}...`);
    }
  }

  // Every replica, read locally, holds exactly the same.
  for (const id of cluster.runningIds()) {
    if (id === leader) continue;
    const local = await read(id, 'stale');
    if (local.size !== state.size) problems.push(`${id} holds ${local.size} keys, the leader ${state.size}`);
    let shown = 0;
    for (const [k, v] of state) {
      if (local.get(k) !== v && shown++ < 5) problems.push(`${id} differs from the leader at ${k}`);
    }
  }

  if (problems.length > 0) {
    const more = problems.length > 20 ? `\n... and ${problems.length - 20} more` : '';
    throw new Error(`${problems.length} violations:\n${problems.slice(0, 20).join('\n')}${more}`);
  }
  return {
    ok: w.count('ok'),
    unknown: w.count('unknown'),
    failed: w.count('failed'),
    unknownVisible,
    keys: state.size,
    commitIndex,
  };
}
