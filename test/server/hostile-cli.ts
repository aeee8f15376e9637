// Goal: the long hostile-input run, `npm run fuzz -- --seed S --requests N` (docs/fuzzing.md):
// starts a real 3-node cluster (node processes on loopback) and runs hostile-run.ts against it —
// well-formed writes and reads mixed with garbage, truncated requests and non-HTTP bytes, spread
// over the leader and the followers. Prints a summary; exits 1 on any failure, 2 on bad usage.
//
//   --requests N      requests to send (default 20000; --cases is the older name)
//   --seed S          generator seed (default: from the clock, printed)
//   --concurrency C   requests in flight at once (default 8)

import { parseArgs } from 'node:util';
import { ProcessCluster } from '../support/process-cluster.js';
import { type FuzzOptions, runHostileFuzz, statusSummary } from './hostile-run.js';

function options(): FuzzOptions {
  const { values } = parseArgs({
    options: {
      requests: { type: 'string' },
      cases: { type: 'string' },
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
    requests: int('requests', values.requests ?? values.cases, 20_000),
    seed: int('seed', values.seed, Date.now() % 1_000_000_000),
    concurrency: int('concurrency', values.concurrency, 8),
  };
}

async function main(): Promise<void> {
  const o = options();
  const log = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  log(`hostile HTTP run: ${o.requests} requests, seed ${o.seed}, concurrency ${o.concurrency}`);
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
    log(`cluster up: ${cluster.ids.join(', ')}; leader ${leader}`);
    const r = await runHostileFuzz(cluster, o, log);
    log(
      `${o.requests} requests in ${r.seconds.toFixed(1)} s (${(o.requests / r.seconds).toFixed(0)}/s); answers ${statusSummary(r.byStatus)}`,
    );
    log(
      `${r.keysWritten} keys written, ${r.readsChecked} reads of acknowledged writes checked on ${cluster.ids.length} nodes`,
    );
    for (const f of r.failures.slice(0, 50)) log(`FAIL ${f}`);
    log(
      r.failures.length === 0
        ? `OK: every answer documented, no 500, no reset; every node healthy; every acknowledged write readable (seed ${o.seed})`
        : `${r.failures.length} failures (seed ${o.seed})`,
    );
    process.exitCode = r.failures.length === 0 ? 0 : 1;
  } finally {
    await cleanup();
  }
}

await main();
