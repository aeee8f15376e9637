// `raftkv exercise N`: one of the seed's four exercises against a running cluster — narrated step
// by step, then PASS or FAIL with what it observed (docs/exercises.md). It finds the local
// cluster's supervisor through DATA_DIR/supervisor.json, and its endpoints there too unless given.

import {
  connect,
  defaultTiming,
  type ExerciseReport,
  type ExerciseTarget,
  exerciseNumbered,
  exercises,
  PreconditionFailed,
  runExercise,
  type Step,
} from '../exercise/index.js';
import { parseEndpoints } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  parseArgs,
  parseDurationMs,
  stringOption,
  UsageError,
} from './args.js';
import { defaultSupervisorFile } from './cluster-options.js';
import {
  type Credentials,
  clientOptionsOf,
  connectionFlags,
  parseCredentials,
} from './connection-options.js';
import type { Io } from './io.js';
import { defaultEndpoints, exitCodes } from './kv-commands.js';
import { readSupervisorFile } from './supervisor-control.js';

export const exerciseFlags: readonly FlagDef[] = [
  {
    name: 'endpoints',
    value: 'HOST:PORT,...',
    env: 'RAFTKV_ENDPOINTS',
    default: `the nodes in the supervisor file, else ${defaultEndpoints}`,
    help: 'the nodes of the cluster, every one of them',
  },
  {
    name: 'supervisor',
    value: 'FILE',
    default: defaultSupervisorFile,
    help: "raftkv cluster's supervisor.json: its control API kills, stops and restarts nodes",
  },
  {
    name: 'timeout',
    value: 'MS',
    default: '30000',
    help: 'the longest one wait may take (a leader, a catch-up, a restart) before the exercise FAILs',
  },
  { name: 'json', help: 'print the steps, the result and the observations as one JSON object' },
  ...connectionFlags,
];

export interface ExerciseInvocation {
  readonly n: number;
  readonly endpoints: readonly string[] | null;
  readonly supervisorFile: { readonly path: string; readonly required: boolean };
  readonly waitMs: number;
  readonly json: boolean;
  readonly credentials: Credentials;
}

export function parseExerciseCommand(argv: readonly string[], env: Env): ExerciseInvocation {
  const args = parseArgs(argv, exerciseFlags);
  const raw = args.positionals[0];
  const known = exercises.map((e) => e.n).join(', ');
  if (raw === undefined) throw new UsageError(`which exercise? Give its number: ${known}`);
  const n = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  if (exerciseNumbered(n) === undefined) throw new UsageError(`no exercise "${raw}": there are ${known}`);
  noMorePositionals(args, 1);
  const given = stringOption(args, 'endpoints', env, 'RAFTKV_ENDPOINTS');
  const supervisor = stringOption(args, 'supervisor');
  if (supervisor === '') throw new UsageError('--supervisor is empty');
  const timeout = stringOption(args, 'timeout');
  const waitMs = timeout === undefined ? defaultTiming.waitMs : parseDurationMs(timeout, '--timeout');
  if (waitMs < 1000) throw new UsageError('--timeout must be at least 1000 ms');
  const credentials = parseCredentials(args, env);
  const scheme = credentials.tls === undefined ? 'http' : 'https';
  return {
    n,
    endpoints: given === undefined ? null : parseEndpoints(given, '--endpoints', scheme).map((e) => e.url),
    supervisorFile: { path: supervisor ?? defaultSupervisorFile, required: supervisor !== undefined },
    waitMs,
    json: booleanOption(args, 'json'),
    credentials,
  };
}

/** Without --endpoints: the nodes supervisor.json lists, else the default three. */
function endpointsOf(inv: ExerciseInvocation): readonly string[] {
  if (inv.endpoints !== null) return inv.endpoints;
  const scheme = inv.credentials.tls === undefined ? 'http' : 'https';
  let listed = defaultEndpoints;
  try {
    const { endpoints } = readSupervisorFile(inv.supervisorFile.path);
    if (endpoints !== '') listed = endpoints;
  } catch {
    // None there, or unusable: connect() says what is wrong with the file.
  }
  return parseEndpoints(listed, 'the endpoints', scheme).map((e) => e.url);
}

export async function runExerciseCommand(inv: ExerciseInvocation, io: Io): Promise<number> {
  const exercise = exerciseNumbered(inv.n)!;
  const label = `raftkv exercise ${inv.n}`;
  let target: ExerciseTarget | undefined;
  try {
    target = await connect({
      endpoints: endpointsOf(inv),
      client: clientOptionsOf(inv.credentials),
      supervisorFile: inv.supervisorFile,
    });
    const on = target;
    const report = await runExercise(exercise, target, {
      timing: { waitMs: inv.waitMs },
      ...(!inv.json && {
        onStep: (s: Step) => io.out(stepLine(s)),
        onStart: () =>
          io.out(
            `Exercise ${exercise.n}: ${exercise.title} — on ${on.nodes.map((n) => `${n.id} (${n.url})`).join(', ')}; ` +
              `${on.supervisorNote}\n`,
          ),
      }),
    });
    io.out(inv.json ? `${JSON.stringify(report, null, 2)}\n` : resultLines(report));
    return report.result === 'PASS' ? exitCodes.ok : exitCodes.failed;
  } catch (e) {
    if (!(e instanceof PreconditionFailed)) throw e;
    io.err(`${label}: cannot run: ${e.message}\n`);
    return exitCodes.usage;
  } finally {
    target?.close();
  }
}

function stepLine(s: Step): string {
  return `${s.n}. ${s.text}\n`;
}

function resultLines(r: ExerciseReport): string {
  const lines = [`${r.result}: ${r.summary}`, `observed (in ${r.durationMs} ms):`];
  for (const [k, v] of Object.entries(r.observed)) {
    lines.push(`  ${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
  }
  return `${lines.join('\n')}\n`;
}
