// Goal: one parser for the simulator's flags, shared by the command line (cli.ts) and the seed
// regression list (failing-seeds.txt, whose lines are "<seed> [flags]  # why"), so that every
// replay command printed in a failure can be pasted into either place.

import {
  booleanOption,
  type FlagDef,
  flagLines,
  listOption,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseChoice,
  parseInteger,
  stringOption,
} from '../../src/cli/args.js';
import type { DriverMutations } from '../../src/node/driver.js';
import type { Mutations, ReadMode } from '../../src/raft/index.js';
import { PROFILES, type ScenarioOverrides } from './scenario.js';

export const MUTATIONS: readonly (keyof Mutations)[] = [
  'commitOldTermByCounting',
  'skipLogUpToDateCheck',
  'forgetVotePersist',
  'readIndexWithoutHeartbeat',
  'leaseNeverExpires',
  'applyBeforeCommit',
  'changeBeforeTermCommit',
  'concurrentChanges',
  'jointCountsIncomingOnly',
  'learnersVote',
];

/** The driver's test-only mutations (src/node/driver.ts), mirrored by the simulated driver. */
export const DRIVER_MUTATIONS: readonly (keyof DriverMutations)[] = ['forgetPausedTime'];

export interface SimOptions {
  /** Seeds to run: --seed S, or --seeds N from --start (default 1..100). */
  seeds: number[];
  overrides: ScenarioOverrides;
  keepGoing: boolean;
}

const ALL_MUTATIONS: readonly string[] = [...MUTATIONS, ...DRIVER_MUTATIONS];

export const SIM_FLAGS: readonly FlagDef[] = [
  { name: 'seeds', value: 'N', default: '100', help: 'run N seeds, from --start' },
  { name: 'start', value: 'S', default: '1', help: 'the first seed --seeds runs' },
  { name: 'seed', value: 'S', help: 'run exactly seed S (with --trace to read the story)' },
  { name: 'nodes', value: 'K', help: 'force the cluster size' },
  { name: 'ticks', value: 'T', help: 'force the fault-phase length' },
  { name: 'profile', value: 'P', help: `force a fault profile (${PROFILES.join(', ')})` },
  { name: 'read-mode', value: 'safe|lease', help: 'force the read mode' },
  { name: 'stall-guard', value: 'B|off', help: "force the disk-stall guard's bound in ticks, or off" },
  {
    name: 'pipeline',
    value: 'on|off',
    help: 'force the drivers to send early messages while writing, or not',
  },
  { name: 'disk-stalls', value: 'on|off', help: 'force disk stalls on (any profile) or off' },
  { name: 'pauses', value: 'on|off', help: 'force process pauses on (any profile) or off' },
  { name: 'membership', value: 'on|off', help: 'force membership changes on (any profile) or off' },
  {
    name: 'small-removals',
    value: 'on|off',
    help: 'let the operator remove voters from configurations of three or fewer (default: every fourth seed)',
  },
  {
    name: 'leader-cuts',
    value: 'on|off',
    help: 'force cut-off leader episodes on (any profile, any read mode) or off (default: lease seeds with faults)',
  },
  {
    name: 'mutation',
    value: 'M',
    multiple: true,
    help: 'enable a test-only mutation of the core or the driver (repeatable; listed below)',
  },
  { name: 'trace', help: 'print every event' },
  { name: 'trace-core', help: "print every event and the core's log" },
  { name: 'keep-going', help: 'do not stop at the first failing seed' },
];

export const SIM_USAGE = [
  'Usage: npm run sim -- [--seeds N [--start S] | --seed S] [flags]',
  '',
  'Flags:',
  ...flagLines(SIM_FLAGS),
  '',
  'Mutations:',
  ...ALL_MUTATIONS.map((m) => `  ${m}`),
  '',
].join('\n');

function onOff(args: ParsedArgs, name: string): boolean | undefined {
  const v = stringOption(args, name);
  return v === undefined ? undefined : parseChoice(v, `--${name}`, ['on', 'off']) === 'on';
}

export function parseSimArgs(argv: readonly string[]): SimOptions {
  const args = parseArgs(argv, SIM_FLAGS);
  noMorePositionals(args, 0);
  const int = (name: string, min = 0): number | undefined => {
    const raw = stringOption(args, name);
    return raw === undefined ? undefined : parseInteger(raw, `--${name}`, min);
  };
  const count = int('seeds') ?? 100;
  const start = int('start') ?? 1;
  const single = int('seed');
  const nodes = int('nodes', 1);
  const ticks = int('ticks');
  const profileRaw = stringOption(args, 'profile');
  const profile = profileRaw === undefined ? undefined : parseChoice(profileRaw, '--profile', PROFILES);
  const readModeRaw = stringOption(args, 'read-mode');
  const readMode: ReadMode | undefined =
    readModeRaw === undefined
      ? undefined
      : parseChoice(readModeRaw, '--read-mode', ['safe', 'lease'] as const);
  const guard = stringOption(args, 'stall-guard');
  const diskStallBound =
    guard === undefined ? undefined : guard === 'off' ? null : parseInteger(guard, '--stall-guard', 1);
  const pipeline = onOff(args, 'pipeline');
  const diskStalls = onOff(args, 'disk-stalls');
  const pauses = onOff(args, 'pauses');
  const membership = onOff(args, 'membership');
  const smallRemovals = onOff(args, 'small-removals');
  const leaderCuts = onOff(args, 'leader-cuts');
  const mutations: Mutations = {};
  const driverMutations: { -readonly [K in keyof DriverMutations]: DriverMutations[K] } = {};
  for (const m of listOption(args, 'mutation')) {
    if (MUTATIONS.includes(m as keyof Mutations)) mutations[m as keyof Mutations] = true;
    else if (DRIVER_MUTATIONS.includes(m as keyof DriverMutations))
      driverMutations[m as keyof DriverMutations] = true;
    else parseChoice(m, '--mutation', ALL_MUTATIONS);
  }
  const traceCore = booleanOption(args, 'trace-core');
  const trace = traceCore || booleanOption(args, 'trace');
  const seeds = single !== undefined ? [single] : Array.from({ length: count }, (_, i) => start + i);
  const overrides: ScenarioOverrides = {
    ...(nodes !== undefined ? { nodes } : {}),
    ...(ticks !== undefined ? { ticks } : {}),
    ...(profile !== undefined ? { profile } : {}),
    ...(readMode !== undefined ? { readMode } : {}),
    ...(diskStallBound !== undefined ? { diskStallBound } : {}),
    ...(pipeline !== undefined ? { pipeline } : {}),
    ...(diskStalls !== undefined ? { diskStalls } : {}),
    ...(pauses !== undefined ? { pauses } : {}),
    ...(membership !== undefined ? { membership } : {}),
    ...(smallRemovals !== undefined ? { smallRemovals } : {}),
    ...(leaderCuts !== undefined ? { leaderCuts } : {}),
    ...(Object.keys(mutations).length > 0 ? { mutations } : {}),
    ...(Object.keys(driverMutations).length > 0 ? { driverMutations } : {}),
    ...(trace ? { trace } : {}),
    ...(traceCore ? { traceCore } : {}),
  };
  return { seeds, overrides, keepGoing: booleanOption(args, 'keep-going') };
}

export interface RegressionSeed {
  readonly seed: number;
  readonly overrides: ScenarioOverrides;
  readonly why: string;
  readonly line: string;
}

/** Parses failing-seeds.txt: "<seed> [flags]  # why" per line; blank and comment lines skipped. */
export function parseSeedList(text: string): RegressionSeed[] {
  const out: RegressionSeed[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const hash = line.indexOf('#');
    const spec = (hash >= 0 ? line.slice(0, hash) : line).trim().split(/\s+/);
    const why = hash >= 0 ? line.slice(hash + 1).trim() : '';
    const seed = parseInteger(spec[0]!, 'seed', 0);
    const { overrides } = parseSimArgs(['--seed', String(seed), ...spec.slice(1)]);
    out.push({ seed, overrides, why, line });
  }
  return out;
}
