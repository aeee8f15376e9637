// Goal: the command-line face of the simulator (`npm run sim -- ...`): run many seeds to hunt for
// violations, or replay one seed exactly with a readable trace. Exits non-zero on a failure and
// prints the failing seed and the command that replays it.
//
// The flags (one table, SIM_FLAGS in options.ts, shared with failing-seeds.txt): `npm run sim -- --help`.

import { UsageError, wantsHelp } from '../../src/cli/args.js';
import { formatSummary, runBatch } from './batch.js';
import { parseSimArgs, SIM_FLAGS, SIM_USAGE, type SimOptions } from './options.js';
import { describePlan, planScenario } from './scenario.js';

function parse(argv: readonly string[]): SimOptions {
  if (wantsHelp(argv, SIM_FLAGS)) {
    process.stdout.write(SIM_USAGE);
    process.exit(0);
  }
  try {
    return parseSimArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n\n${SIM_USAGE}`);
    process.exit(2);
  }
}

function main(): void {
  // `npm run sim -- --seed 5 --trace | head` closes the pipe early: not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(process.exitCode ?? 0);
  });
  const { seeds, overrides, keepGoing } = parse(process.argv.slice(2));
  // The seed (and everything it decided) comes first, so a failing run explains itself.
  if (seeds.length === 1 && !overrides.trace) {
    process.stdout.write(`${describePlan(planScenario(seeds[0]!, overrides))}\n`);
  } else if (seeds.length > 1) {
    process.stdout.write(`seeds ${seeds[0]}..${seeds[seeds.length - 1]}\n`);
  }
  const t0 = performance.now();
  const summary = runBatch(seeds, overrides, keepGoing);
  const seconds = (performance.now() - t0) / 1000;
  for (const f of summary.failures) process.stdout.write(`FAIL ${f.message}\n`);
  process.stdout.write(`${formatSummary(summary, seconds)}\n`);
  if (summary.failures.length > 0) {
    process.stdout.write(`failing seeds: ${summary.failures.map((f) => f.seed).join(' ')}\n`);
    process.exitCode = 1;
  }
}

main();
