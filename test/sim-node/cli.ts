// Goal: the command line of the node-level simulator: run many seeds to hunt for violations, or
// replay one seed exactly, with a readable trace. Exits non-zero on a failure and prints the
// failing seeds and the command that replays one.
//
//   node dist/test/sim-node/cli.js --seeds N [--start S]   run seeds S..S+N-1 (default S = 1)
//   node dist/test/sim-node/cli.js --seed S [--trace] [--trace-net]
//   --mutation M      run with a deliberately broken variant (M: lying-fsync, ack-before-commit,
//                     forget-paused-time)
//   --keep-going      do not stop at the first failing seed

import { describePlan, MUTATIONS, type Mutation, planRun, runSeed } from './scenario.js';
import { formatTotals, type SeedSummary, summarize, totals } from './summary.js';

interface CliOptions {
  seeds: number[];
  trace: boolean;
  traceNet: boolean;
  mutation: Mutation | null;
  keepGoing: boolean;
}

function usage(message: string): never {
  process.stderr.write(`${message}\n`);
  process.stderr.write(
    'usage: sim-node (--seeds N [--start S] | --seed S [--trace] [--trace-net]) ' +
      `[--mutation ${MUTATIONS.join('|')}] [--keep-going]\n`,
  );
  process.exit(2);
}

function parse(argv: readonly string[]): CliOptions {
  let count: number | null = null;
  let start = 1;
  let single: number | null = null;
  const o: CliOptions = { seeds: [], trace: false, traceNet: false, mutation: null, keepGoing: false };
  const int = (v: string | undefined, flag: string): number => {
    const n = Number(v);
    if (v === undefined || !Number.isSafeInteger(n)) usage(`${flag} needs an integer`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    switch (a) {
      case '--seeds':
        count = int(argv[++i], a);
        break;
      case '--start':
        start = int(argv[++i], a);
        break;
      case '--seed':
        single = int(argv[++i], a);
        break;
      case '--trace':
        o.trace = true;
        break;
      case '--trace-net':
        o.trace = true;
        o.traceNet = true;
        break;
      case '--keep-going':
        o.keepGoing = true;
        break;
      case '--mutation': {
        const m = argv[++i];
        if (!MUTATIONS.includes(m as Mutation)) usage(`--mutation must be one of ${MUTATIONS.join(', ')}`);
        o.mutation = m as Mutation;
        break;
      }
      default:
        usage(`unknown argument ${a}`);
    }
  }
  if (single !== null) o.seeds = [single];
  else o.seeds = Array.from({ length: count ?? 20 }, (_, i) => start + i);
  return o;
}

async function main(): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const o = parse(process.argv.slice(2));
  const t0 = performance.now();
  const done: SeedSummary[] = [];
  const failing: number[] = [];
  for (const seed of o.seeds) {
    if (o.seeds.length === 1 && !o.trace)
      process.stdout.write(`${describePlan(planRun(seed, o.mutation))}\n`);
    const r = await runSeed(seed, { trace: o.trace, traceNet: o.traceNet, mutation: o.mutation });
    const s = summarize(r);
    done.push(s);
    if (r.failures.length > 0) {
      failing.push(seed);
      process.stdout.write(`FAIL seed ${seed}: ${r.plan}\n${r.failures.map((f) => `  ${f}`).join('\n')}\n`);
      if (!o.keepGoing) break;
    } else if (o.seeds.length === 1) {
      process.stdout.write(`ok seed ${seed}: ${r.ops} ops, ${r.events} events, ${r.virtualMs} virtual ms\n`);
    }
  }
  const seconds = (performance.now() - t0) / 1000;
  process.stdout.write(`${formatTotals(totals(done), seconds)}\n`);
  if (failing.length > 0) {
    const m = o.mutation === null ? '' : ` --mutation ${o.mutation}`;
    process.stdout.write(`failing seeds: ${failing.join(' ')}\n`);
    process.stdout.write(`replay: node dist/test/sim-node/cli.js --seed ${failing[0]}${m} --trace\n`);
    process.exitCode = 1;
  }
}

void main();
