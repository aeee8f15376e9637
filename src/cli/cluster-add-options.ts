// `raftkv cluster add`: flags → what the user asked for. Pure. Which id, port and data dir the
// node gets depends on the running cluster's members too: cluster-add-plan.ts decides that.

import type { Endpoint } from './addresses.js';
import { checkNodeId, formatHostPort } from './addresses.js';
import {
  booleanOption,
  type Env,
  type FlagDef,
  noMorePositionals,
  parseArgs,
  parseInteger,
  stringOption,
  UsageError,
} from './args.js';
import { supervisorToken } from './cluster-auth.js';
import { childEnv, defaultDataDir, defaultHost, parseHost, passThroughArgs } from './cluster-options.js';
import { type Credentials, connectionFlags, credentialEnv, parseCredentials } from './connection-options.js';
import { endpointsFlag, endpointsOption } from './kv-commands.js';
import { authFileFlag, enableFaultsFlag, parseStartCommand, tuningFlags } from './start-options.js';

export const clusterAddFlags: readonly FlagDef[] = [
  { ...endpointsFlag, help: 'members of the running cluster to ask for its members and to join through' },
  { name: 'id', value: 'ID', default: 'one past the highest n<i>', help: "the new node's id" },
  {
    name: 'host',
    value: 'HOST',
    default: defaultHost,
    help: 'address the node listens on and is reached at',
  },
  {
    name: 'port',
    value: 'PORT',
    default: "one past the members' highest on HOST",
    help: 'port the node listens on',
  },
  {
    name: 'data-dir',
    value: 'DIR',
    default: defaultDataDir,
    help: 'the node keeps its data in DIR/<id>, as raftkv cluster does',
  },
  { name: 'learner', help: 'stay a learner (default: promoted to voter once caught up)' },
  {
    ...authFileFlag,
    help: "passed to the node (give raftkv cluster's); its first admin's token is used as for raftkv cluster",
  },
  {
    ...connectionFlags[0]!,
    help: "an admin's token: for the members asked, and the node's own calls (--join's); prefer the env var",
  },
  ...connectionFlags.slice(1),
  { ...enableFaultsFlag, help: 'passed to the node (give it when raftkv cluster was given it)' },
  ...tuningFlags,
];

export interface ClusterAddRequest {
  /** Members to ask, in order; also the node's --join list. */
  readonly endpoints: readonly Endpoint[];
  /** The endpoints as one argument (--join's, and --endpoints' in the commands printed). */
  readonly endpointsArg: string;
  /** --endpoints was given (else RAFTKV_ENDPOINTS or the default also find the cluster later). */
  readonly endpointsGiven: boolean;
  /** Given with --id; otherwise the plan picks the next free one. */
  readonly id?: string;
  readonly host: string;
  /** --host was given (a member restarted where the cluster lists it must not be sent elsewhere). */
  readonly hostGiven: boolean;
  /** Given with --port; otherwise the plan picks one. */
  readonly port?: number;
  /** The node's data dir is `dataDir/<id>`. */
  readonly dataDir: string;
  readonly learner: boolean;
  /** Tuning flags for `raftkv start`, as given. */
  readonly passThrough: readonly string[];
  /**
   * The node's environment: this one's minus the per-node variables, plus the credentials given
   * as flags (RAFTKV_TOKEN, RAFTKV_CACERT ...: the node's own, for its --join reads).
   */
  readonly env: Readonly<Record<string, string>>;
  /** The token and TLS files this command asks the members with. */
  readonly credentials: Credentials;
  /** Lines to print at start (with an auth file: whose token is used). */
  readonly notes: readonly string[];
}

/** `raftkv start ...` for the node: it joins through the endpoints and stops with our stdin. */
export function startArgv(
  req: ClusterAddRequest,
  node: { readonly id: string; readonly address: string; readonly dataDir: string },
): string[] {
  return [
    'start',
    '--id',
    node.id,
    '--listen',
    node.address,
    '--data-dir',
    node.dataDir,
    '--join',
    req.endpointsArg,
    ...(req.learner ? ['--learner'] : []),
    ...req.passThrough,
    '--stop-with-stdin',
  ];
}

export function parseClusterAddCommand(argv: readonly string[], env: Env): ClusterAddRequest {
  const args = parseArgs(argv, clusterAddFlags);
  noMorePositionals(args, 0);
  const endpoints = endpointsOption(args, env);
  const idRaw = stringOption(args, 'id');
  const id = idRaw === undefined ? undefined : checkNodeId(idRaw, '--id');
  const hostRaw = stringOption(args, 'host');
  const host = parseHost(hostRaw ?? defaultHost);
  if (host === '0.0.0.0' || host === '::') {
    throw new UsageError(`--host: give the address the other nodes reach this one at, not ${host}`);
  }
  const portRaw = stringOption(args, 'port');
  const port = portRaw === undefined ? undefined : parseInteger(portRaw, '--port', 1, 65535);
  const dataDir = stringOption(args, 'data-dir') ?? defaultDataDir;
  if (dataDir === '') throw new UsageError('--data-dir must not be empty');
  // With an auth file, a token for this command's calls and the node's own, as raftkv cluster.
  const { token, notes } = supervisorToken(args, env);
  const req: ClusterAddRequest = {
    endpoints,
    // As labels, but an https:// endpoint keeps its scheme.
    endpointsArg: endpoints.map((e) => (e.url === `http://${e.label}` ? e.label : e.url)).join(','),
    endpointsGiven: stringOption(args, 'endpoints') !== undefined,
    ...(id !== undefined && { id }),
    host,
    hostGiven: hostRaw !== undefined,
    ...(port !== undefined && { port }),
    dataDir,
    learner: booleanOption(args, 'learner'),
    passThrough: passThroughArgs(args, [authFileFlag, enableFaultsFlag, ...tuningFlags]),
    env: {
      ...childEnv(env),
      ...credentialEnv(args, env),
      ...(token !== undefined && { RAFTKV_TOKEN: token }),
    },
    credentials: { ...parseCredentials(args, env), ...(token !== undefined && { token }) },
    notes,
  };
  // The node's command line is checked now, so a bad tuning value is a usage error before the
  // cluster is asked anything (the id and port are stand-ins until the plan has chosen them).
  const trial = { id: id ?? 'n1', address: formatHostPort({ host, port: port ?? 1 }), dataDir };
  parseStartCommand(startArgv(req, trial).slice(1), req.env);
  return req;
}
