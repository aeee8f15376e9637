// `raftkv cluster`: flags → the plan of N `raftkv start` processes. Pure; every node's command
// line is checked with the same parser `raftkv start` uses before anything is spawned.

import { join } from 'node:path';
import { formatHostPort } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseInteger,
  stringOption,
  UsageError,
} from './args.js';
import { supervisorToken } from './cluster-auth.js';
import { type Credentials, connectionFlags, credentialEnv, parseCredentials } from './connection-options.js';
import {
  authFileFlag,
  clusterTokenFlag,
  enableFaultsFlag,
  parseStartCommand,
  tuningFlags,
} from './start-options.js';
import { supervisorEnv, supervisorFileName } from './supervisor-control.js';

export const maxClusterNodes = 99;
export const defaultHost = '127.0.0.1';
export const defaultDataDir = './data';
/** Where `raftkv exercise` looks for the control API of the cluster run with the default data dir. */
export const defaultSupervisorFile = `${defaultDataDir}/${supervisorFileName}`;

/** The connection flags as `raftkv cluster` uses them: for the nodes' own calls and its polls. */
function clusterCredentialFlags(): FlagDef[] {
  const [token, cacert, cert, key] = connectionFlags;
  return [
    {
      ...token!,
      default: 'with --auth-file: its first admin whose token is in the clear',
      help: 'the token the nodes use for their own calls, and this command for its polls; prefer the env var',
    },
    {
      ...cacert!,
      help: "for https: the CA certificate (PEM) of the nodes' certificates, for the polls and the nodes' own calls",
    },
    { ...cert!, help: 'a client certificate (PEM) presented on those calls, with --key' },
    key!,
  ];
}

export const clusterFlags: readonly FlagDef[] = [
  { name: 'nodes', value: 'N', default: '3', help: `number of nodes (1-${maxClusterNodes}; odd is best)` },
  { name: 'base-port', value: 'PORT', default: '7001', help: 'node i listens on PORT+i-1' },
  {
    name: 'data-dir',
    value: 'DIR',
    default: defaultDataDir,
    help: 'node i keeps its data in DIR/n<i>; reuse it to resume',
  },
  {
    name: 'host',
    value: 'HOST',
    default: defaultHost,
    help: 'address every node listens on and is reached at',
  },
  clusterTokenFlag,
  authFileFlag,
  {
    name: 'tls',
    help: 'HTTPS and mutual peer TLS on every node, with a private CA and certificates made in DATA_DIR/tls on the first run (docs/security.md)',
  },
  ...clusterCredentialFlags(),
  { ...enableFaultsFlag, help: `${enableFaultsFlag.help}; every node gets it` },
  {
    name: 'control-port',
    value: 'PORT',
    default: 'a free port',
    help: 'port of the control API on 127.0.0.1 that kills, stops and restarts the nodes (token in DATA_DIR/supervisor.json)',
  },
  { name: 'no-control', help: 'no control API: the nodes can be stopped only all together' },
  ...tuningFlags,
];

/** With --tls: where the CA and the certificates are (made on the first run, reused after). */
export interface ClusterTls {
  readonly dir: string;
  readonly ca: string;
  /** The hosts each node's certificate must name (loopback is always added). */
  readonly hosts: readonly string[];
}

/**
 * Set for a supervised node by its flags, so not inherited from the supervisor's environment
 * (JOIN and ADVERTISE too: an inherited ADVERTISE would win over a joining node's --listen).
 */
export const perNodeEnv = [
  'NODE_ID',
  'CLUSTER',
  'DATA_DIR',
  'LISTEN',
  'JOIN',
  'ADVERTISE',
  'PEER_IDS',
  'PORT',
  // The supervisor that runs the node says where its control API is (none: no supervisor).
  supervisorEnv.url,
  supervisorEnv.token,
] as const;

export interface PlannedNode {
  readonly id: string;
  readonly port: number;
  readonly dataDir: string;
  /** Base URL for clients. */
  readonly url: string;
  /** Arguments after the CLI script: `start --id ...`. */
  readonly argv: readonly string[];
}

export interface ClusterPlan {
  readonly host: string;
  readonly dataDir: string;
  readonly nodes: readonly PlannedNode[];
  /** Environment for every node: the supervisor's minus the per-node variables. */
  readonly env: Readonly<Record<string, string>>;
  /** `--endpoints` value for the client commands. */
  readonly endpoints: string;
  /** What the supervisor's own polls of the nodes present: the nodes' token, the TLS files. */
  readonly credentials: Credentials;
  /** Lines to print at start (with an auth file: whose token the nodes use). */
  readonly notes: readonly string[];
  /** --tls, or null. */
  readonly tls: ClusterTls | null;
  /** The control API's port on 127.0.0.1 (0: a free one), or null with --no-control. */
  readonly controlPort: number | null;
}

/** `--host`: a host name or address; an IPv6 address with or without brackets. */
export function parseHost(raw: string): string {
  const host = raw.replace(/^\[(.*)\]$/, '$1');
  if (host === '' || /[\s/,=[\]]/.test(host)) {
    throw new UsageError(`--host: "${raw}" is not a host name or address`);
  }
  return host;
}

/** The given flags of `defs` as `raftkv start` arguments, for every node to get the same. */
export function passThroughArgs(args: ParsedArgs, defs: readonly FlagDef[]): string[] {
  const out: string[] = [];
  for (const f of defs) {
    // A flag without a value (a switch) is passed on when given.
    if (f.value === undefined) {
      if (booleanOption(args, f.name)) out.push(`--${f.name}`);
      continue;
    }
    const v = stringOption(args, f.name);
    // One argument: a value that starts with "-" must not read as a flag.
    if (v !== undefined) out.push(`--${f.name}=${v}`);
  }
  return out;
}

export function childEnv(env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  const drop = new Set<string>(perNodeEnv);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && !drop.has(k)) out[k] = v;
  return out;
}

export function parseClusterCommand(argv: readonly string[], env: Env): ClusterPlan {
  const args = parseArgs(argv, clusterFlags);
  noMorePositionals(args, 0);
  const n = parseInteger(stringOption(args, 'nodes') ?? '3', '--nodes', 1, maxClusterNodes);
  const basePort = parseInteger(stringOption(args, 'base-port') ?? '7001', '--base-port', 1, 65536 - n);
  const dataDir = stringOption(args, 'data-dir') ?? defaultDataDir;
  if (dataDir === '') throw new UsageError('--data-dir must not be empty');
  const host = parseHost(stringOption(args, 'host') ?? defaultHost);
  const controlPortRaw = stringOption(args, 'control-port');
  const noControl = booleanOption(args, 'no-control');
  if (noControl && controlPortRaw !== undefined) {
    throw new UsageError('--control-port and --no-control go against each other: give one');
  }
  const controlPort = noControl
    ? null
    : controlPortRaw === undefined
      ? 0
      : parseInteger(controlPortRaw, '--control-port', 1, 65535);
  const passThrough = passThroughArgs(args, [
    clusterTokenFlag,
    authFileFlag,
    enableFaultsFlag,
    ...tuningFlags,
  ]);
  // The nodes' own credentials come by environment (a token must not show in their command
  // lines); with an auth file, a token for their own calls is found if none was given.
  const credentials = parseCredentials(args, env);
  const nodesEnv: Record<string, string> = { ...childEnv(env), ...credentialEnv(args, env) };
  const { token, notes } = supervisorToken(args, env);
  if (token !== undefined) nodesEnv.RAFTKV_TOKEN = token;

  const ids = Array.from({ length: n }, (_, i) => `n${i + 1}`);
  const addr = (i: number): string => formatHostPort({ host, port: basePort + i });
  const tlsOn = booleanOption(args, 'tls');
  const tls: ClusterTls | null = tlsOn
    ? { dir: join(dataDir, 'tls'), ca: join(dataDir, 'tls', 'ca.pem'), hosts: [host] }
    : null;
  const scheme = tls === null ? 'http' : 'https';
  const clusterSpec = ids.map((id, i) => `${id}=${addr(i)}`).join(',');
  const nodes = ids.map((id, i): PlannedNode => {
    const nodeDir = join(dataDir, id);
    const nodeArgv = [
      'start',
      '--id',
      id,
      '--cluster',
      clusterSpec,
      '--data-dir',
      nodeDir,
      ...passThrough,
      ...(tls === null ? [] : nodeTlsArgs(tls, id)),
      '--stop-with-stdin',
    ];
    parseStartCommand(nodeArgv.slice(1), nodesEnv); // a bad pass-through value fails here, once
    return { id, port: basePort + i, dataDir: nodeDir, url: `${scheme}://${addr(i)}`, argv: nodeArgv };
  });
  return {
    host,
    dataDir,
    nodes,
    env: nodesEnv,
    endpoints: ids.map((_, i) => (tls === null ? addr(i) : `https://${addr(i)}`)).join(','),
    credentials: { ...credentials, ...(token !== undefined && { token }) },
    notes,
    tls,
    controlPort,
  };
}

/** A node's HTTPS and peer TLS flags, on the files `raftkv certs` names ID.pem and ID-key.pem. */
function nodeTlsArgs(tls: ClusterTls, id: string): string[] {
  const own = { cert: join(tls.dir, `${id}.pem`), key: join(tls.dir, `${id}-key.pem`) };
  return [
    '--cert-file',
    own.cert,
    '--key-file',
    own.key,
    '--trusted-ca-file',
    tls.ca,
    '--peer-cert-file',
    own.cert,
    '--peer-key-file',
    own.key,
    '--peer-trusted-ca-file',
    tls.ca,
  ];
}
