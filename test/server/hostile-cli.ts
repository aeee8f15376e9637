// Goal: the long hostile-input run (`npm run fuzz:http -- --cases 100000`): the generated raw
// requests of hostile-requests.ts, sent to a real 3-node cluster (node processes on loopback),
// spread over the leader and the followers, several at a time. Every answer is judged as in the
// property test (a whole answer, never a 500, the documented JSON error shape, `definite` true on
// every 4xx); the documented 503/504 of a real cluster are allowed. Afterwards every node must be
// up and healthy, and every acknowledged write must be readable, linearizably, on every node: the
// value of the key's last acknowledged write (or of a write whose outcome was left unknown).
// Prints a summary; exits 1 on any failure, 2 on bad usage.
//
//   --cases N         requests to send (default 20000)
//   --seed S          generator seed (default: from the clock, printed)
//   --concurrency C   requests in flight at once (default 8)

import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { ProcessCluster } from '../support/process-cluster.js';
import { waitFor } from '../support/wait.js';
import {
  describe,
  documentedCodes,
  hostileRequest,
  judge,
  type RawRequest,
  send,
} from './hostile-requests.js';

interface Options {
  readonly cases: number;
  readonly seed: number;
  readonly concurrency: number;
}

function options(): Options {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string', default: '20000' },
      seed: { type: 'string' },
      concurrency: { type: 'string', default: '8' },
    },
  });
  const int = (name: string, raw: string | undefined, fallback: number): number => {
    const n = raw === undefined ? fallback : Number(raw);
    if (!Number.isSafeInteger(n) || n < 1) {
      process.stderr.write(`--${name} must be a positive integer, got ${raw}\n`);
      process.exit(2);
    }
    return n;
  };
  return {
    cases: int('cases', values.cases, 20_000),
    seed: int('seed', values.seed, Date.now() % 1_000_000_000),
    concurrency: int('concurrency', values.concurrency, 8),
  };
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

async function main(): Promise<void> {
  const o = options();
  process.stdout.write(`hostile HTTP run: ${o.cases} cases, seed ${o.seed}, concurrency ${o.concurrency}\n`);
  const cleanups: (() => Promise<void> | void)[] = [];
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.splice(0).reverse()) await fn();
  };
  process.on('SIGINT', () => {
    void cleanup().then(() => process.exit(130));
  });
  try {
    const cluster = await ProcessCluster.create({ after: (fn) => cleanups.push(fn) });
    const leader = await cluster.waitForLeader();
    const ids = [...cluster.ids];
    process.stdout.write(`cluster up: ${ids.join(', ')}; leader ${leader}\n`);
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
      if (next >= o.cases) return null;
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
      process.stdout.write(`  ${next} sent, ${failures.length} failures\n`);
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
    const statuses = [...byStatus].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}×${n}`);
    process.stdout.write(
      `${o.cases} cases in ${seconds.toFixed(1)} s (${(o.cases / seconds).toFixed(0)}/s); answers ${statuses.join(' ')}\n` +
        `${keys.size} keys written, ${checked} reads of acknowledged writes checked on ${ids.length} nodes\n`,
    );
    for (const f of failures.slice(0, 50)) process.stdout.write(`FAIL ${f}\n`);
    process.stdout.write(
      failures.length === 0
        ? `OK: every answer documented, no 500, no reset; every node healthy; every acknowledged write readable (seed ${o.seed})\n`
        : `${failures.length} failures (seed ${o.seed})\n`,
    );
    process.exitCode = failures.length === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

await main();
