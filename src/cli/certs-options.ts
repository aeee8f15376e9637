// `raftkv certs init | add`: flags and command lines → what to make (pure). The certificates are
// made by src/certs/; certs.ts runs the commands and prints what to start the nodes with.

import type { HostPort } from '../api/addresses.js';
import { hostProblem, normalizeHost } from '../certs/hosts.js';
import {
  caDays,
  clientNameProblem,
  defaultCertDays,
  defaultClientName,
  nodeIdProblem,
} from '../certs/names.js';
import { parseCluster } from './addresses.js';
import {
  booleanOption,
  type FlagDef,
  listOption,
  noMorePositionals,
  type ParsedArgs,
  parseArgs,
  parseInteger,
  stringOption,
  UsageError,
} from './args.js';

const daysFlag: FlagDef = {
  name: 'days',
  value: 'N',
  default: String(defaultCertDays),
  help: `how many days the node and client certificates are valid (1-${caDays}; the CA: ${caDays})`,
};
const forceFlag: FlagDef = { name: 'force', help: 'overwrite certificate and key files already there' };

export const certsInitFlags: readonly FlagDef[] = [
  {
    name: 'cluster',
    value: 'ID=HOST:PORT,...',
    help: 'the nodes: a certificate for each, naming its HOST (and 127.0.0.1, ::1, localhost)',
  },
  { name: 'out', value: 'DIR', help: 'where to write the files; created (mode 0700) if missing' },
  daysFlag,
  {
    name: 'client-name',
    value: 'NAME',
    default: defaultClientName,
    help: "the client certificate's common name (the user it stands for)",
  },
  forceFlag,
];

export const certsAddFlags: readonly FlagDef[] = [
  {
    name: 'ca-dir',
    value: 'DIR',
    help: 'holds ca.pem and ca-key.pem (as certs init wrote them): the CA that signs',
  },
  { name: 'id', value: 'ID', help: "the new node's id: the certificate's common name and file names" },
  {
    name: 'host',
    value: 'HOST',
    multiple: true,
    help: 'a host name or IP address peers and clients reach the node at (repeat it, or separate with commas)',
  },
  { name: 'out', value: 'DIR', default: 'the --ca-dir', help: 'where to write ID.pem and ID-key.pem' },
  daysFlag,
  forceFlag,
];

export interface CertsInitInvocation {
  readonly cluster: Readonly<Record<string, HostPort>>;
  readonly outDir: string;
  readonly days: number;
  readonly clientName: string;
  readonly force: boolean;
}

export interface CertsAddInvocation {
  readonly caDir: string;
  readonly id: string;
  readonly hosts: readonly string[];
  readonly outDir: string;
  readonly days: number;
  readonly force: boolean;
}

function required(args: ParsedArgs, name: string, what: string): string {
  const v = stringOption(args, name);
  if (v === undefined || v === '') throw new UsageError(`missing --${name} (${what})`);
  return v;
}

function daysOption(args: ParsedArgs): number {
  const raw = stringOption(args, 'days');
  return raw === undefined ? defaultCertDays : parseInteger(raw, '--days', 1, caDays);
}

function usageCheck(problem: string | null, what: string): void {
  if (problem !== null) throw new UsageError(`${what}: ${problem}`);
}

function checkHost(host: string, what: string): string {
  usageCheck(hostProblem(host), what);
  return normalizeHost(host);
}

export function parseCertsInit(argv: readonly string[]): CertsInitInvocation {
  const args = parseArgs(argv, certsInitFlags);
  noMorePositionals(args, 0);
  const cluster = parseCluster(required(args, 'cluster', 'the nodes, ID=HOST:PORT,...'), '--cluster');
  for (const [id, addr] of Object.entries(cluster)) {
    usageCheck(nodeIdProblem(id), '--cluster');
    checkHost(addr.host, `--cluster ${id}`);
  }
  const outDir = required(args, 'out', 'the directory to write the files to');
  const clientName = stringOption(args, 'client-name') ?? defaultClientName;
  usageCheck(clientNameProblem(clientName), '--client-name');
  return { cluster, outDir, days: daysOption(args), clientName, force: booleanOption(args, 'force') };
}

export function parseCertsAdd(argv: readonly string[]): CertsAddInvocation {
  const args = parseArgs(argv, certsAddFlags);
  noMorePositionals(args, 0);
  const caDir = required(args, 'ca-dir', 'the directory holding ca.pem and ca-key.pem');
  const id = required(args, 'id', "the new node's id");
  usageCheck(nodeIdProblem(id), '--id');
  const hosts = listOption(args, 'host')
    .flatMap((v) => v.split(','))
    .map((h) => h.trim())
    .filter((h) => h !== '')
    .map((h) => checkHost(h, '--host'));
  if (hosts.length === 0) throw new UsageError(`missing --host (where peers and clients reach ${id})`);
  return {
    caDir,
    id,
    hosts,
    outDir: stringOption(args, 'out') ?? caDir,
    days: daysOption(args),
    force: booleanOption(args, 'force'),
  };
}
