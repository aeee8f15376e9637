// `raftkv start`: flags and environment → NodeOptions. Pure (no process access), so every form
// of configuration is unit-tested, including the seed's NODE_ID/PEER_IDS/PORT.

import { readFileSync } from 'node:fs';
import { isLoopbackHost } from '../api/addresses.js';
import { tlsFlagsProblem } from '../app/node-tls.js';
import type { ClientTls } from '../client/index.js';
import type { HostPort, LogFormat, NodeOptions, NodeTlsFiles, SupervisorSetting } from '../node/options.js';
import { NodeOptionsError, resolveNodeOptions } from '../node/options.js';
import type { ReadMode } from '../raft/index.js';
import { clusterFromPeerIds, parseCluster, parseEndpoints, parseHostPort } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseChoice,
  parseDurationMs,
  parseInteger,
  sourceOf,
  stringOption,
  UsageError,
} from './args.js';
import { nodeCredentialFlags, parseCredentials } from './connection-options.js';
import type { JoinPlan } from './join.js';
import { supervisorEnv } from './supervisor-control.js';

export const readModes: readonly ReadMode[] = ['safe', 'lease'];
export const logFormats: readonly LogFormat[] = ['text', 'json'];
export const logLevels = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof logLevels)[number];

/** The port the seed's form uses when PORT is unset (the seed's own default). */
export const seedDefaultPort = 3000;

/** Tuning flags: also accepted (and passed through to every node) by `raftkv cluster`. */
export const tuningFlags: readonly FlagDef[] = [
  {
    name: 'heartbeat-interval',
    value: 'MS',
    env: 'RAFTKV_HEARTBEAT_INTERVAL',
    default: '100',
    help: 'milliseconds between leader heartbeats',
  },
  {
    name: 'election-timeout',
    value: 'MS',
    env: 'RAFTKV_ELECTION_TIMEOUT',
    default: '1000',
    help: 'milliseconds without a leader before an election (at least 5 heartbeat intervals)',
  },
  {
    name: 'request-timeout',
    value: 'MS',
    env: 'RAFTKV_REQUEST_TIMEOUT',
    default: '5000',
    help: 'every client request is answered within this time (504 otherwise)',
  },
  {
    name: 'snapshot-every',
    value: 'N',
    env: 'RAFTKV_SNAPSHOT_EVERY',
    default: '100000',
    help: 'take a snapshot after this many applied entries (past 8 MiB snapshots: and once as many bytes, at most 64 MiB, were written)',
  },
  {
    name: 'snapshot-catch-up-entries',
    value: 'N',
    env: 'RAFTKV_SNAPSHOT_CATCH_UP_ENTRIES',
    default: '5000',
    help: 'log entries kept behind a snapshot for slow followers',
  },
  {
    name: 'max-inflight',
    value: 'N',
    env: 'RAFTKV_MAX_INFLIGHT',
    default: '512',
    help: 'client requests handled at once; past it a request gets 503 busy at once',
  },
  {
    name: 'max-connections-per-client',
    value: 'N',
    env: 'RAFTKV_MAX_CONNECTIONS_PER_CLIENT',
    default: '1024',
    help: 'connections one client address may hold open; the next gets 429 (0: no limit)',
  },
  {
    name: 'slow-reader-timeout',
    value: 'MS',
    env: 'RAFTKV_SLOW_READER_TIMEOUT',
    default: '30000',
    help: 'a connection whose client has read nothing of its answers for this long (bytes waiting, none taken) is closed',
  },
  {
    name: 'disk-stall-timeout',
    value: 'MS',
    env: 'RAFTKV_DISK_STALL_TIMEOUT',
    default: 'the election timeout',
    help: 'a leader whose fsync takes longer hands leadership over',
  },
  {
    name: 'read-mode',
    value: 'safe|lease',
    env: 'RAFTKV_READ_MODE',
    default: 'safe',
    help: 'linearizable reads by ReadIndex (safe) or leader lease (lease: assumes a monotonic clock that runs while stopped; docs/read-modes.md)',
  },
  {
    name: 'quota-bytes',
    value: 'N',
    env: 'RAFTKV_QUOTA_BYTES',
    default: '1073741824 (1 GiB)',
    help: 'writes that would grow the replicated state past N bytes get 507 no_space (reads, deletes, shrinking writes still work); 0: no quota',
  },
  {
    name: 'min-free-bytes',
    value: 'N',
    env: 'RAFTKV_MIN_FREE_BYTES',
    default: '268435456 (256 MiB)',
    help: 'below N bytes free in the data dir the node raises the no-space alarm: the cluster refuses growing writes until it clears; 0: off',
  },
  {
    name: 'log-format',
    value: 'text|json',
    env: 'RAFTKV_LOG_FORMAT',
    default: 'text',
    help: 'log lines on stderr: human-readable or one JSON object per line',
  },
  {
    name: 'log-level',
    value: 'debug|info|warn|error',
    env: 'RAFTKV_LOG_LEVEL',
    default: 'info',
    help: 'lowest level logged',
  },
];

export const clusterTokenFlag: FlagDef = {
  name: 'cluster-token',
  value: 'TOKEN',
  env: 'CLUSTER_TOKEN',
  default: 'derived from the cluster list',
  help: 'names the cluster; checked in the data dir and by peers, so two clusters never mix',
};

/** Also accepted (and passed to every node) by `raftkv cluster` and `raftkv cluster add`. */
export const enableFaultsFlag: FlagDef = {
  name: 'enable-faults',
  help: 'accept fault injection (POST /admin/faults: cut links, pause the node, slow its disk and messages; docs/faults.md): for test clusters only',
};

/** Also accepted (and passed to every node) by `raftkv cluster`. */
export const authFileFlag: FlagDef = {
  name: 'auth-file',
  value: 'FILE',
  env: 'RAFTKV_AUTH_FILE',
  default: 'none: every route open',
  help: 'users, roles and tokens (JSON, docs/security.md): clients send Authorization: Bearer TOKEN; re-read on SIGHUP',
};

export const startFlags: readonly FlagDef[] = [
  { name: 'id', value: 'ID', env: 'NODE_ID', help: "this node's id; must be one of the --cluster ids" },
  {
    name: 'cluster',
    value: 'ID=HOST:PORT,...',
    env: 'CLUSTER',
    help: 'initial membership, this node included: where each node is reached by peers and clients',
  },
  {
    name: 'data-dir',
    value: 'DIR',
    env: 'DATA_DIR',
    default: './data/<id>',
    help: 'holds everything the node must not lose; reuse it to restart the node with its state',
  },
  {
    name: 'listen',
    value: 'HOST:PORT',
    env: 'LISTEN',
    default: "this node's --cluster address",
    help: 'bind address (":PORT" binds every interface)',
  },
  clusterTokenFlag,
  authFileFlag,
  { name: 'metrics-auth', help: 'with --auth-file: GET /metrics needs an admin token too (default: open)' },
  {
    name: 'cert-file',
    value: 'FILE',
    env: 'RAFTKV_CERT_FILE',
    default: 'none: plain HTTP',
    help: 'serve HTTPS with this PEM certificate (chain); with --key-file; re-read on SIGHUP (docs/security.md)',
  },
  {
    name: 'key-file',
    value: 'FILE',
    env: 'RAFTKV_KEY_FILE',
    help: "the PEM private key of --cert-file's certificate",
  },
  {
    name: 'trusted-ca-file',
    value: 'FILE',
    env: 'RAFTKV_TRUSTED_CA_FILE',
    default: "the system's roots",
    help: "PEM CA(s) of client certificates (--client-cert-auth); members check each other's HTTPS against it",
  },
  {
    name: 'client-cert-auth',
    help: 'with --trusted-ca-file: a client must present a certificate signed by that CA',
  },
  {
    name: 'peer-cert-file',
    value: 'FILE',
    env: 'RAFTKV_PEER_CERT_FILE',
    default: 'none: peer traffic unauthenticated',
    help: 'mutual TLS on peer connections: this PEM certificate, with --peer-key-file and --peer-trusted-ca-file',
  },
  {
    name: 'peer-key-file',
    value: 'FILE',
    env: 'RAFTKV_PEER_KEY_FILE',
    help: 'the PEM private key of --peer-cert-file',
  },
  {
    name: 'peer-trusted-ca-file',
    value: 'FILE',
    env: 'RAFTKV_PEER_TRUSTED_CA_FILE',
    help: 'PEM CA(s) every peer certificate must be signed by; others cannot exchange a Raft message',
  },
  {
    name: 'join',
    value: 'HOST:PORT,...',
    env: 'JOIN',
    help: 'join a running cluster through any of these members, instead of --cluster (docs/membership.md)',
  },
  {
    name: 'advertise',
    value: 'HOST:PORT',
    env: 'ADVERTISE',
    default: '--listen',
    help: 'with --join: where the other members and clients reach this node',
  },
  { name: 'learner', help: 'with --join: stay a learner (default: promoted to voter once caught up)' },
  enableFaultsFlag,
  // The node's own client credentials (--token, --cacert, --cert, --key): connection-options.ts.
  ...nodeCredentialFlags,
  ...tuningFlags,
  {
    name: 'stop-with-stdin',
    help: 'also stop gracefully when stdin closes (raftkv cluster sets it, so no node outlives it)',
  },
];

/** The seed's environment variables, used only when neither --cluster nor CLUSTER is given. */
export const seedEnv = ['PEER_IDS', 'PORT'] as const;

/** Every environment variable `raftkv start` reads. */
export const startEnvNames: readonly string[] = [
  ...startFlags.flatMap((f) => (f.env === undefined ? [] : [f.env])),
  ...seedEnv,
  supervisorEnv.url,
  supervisorEnv.token,
];

/**
 * The supervisor that runs this node, from the environment `raftkv cluster` gives its nodes (not
 * flags: a token on a command line shows in `ps`). Both or neither; the URL must be http on a
 * loopback address with a port, and nothing else, where the supervisor listens.
 */
function supervisorFrom(env: Env): SupervisorSetting | undefined {
  const url = env[supervisorEnv.url] || undefined;
  const token = env[supervisorEnv.token] || undefined;
  if (url === undefined && token === undefined) return undefined;
  if (url === undefined || token === undefined) {
    const missing = url === undefined ? supervisorEnv.url : supervisorEnv.token;
    throw new UsageError(
      `${missing} is not set, though ${supervisorEnv.url === missing ? supervisorEnv.token : supervisorEnv.url} is: set both or neither`,
    );
  }
  const origin = loopbackOrigin(url);
  if (origin === null) {
    throw new UsageError(
      `${supervisorEnv.url} must be http://127.0.0.1:PORT, or another loopback host (127.x.x.x, localhost, ` +
        `[::1]) with a port and no path (the supervisor listens on loopback), not "${url}"`,
    );
  }
  if (!/^[\x21-\x7e]{16,256}$/.test(token)) {
    throw new UsageError(`${supervisorEnv.token} must be 16-256 printable characters without spaces`);
  }
  return { url: origin, token };
}

/** The origin (`http://HOST:PORT`) of an http URL on a loopback host with a port and no path, else null. */
function loopbackOrigin(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return null;
  }
  // The URL leaves out a port that is http's default: :80 given counts as given.
  const port = u.port !== '' || raw.replace(/\/$/, '').endsWith(':80');
  const bare =
    u.username === '' && u.password === '' && u.pathname === '/' && u.search === '' && u.hash === '';
  return u.protocol === 'http:' && isLoopbackHost(u.hostname) && port && bare ? u.origin : null;
}

function envOf(name: string): string | undefined {
  return startFlags.find((f) => f.name === name)?.env;
}

function option(args: ParsedArgs, env: Env, name: string): { raw: string; what: string } | undefined {
  const envName = envOf(name);
  const raw = stringOption(args, name, env, envName);
  return raw === undefined ? undefined : { raw, what: sourceOf(args, name, envName) };
}

function durationOption(args: ParsedArgs, env: Env, name: string): number | undefined {
  const o = option(args, env, name);
  return o === undefined ? undefined : parseDurationMs(o.raw, o.what);
}

function countOption(args: ParsedArgs, env: Env, name: string, min: number): number | undefined {
  const o = option(args, env, name);
  return o === undefined ? undefined : parseInteger(o.raw, o.what, min);
}

function choiceOption<T extends string>(
  args: ParsedArgs,
  env: Env,
  name: string,
  choices: readonly T[],
): T | undefined {
  const o = option(args, env, name);
  return o === undefined ? undefined : parseChoice(o.raw, o.what, choices);
}

export interface StartCommand {
  readonly options: NodeOptions;
  readonly stopWithStdin: boolean;
  /** Set with --join: the node joins a running cluster (options.cluster names only itself). */
  readonly join?: JoinPlan;
}

/** `raftkv start` in full: the node's options and the CLI's own flags. */
export function parseStartCommand(argv: readonly string[], env: Env): StartCommand {
  const args = parseArgs(argv, startFlags);
  const planned = joinPlanFrom(args, env);
  const options = optionsFrom(args, env, planned);
  // --join's reads carry the node's own credentials; a node serving HTTPS presents, and trusts,
  // its own TLS files unless it was given others for its own calls.
  const credentials =
    planned !== undefined && options.ownCalls?.tls === undefined && options.tls?.certFile !== undefined
      ? { ...options.ownCalls, tls: ownTlsOf(options.tls) }
      : options.ownCalls;
  const join = planned && credentials ? { ...planned, credentials } : planned;
  return { options, stopWithStdin: booleanOption(args, 'stop-with-stdin'), ...(join && { join }) };
}

/** The node's HTTPS certificate, key and trusted CA as client credentials (read now). */
function ownTlsOf(files: NodeTlsFiles): ClientTls {
  const read = (path: string | undefined, flag: string): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (e) {
      throw new UsageError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  };
  const cert = read(files.certFile, '--cert-file');
  const key = read(files.keyFile, '--key-file');
  const ca = read(files.trustedCaFile, '--trusted-ca-file');
  return {
    ...(ca !== undefined && { ca }),
    ...(cert !== undefined && { cert }),
    ...(key !== undefined && { key }),
  };
}

function joinPlanFrom(args: ParsedArgs, env: Env): JoinPlan | undefined {
  const joinOpt = option(args, env, 'join');
  const learner = booleanOption(args, 'learner');
  const advertiseOpt = option(args, env, 'advertise');
  if (joinOpt === undefined) {
    if (learner) throw new UsageError('--learner goes with --join');
    if (advertiseOpt !== undefined) throw new UsageError(`${advertiseOpt.what} goes with --join`);
    return undefined;
  }
  if (option(args, env, 'cluster') !== undefined) {
    throw new UsageError('give --join (a running cluster) or --cluster (a new one), not both');
  }
  const listenOpt = option(args, env, 'listen');
  const where = advertiseOpt ?? listenOpt;
  if (where === undefined)
    throw new UsageError('--join needs --advertise or --listen: where this node is reached');
  const advertise = parseHostPort(where.raw, where.what);
  if (advertise.host === '0.0.0.0' || advertise.host === '::') {
    throw new UsageError(`${where.what}: give the address others reach this node at (not ${advertise.host})`);
  }
  // The members serve what this node serves: HTTPS when it has --cert-file.
  const scheme = option(args, env, 'cert-file') === undefined ? 'http' : 'https';
  return { endpoints: parseEndpoints(joinOpt.raw, joinOpt.what, scheme), advertise, learner };
}

/**
 * Flags win over environment variables. The cluster comes from --cluster, else CLUSTER, else the
 * seed's PEER_IDS/PORT (which also make the node listen on 0.0.0.0:PORT unless --listen/LISTEN).
 * Throws UsageError for anything missing or malformed, and for options the node would refuse.
 */
export function parseStartOptions(argv: readonly string[], env: Env): NodeOptions {
  const args = parseArgs(argv, startFlags);
  return optionsFrom(args, env, joinPlanFrom(args, env));
}

function optionsFrom(args: ParsedArgs, env: Env, join: JoinPlan | undefined): NodeOptions {
  noMorePositionals(args, 0);

  const idOpt = option(args, env, 'id');
  if (idOpt === undefined) throw new UsageError('missing --id (or NODE_ID)');
  const id = idOpt.raw;

  let cluster: Record<string, HostPort>;
  let seedListen: HostPort | undefined;
  const clusterOpt = option(args, env, 'cluster');
  const peerIds = env.PEER_IDS;
  const portEnv = env.PORT === '' ? undefined : env.PORT;
  if (join !== undefined) {
    // The members are asked for at start (join.ts); until then the node knows only itself.
    cluster = { [id]: join.advertise };
  } else if (clusterOpt !== undefined) {
    cluster = parseCluster(clusterOpt.raw, clusterOpt.what);
  } else if (peerIds !== undefined || portEnv !== undefined) {
    const port = portEnv === undefined ? seedDefaultPort : parseInteger(portEnv, 'PORT', 1, 65535);
    cluster = clusterFromPeerIds(id, port, peerIds ?? '');
    seedListen = { host: '0.0.0.0', port };
  } else {
    throw new UsageError(
      'missing --cluster or --join (or CLUSTER, JOIN, or the seed form NODE_ID/PEER_IDS/PORT)',
    );
  }
  if (!cluster[id]) {
    throw new UsageError(
      `${idOpt.what} "${id}" is not one of the cluster's ids (${Object.keys(cluster).join(', ')})`,
    );
  }

  const listenOpt = option(args, env, 'listen');
  const listen = listenOpt
    ? parseHostPort(listenOpt.raw, listenOpt.what, { allowEmptyHost: true })
    : seedListen;

  const dataDir = option(args, env, 'data-dir')?.raw ?? `./data/${id}`;
  const tokenOpt = option(args, env, 'cluster-token');
  if (tokenOpt !== undefined && !/^\S{1,128}$/.test(tokenOpt.raw)) {
    throw new UsageError(`${tokenOpt.what} must be 1-128 characters without spaces`);
  }
  const clusterToken = tokenOpt?.raw;
  const heartbeatIntervalMs = durationOption(args, env, 'heartbeat-interval');
  const electionTimeoutMs = durationOption(args, env, 'election-timeout');
  const requestTimeoutMs = durationOption(args, env, 'request-timeout');
  const diskStallMs = durationOption(args, env, 'disk-stall-timeout');
  const snapshotEvery = countOption(args, env, 'snapshot-every', 1);
  const snapshotCatchUpEntries = countOption(args, env, 'snapshot-catch-up-entries', 0);
  const maxInflightRequests = countOption(args, env, 'max-inflight', 1);
  const maxConnectionsPerClient = countOption(args, env, 'max-connections-per-client', 0);
  const slowReaderMs = durationOption(args, env, 'slow-reader-timeout');
  const readMode = choiceOption(args, env, 'read-mode', readModes);
  const quotaBytes = countOption(args, env, 'quota-bytes', 0);
  const minFreeBytes = countOption(args, env, 'min-free-bytes', 0);
  const logFormat = choiceOption(args, env, 'log-format', logFormats);
  const logLevel = choiceOption(args, env, 'log-level', logLevels);
  const authFile = option(args, env, 'auth-file')?.raw;
  const metricsAuth = booleanOption(args, 'metrics-auth');
  const enableFaults = booleanOption(args, 'enable-faults');
  if (metricsAuth && authFile === undefined) throw new UsageError('--metrics-auth goes with --auth-file');
  const tls: NodeTlsFiles = {
    ...optionalPath(args, env, 'cert-file', 'certFile'),
    ...optionalPath(args, env, 'key-file', 'keyFile'),
    ...optionalPath(args, env, 'trusted-ca-file', 'trustedCaFile'),
    ...(booleanOption(args, 'client-cert-auth') && { clientCertAuth: true }),
    ...optionalPath(args, env, 'peer-cert-file', 'peerCertFile'),
    ...optionalPath(args, env, 'peer-key-file', 'peerKeyFile'),
    ...optionalPath(args, env, 'peer-trusted-ca-file', 'peerTrustedCaFile'),
  };
  const tlsProblem = tlsFlagsProblem(tls);
  if (tlsProblem !== null) throw new UsageError(tlsProblem);
  // The node's own client credentials (connection-options.ts): files read once, here.
  const ownCalls = parseCredentials(args, env);
  const supervisor = supervisorFrom(env);

  const options: NodeOptions = {
    id,
    cluster,
    dataDir,
    ...(clusterToken !== undefined && { clusterToken }),
    ...(listen && { listen }),
    ...(heartbeatIntervalMs !== undefined && { heartbeatIntervalMs }),
    ...(electionTimeoutMs !== undefined && { electionTimeoutMs }),
    ...(requestTimeoutMs !== undefined && { requestTimeoutMs }),
    ...(diskStallMs !== undefined && { diskStallMs }),
    ...(snapshotEvery !== undefined && { snapshotEvery }),
    ...(snapshotCatchUpEntries !== undefined && { snapshotCatchUpEntries }),
    ...(maxInflightRequests !== undefined && { maxInflightRequests }),
    ...(maxConnectionsPerClient !== undefined && { maxConnectionsPerClient }),
    ...(slowReaderMs !== undefined && { slowReaderMs }),
    ...(readMode !== undefined && { readMode }),
    ...(quotaBytes !== undefined && { quotaBytes }),
    ...(minFreeBytes !== undefined && { minFreeBytes }),
    ...(logFormat !== undefined && { logFormat }),
    ...(logLevel !== undefined && { logLevel }),
    ...(authFile !== undefined && { authFile }),
    ...(metricsAuth && { metricsAuth }),
    ...(enableFaults && { enableFaults }),
    ...(Object.keys(tls).length > 0 && { tls }),
    ...((ownCalls.token !== undefined || ownCalls.tls !== undefined) && { ownCalls }),
    ...(supervisor !== undefined && { supervisor }),
  };
  try {
    resolveNodeOptions(options); // the node's own checks (timing relations), reported as usage errors
  } catch (e) {
    if (e instanceof NodeOptionsError) throw new UsageError(e.message);
    throw e;
  }
  return options;
}

/** `{ [key]: path }` when the flag (or its env var) is given, else nothing. */
function optionalPath(
  args: ParsedArgs,
  env: Env,
  flag: string,
  key: Exclude<keyof NodeTlsFiles, 'clientCertAuth'>,
): Partial<Record<Exclude<keyof NodeTlsFiles, 'clientCertAuth'>, string>> {
  const opt = option(args, env, flag);
  if (opt === undefined) return {};
  if (opt.raw === '') throw new UsageError(`${opt.what} is empty`);
  return { [key]: opt.raw };
}
