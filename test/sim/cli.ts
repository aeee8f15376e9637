// Goal: the command-line face of the simulator (`npm run sim -- ...`): run many seeds to hunt for
// violations, or replay one seed exactly with a readable trace. Exits non-zero on a failure and
// prints the failing seed and the command that replays it.
//
//   --seeds N        run N seeds, from --start (default 1)
//   --seed S         run exactly seed S (combine with --trace to read the story)
//   --nodes K        force the cluster size          --ticks T    force the fault-phase length
//   --profile P      force a fault profile (calm, lossy, partitions, crashes, chaos, snapshots)
//   --read-mode R    force the read mode (safe, lease)
//   --stall-guard B  force the disk-stall guard's bound in ticks, or off
//   --pipeline on|off  force the drivers to send early messages while a write is in flight, or not
//   --disk-stalls on|off  force disk stalls on (any profile) or off
//   --pauses on|off  force process pauses on (any profile) or off
//   --mutation M     enable one of the core's test-only Mutations, or the driver's
//                    forgetPausedTime (repeatable)
//   --trace          print every event              --trace-core  also print the core's log
//   --keep-going     do not stop at the first failing seed

import { formatSummary, runBatch } from './batch.js';
import { parseSimArgs, type SimOptions, UsageError } from './options.js';
import { describePlan, planScenario } from './scenario.js';

function parse(argv: readonly string[]): SimOptions {
  try {
    return parseSimArgs(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.stderr.write(
      'usage: sim [--seeds N [--start S] | --seed S] [--nodes K] [--ticks T] [--profile P]\n',
    );
    process.stderr.write(
      '           [--read-mode R] [--stall-guard B|off] [--pipeline on|off] [--mutation M]...\n',
    );
    process.stderr.write(
      '           [--disk-stalls on|off] [--pauses on|off] [--trace] [--trace-core] [--keep-going]\n',
    );
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
