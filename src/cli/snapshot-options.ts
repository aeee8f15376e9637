// `raftkv snapshot save | status | restore`: flags and command lines → what to do (pure). The
// commands themselves are in snapshot-save.ts, snapshot-status.ts and snapshot-restore.ts;
// docs/backup.md says what each guarantees.

import type { HostPort } from '../node/options.js';
import { checkNodeId, type Endpoint, parseCluster } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseDurationMs,
  sourceOf,
  stringOption,
  UsageError,
} from './args.js';
import { type Credentials, connectionFlags, parseCredentials } from './connection-options.js';
import { defaultClientTimeoutMs, endpointsFlag, endpointsOption } from './kv-commands.js';

const jsonFlag: FlagDef = { name: 'json', help: 'print the result as one JSON object' };

export const snapshotSaveFlags: readonly FlagDef[] = [
  endpointsFlag,
  {
    name: 'timeout',
    value: 'MS',
    env: 'RAFTKV_TIMEOUT',
    default: String(defaultClientTimeoutMs),
    help: 'give up on an endpoint that sends nothing for this long (confirming the read point, or between chunks); the whole save has no bound',
  },
  jsonFlag,
  ...connectionFlags,
];

export const snapshotStatusFlags: readonly FlagDef[] = [jsonFlag];

export const snapshotRestoreFlags: readonly FlagDef[] = [
  { name: 'id', value: 'ID', help: 'the member whose data dir this builds; one of the --cluster ids' },
  {
    name: 'cluster',
    value: 'ID=HOST:PORT,...',
    help: "the new cluster's members, all voters: give every member's restore the same list",
  },
  { name: 'data-dir', value: 'DIR', help: "the member's data dir to build: missing or empty" },
  {
    name: 'cluster-token',
    value: 'TOKEN',
    default: 'derived from the file and --cluster',
    help: "the new cluster's id; give every member's restore and start the same one",
  },
  jsonFlag,
];

export interface SaveInvocation {
  readonly file: string;
  readonly endpoints: readonly Endpoint[];
  readonly idleTimeoutMs: number;
  readonly json: boolean;
  /** The token (an admin's: GET /admin/snapshot) and TLS files. */
  readonly credentials: Credentials;
}

export interface StatusInvocation {
  readonly file: string;
  readonly json: boolean;
}

export interface RestoreInvocation {
  readonly file: string;
  readonly id: string;
  /** As given, for the start command printed at the end. */
  readonly clusterArg: string;
  readonly cluster: Readonly<Record<string, HostPort>>;
  readonly dataDir: string;
  readonly clusterToken?: string;
  readonly json: boolean;
}

function fileArg(args: ParsedArgs): string {
  const file = args.positionals[0];
  if (file === undefined || file === '') throw new UsageError('missing FILE');
  noMorePositionals(args, 1);
  return file;
}

function required(args: ParsedArgs, name: string): string {
  const v = stringOption(args, name);
  if (v === undefined || v === '') throw new UsageError(`missing --${name}`);
  return v;
}

export function parseSnapshotSave(argv: readonly string[], env: Env): SaveInvocation {
  const args = parseArgs(argv, snapshotSaveFlags);
  const file = fileArg(args);
  const raw = stringOption(args, 'timeout', env, 'RAFTKV_TIMEOUT');
  const idleTimeoutMs =
    raw === undefined
      ? defaultClientTimeoutMs
      : parseDurationMs(raw, sourceOf(args, 'timeout', 'RAFTKV_TIMEOUT'));
  return {
    file,
    endpoints: endpointsOption(args, env),
    idleTimeoutMs,
    json: booleanOption(args, 'json'),
    credentials: parseCredentials(args, env),
  };
}

export function parseSnapshotStatus(argv: readonly string[]): StatusInvocation {
  const args = parseArgs(argv, snapshotStatusFlags);
  return { file: fileArg(args), json: booleanOption(args, 'json') };
}

export function parseSnapshotRestore(argv: readonly string[]): RestoreInvocation {
  const args = parseArgs(argv, snapshotRestoreFlags);
  const file = fileArg(args);
  const id = checkNodeId(required(args, 'id'), '--id');
  const clusterArg = required(args, 'cluster');
  const cluster = parseCluster(clusterArg, '--cluster');
  if (cluster[id] === undefined) {
    throw new UsageError(`--id "${id}" is not one of the --cluster ids (${Object.keys(cluster).join(', ')})`);
  }
  const dataDir = required(args, 'data-dir');
  const clusterToken = stringOption(args, 'cluster-token');
  if (clusterToken !== undefined && !/^\S{1,128}$/.test(clusterToken)) {
    throw new UsageError('--cluster-token must be 1-128 characters without spaces');
  }
  return {
    file,
    id,
    clusterArg,
    cluster,
    dataDir,
    ...(clusterToken !== undefined && { clusterToken }),
    json: booleanOption(args, 'json'),
  };
}
