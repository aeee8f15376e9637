// The seeded hostile-input run against a real cluster (docs/fuzzing.md): the generated raw
// requests of hostile-requests.ts, spread over the leader and the followers, several at a time.
// Every answer is judged as in the property test (a whole answer, never a 500, the documented
// JSON error shape, `definite` true on every 4xx); the documented 503/504 of a real cluster are
// allowed. Afterwards every node must be up and healthy, and every acknowledged write must be
// readable, linearizably, on every node: the value of the key's last acknowledged write (or of a
// write whose outcome was left unknown). Shared by `npm run fuzz` (hostile-cli.ts) and the
// bounded run in `npm test` (hostile-cluster.test.ts).

import fc from 'fast-check';
import type { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';
import {
  describe,
  documentedCodes,
  hostileRequest,
  judge,
  type RawRequest,
  send,
} from './hostile-requests.js';

export interface FuzzOptions {
  readonly requests: number;
  readonly seed: number;
  readonly concurrency: number;
}

export interface FuzzResult {
  /** Every broken promise found, one line each; empty when the run passed. */
  readonly failures: readonly string[];
  /** Answers by HTTP status. */
  readonly byStatus: ReadonlyMap<number, number>;
  readonly seconds: number;
  /** Keys with an acknowledged write. */
  readonly keysWritten: number;
  /** Reads of acknowledged writes checked, over all nodes. */
  readonly readsChecked: number;
}

/** What the acknowledged and unsettled writes say a key may hold at the end. */
interface KeyHistory {
  /** The acknowledged write with the highest log index: its value (null: deleted). */
  last: { index: number; value: string | null } | null;
  /** Values of writes answered 503/504 with definite: false — they may have applied later. */
  readonly unsettled: Set<string | null>;
}

/** The key and value a write request names, if it parses (the server decides whether it does). */
function writeTarget(r: RawRequest): { key: string; value: string | null } | null {
  if (r.method === 'POST' && r.target.split('?')[0] === '/kv') {
    try {
      const b = JSON.parse(Buffer.from(r.body).toString('utf8')) as { key?: unknown; value?: unknown };
      if (typeof b.key === 'string' && typeof b.value === 'string') return { key: b.key, value: b.value };
    } catch {
      return null;
    }
    return null;
  }
  if (r.method === 'DELETE' && r.target.startsWith('/kv/')) {
    try {
      return { key: decodeURIComponent(r.target.slice(4).split('?')[0]!), value: null };
    } catch {
      return null;
    }
  }
  return null;
}

export async function runHostileFuzz(
  cluster: ProcessCluster,
  o: FuzzOptions,
  log: (line: string) => void,
): Promise<FuzzResult> {
  const ids = [...cluster.ids];
  const codes = documentedCodes();
  const byStatus = new Map<number, number>();
  const failures: string[] = [];
  const keys = new Map<string, KeyHistory>();
  const historyOf = (key: string): KeyHistory => {
    let h = keys.get(key);
    if (h === undefined) {
      h = { last: null, unsettled: new Set() };
      keys.set(key, h);
    }
    return h;
  };

  let next = 0;
  const chunk = 200;
  let batch: RawRequest[] = [];
  let batchStart = 0;
  const take = (): { n: number; r: RawRequest } | null => {
    if (next >= o.requests) return null;
    if (next - batchStart >= batch.length) {
      // Generated lazily, a chunk at a time from a seed per chunk: bodies can be megabytes.
      batchStart = next;
      batch = fc.sample(hostileRequest, { numRuns: chunk, seed: o.seed + next });
    }
    const n = next++;
    return { n, r: batch[n - batchStart]! };
  };

  const t0 = performance.now();
  const worker = async (w: number): Promise<void> => {
    for (let item = take(); item !== null; item = take()) {
      const { n, r } = item;
      const id = ids[(n + w) % ids.length]!;
      let answer: Awaited<ReturnType<typeof send>>;
      try {
        answer = await send(cluster.node(id).spec.clientPort, r);
      } catch (e) {
        failures.push(`#${n} on ${id}: ${describe(r)}: ${(e as Error).message}`);
        continue;
      }
      byStatus.set(answer.status, (byStatus.get(answer.status) ?? 0) + 1);
      const problem = judge(r, answer, codes, answer.status < 400 || answer.status >= 500, true);
      if (problem !== null) failures.push(`#${n} on ${id}: ${describe(r)}: ${problem}`);
      const target = writeTarget(r);
      if (target === null) continue;
      if (answer.status === 200) {
        // What was acknowledged is what the answer says: a retried Idempotency-Key returns the
        // first write's answer, whatever this request carried.
        const ack = JSON.parse(answer.text) as {
          key?: unknown;
          value?: unknown;
          deleted?: unknown;
          index?: unknown;
        };
        if (typeof ack.key !== 'string' || typeof ack.index !== 'number') {
          failures.push(`#${n}: a write's 200 without key and index: ${answer.text}`);
          continue;
        }
        const value = typeof ack.value === 'string' ? ack.value : null;
        const h = historyOf(ack.key);
        if (h.last === null || ack.index > h.last.index) h.last = { index: ack.index, value };
      } else if (answer.status >= 500) {
        historyOf(target.key).unsettled.add(target.value);
      }
    }
  };
  const progress = setInterval(() => {
    log(`  ${next} sent, ${failures.length} failures`);
  }, 10_000);
  await Promise.all(Array.from({ length: o.concurrency }, (_, w) => worker(w)));
  clearInterval(progress);
  const seconds = (performance.now() - t0) / 1000;

  // Afterwards: every node up and healthy, the same state everywhere, every acknowledged write there.
  for (const id of ids) {
    if (!cluster.node(id).running) failures.push(`${id} is not running after the run`);
  }
  await waitFor(
    'every node healthy',
    async () => {
      for (const id of ids) {
        const h = await cluster.client(id).health();
        if (!h.ok) return false;
      }
      return true;
    },
    { timeoutMs: 30_000 },
  ).catch((e: Error) => failures.push(e.message));
  await cluster.waitConverged().catch((e: Error) => failures.push(e.message));
  let checked = 0;
  for (const [key, h] of keys) {
    if (h.last === null) continue;
    for (const id of ids) {
      // Raw, not fetch: a URL client would turn the keys "." and ".." into other paths.
      const a = await send(cluster.node(id).spec.clientPort, {
        method: 'GET',
        target: `/kv/${encodeURIComponent(key)}`,
        headers: [],
        body: new Uint8Array(0),
        framing: 'length',
      });
      const value =
        a.status === 200
          ? (JSON.parse(a.text) as { value: string }).value
          : a.status === 404
            ? null
            : undefined;
      if (value === undefined)
        failures.push(`read of ${JSON.stringify(key)} on ${id}: ${a.status} ${a.text}`);
      else if (value !== h.last.value && !h.unsettled.has(value)) {
        failures.push(
          `${JSON.stringify(key)} on ${id} holds ${JSON.stringify(value)}; its last acknowledged write (index ${h.last.index}) says ${JSON.stringify(h.last.value)}`,
        );
      }
      checked++;
    }
  }
  return {
    failures,
    byStatus,
    seconds,
    keysWritten: [...keys.values()].filter((h) => h.last !== null).length,
    readsChecked: checked,
  };
}

/** The answers by status, as `200×12 400×7`. */
export function statusSummary(byStatus: ReadonlyMap<number, number>): string {
  return [...byStatus]
    .sort((a, b) => a[0] - b[0])
    .map(([s, n]) => `${s}×${n}`)
    .join(' ');
}
