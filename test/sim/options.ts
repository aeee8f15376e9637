// Goal: one parser for the simulator's flags, shared by the command line (cli.ts) and the seed
// regression list (failing-seeds.txt, whose lines are "<seed> [flags]  # why"), so that every
// replay command printed in a failure can be pasted into either place.

import type { DriverMutations } from '../../src/node/driver.js';
import type { Mutations, ReadMode } from '../../src/raft/index.js';
import { PROFILES, type Profile, type ScenarioOverrides } from './scenario.js';

export const MUTATIONS: readonly (keyof Mutations)[] = [
  'commitOldTermByCounting',
  'skipLogUpToDateCheck',
  'forgetVotePersist',
  'readIndexWithoutHeartbeat',
  'applyBeforeCommit',
];

/** The driver's test-only mutations (src/node/driver.ts), mirrored by the simulated driver. */
export const DRIVER_MUTATIONS: readonly (keyof DriverMutations)[] = ['forgetPausedTime'];

export interface SimOptions {
  /** Seeds to run: --seed S, or --seeds N from --start (default 1..100). */
  seeds: number[];
  overrides: ScenarioOverrides;
  keepGoing: boolean;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

function nonNegativeInt(flag: string, v: string | undefined): number {
  const n = Number(v);
  if (v === undefined || !Number.isSafeInteger(n) || n < 0) {
    throw new UsageError(`${flag} needs a non-negative integer`);
  }
  return n;
}

export function parseSimArgs(argv: readonly string[]): SimOptions {
  let count = 100;
  let start = 1;
  let single: number | null = null;
  let nodes: number | undefined;
  let ticks: number | undefined;
  let profile: Profile | undefined;
  let readMode: ReadMode | undefined;
  let diskStallBound: number | null | undefined;
  let pipeline: boolean | undefined;
  let diskStalls: boolean | undefined;
  let pauses: boolean | undefined;
  const mutations: Mutations = {};
  const driverMutations: { -readonly [K in keyof DriverMutations]: DriverMutations[K] } = {};
  let trace = false;
  let traceCore = false;
  let keepGoing = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]!;
    const value = (): string | undefined => argv[++i];
    switch (flag) {
      case '--seeds':
        count = nonNegativeInt(flag, value());
        break;
      case '--start':
        start = nonNegativeInt(flag, value());
        break;
      case '--seed':
        single = nonNegativeInt(flag, value());
        break;
      case '--nodes':
        nodes = nonNegativeInt(flag, value());
        if (nodes < 1) throw new UsageError('--nodes must be at least 1');
        break;
      case '--ticks':
        ticks = nonNegativeInt(flag, value());
        break;
      case '--profile': {
        const p = value();
        if (!PROFILES.includes(p as Profile))
          throw new UsageError(`--profile must be one of ${PROFILES.join(', ')}`);
        profile = p as Profile;
        break;
      }
      case '--read-mode': {
        const m = value();
        if (m !== 'safe' && m !== 'lease') throw new UsageError('--read-mode must be safe or lease');
        readMode = m;
        break;
      }
      case '--stall-guard': {
        const v = value();
        diskStallBound = v === 'off' ? null : nonNegativeInt(flag, v);
        if (diskStallBound === 0)
          throw new UsageError('--stall-guard needs a positive number of ticks, or off');
        break;
      }
      case '--pipeline': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new UsageError('--pipeline must be on or off');
        pipeline = v === 'on';
        break;
      }
      case '--disk-stalls': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new UsageError('--disk-stalls must be on or off');
        diskStalls = v === 'on';
        break;
      }
      case '--pauses': {
        const v = value();
        if (v !== 'on' && v !== 'off') throw new UsageError('--pauses must be on or off');
        pauses = v === 'on';
        break;
      }
      case '--mutation': {
        const m = value();
        if (MUTATIONS.includes(m as keyof Mutations)) mutations[m as keyof Mutations] = true;
        else if (DRIVER_MUTATIONS.includes(m as keyof DriverMutations)) {
          driverMutations[m as keyof DriverMutations] = true;
        } else {
          throw new UsageError(`--mutation must be one of ${[...MUTATIONS, ...DRIVER_MUTATIONS].join(', ')}`);
        }
        break;
      }
      case '--trace':
        trace = true;
        break;
      case '--trace-core':
        trace = true;
        traceCore = true;
        break;
      case '--keep-going':
        keepGoing = true;
        break;
      default:
        throw new UsageError(`unknown argument ${flag}`);
    }
  }
  const seeds = single !== null ? [single] : Array.from({ length: count }, (_, i) => start + i);
  const overrides: ScenarioOverrides = {
    ...(nodes !== undefined ? { nodes } : {}),
    ...(ticks !== undefined ? { ticks } : {}),
    ...(profile !== undefined ? { profile } : {}),
    ...(readMode !== undefined ? { readMode } : {}),
    ...(diskStallBound !== undefined ? { diskStallBound } : {}),
    ...(pipeline !== undefined ? { pipeline } : {}),
    ...(diskStalls !== undefined ? { diskStalls } : {}),
    ...(pauses !== undefined ? { pauses } : {}),
    ...(Object.keys(mutations).length > 0 ? { mutations } : {}),
    ...(Object.keys(driverMutations).length > 0 ? { driverMutations } : {}),
    ...(trace ? { trace } : {}),
    ...(traceCore ? { traceCore } : {}),
  };
  return { seeds, overrides, keepGoing };
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
    const seed = nonNegativeInt('seed', spec[0]);
    const { overrides } = parseSimArgs(['--seed', String(seed), ...spec.slice(1)]);
    out.push({ seed, overrides, why, line });
  }
  return out;
}
