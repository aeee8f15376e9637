// Goal: the command line of the node-level simulator: run many seeds to hunt for violations, or
// replay one seed exactly, with a readable trace. Exits non-zero on a failure and prints the
// failing seeds and the command that replays one.
//
// Flags: `npm run sim:node -- --help`.

import {
  booleanOption,
  type FlagDef,
  flagLines,
  noMorePositionals,
  parseArgs,
  parseChoice,
  parseInteger,
  stringOption,
  UsageError,
} from '../../src/cli/args.js';
import { describePlan, MUTATIONS, type Mutation, planRun, runSeed } from './scenario.js';
import { formatTotals, type SeedSummary, summarize, totals } from './summary.js';

interface CliOptions {
  seeds: number[];
  trace: boolean;
  traceNet: boolean;
  mutation: Mutation | null;
  keepGoing: boolean;
}

const flags: readonly FlagDef[] = [
  { name: 'seeds', value: 'N', default: '20', help: 'run seeds S..S+N-1' },
  { name: 'start', value: 'S', default: '1', help: 'the first seed --seeds runs' },
  { name: 'seed', value: 'S', help: 'replay exactly seed S' },
  { name: 'trace', help: 'print a readable trace' },
  { name: 'trace-net', help: 'print a readable trace with every message' },
  { name: 'mutation', value: 'M', help: `run a deliberately broken variant: ${MUTATIONS.join(', ')}` },
  { name: 'keep-going', help: 'do not stop at the first failing seed' },
];

const usage = [
  'Usage: npm run sim:node -- [--seeds N [--start S] | --seed S] [flags]',
  '',
  'Flags:',
  ...flagLines(flags),
  '',
].join('\n');

function parse(argv: readonly string[]): CliOptions {
  const args = parseArgs(argv, flags);
  if (args.help) {
    process.stdout.write(usage);
    process.exit(0);
  }
  noMorePositionals(args, 0);
  const int = (name: string): number | undefined => {
    const raw = stringOption(args, name);
    return raw === undefined ? undefined : parseInteger(raw, `--${name}`, 0);
  };
  const single = int('seed');
  const start = int('start') ?? 1;
  const mutation = stringOption(args, 'mutation');
  const traceNet = booleanOption(args, 'trace-net');
  return {
    seeds: single !== undefined ? [single] : Array.from({ length: int('seeds') ?? 20 }, (_, i) => start + i),
    trace: traceNet || booleanOption(args, 'trace'),
    traceNet,
    mutation: mutation === undefined ? null : parseChoice(mutation, '--mutation', MUTATIONS),
    keepGoing: booleanOption(args, 'keep-going'),
  };
}

function parseOrExit(argv: readonly string[]): CliOptions {
  try {
    return parse(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`${e.message}\n\n${usage}`);
    process.exit(2);
  }
}

async function main(): Promise<void> {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const o = parseOrExit(process.argv.slice(2));
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
