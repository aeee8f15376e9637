// `raftkv certs init` and `raftkv certs add`: make the certificates (src/certs/), then print the
// files made and the exact flags to start each node and to reach it over https, so trying TLS takes
// one command. Loaded only when a certs command runs (the X.509 library is not small).

import { formatHostPort } from '../api/addresses.js';
import {
  addNodeCert,
  type CertAndKey,
  CertsError,
  type ClusterCerts,
  createClusterCerts,
  type NodeCertFiles,
} from '../certs/index.js';
import type { CertsAddInvocation, CertsInitInvocation } from './certs-options.js';
import { type Io, shellQuote } from './io.js';
import { exitCodes } from './kv-commands.js';

/** The TLS flags of `raftkv start` for a node with these files: the client port's, the peers'. */
export function nodeTlsFlags(node: CertAndKey, ca: string): { client: string[]; peer: string[] } {
  return {
    client: ['--cert-file', node.cert, '--key-file', node.key, '--trusted-ca-file', ca, '--client-cert-auth'],
    peer: ['--peer-cert-file', node.cert, '--peer-key-file', node.key, '--peer-trusted-ca-file', ca],
  };
}

/** The TLS flags of the client commands for this client certificate. */
export function clientTlsFlags(client: CertAndKey, ca: string): string[] {
  return ['--cacert', ca, '--cert', client.cert, '--key', client.key];
}

/** A shell command, one group of words a line, each line but the last ending in a backslash. */
function commandLines(groups: readonly (readonly string[])[], indent = '  '): string {
  return groups
    .map((g, i) => `${indent}${i === 0 ? '' : '    '}${g.map(shellQuote).join(' ')}`)
    .join(' \\\n');
}

function day(d: Date): string {
  return d.toISOString().slice(0, 10);
}

function nodeLine(node: NodeCertFiles): string {
  return `node ${node.id}, for ${node.hosts.join(', ')}`;
}

function fileTable(rows: readonly (readonly [string, string])[]): string[] {
  const width = Math.max(...rows.map(([files]) => files.length));
  return rows.map(([files, what]) => `  ${files.padEnd(width)}  ${what}`);
}

/** What `certs init` prints: the files, the start commands, the client commands. */
export function initReport(inv: CertsInitInvocation, made: ClusterCerts): string {
  const clusterArg = Object.entries(inv.cluster)
    .map(([id, addr]) => `${id}=${formatHostPort(addr)}`)
    .join(',');
  const endpoints = Object.values(inv.cluster)
    .map((addr) => `https://${formatHostPort(addr)}`)
    .join(',');
  const clientFlags = clientTlsFlags(made.client, made.ca);
  const first = Object.values(inv.cluster)[0]!;
  return [
    `Wrote certificates to ${made.dir}:`,
    ...fileTable([
      [made.ca, "the CA's certificate: every node and client trusts it"],
      [made.caKey, "the CA's private key: keep it secret (raftkv certs add signs more with it)"],
      ...made.nodes.map((n) => [`${n.cert} ${n.key}`, nodeLine(n)] as const),
      [`${made.client.cert} ${made.client.key}`, `client "${made.client.name}"`],
    ]),
    `The CA is valid until ${day(made.caNotAfter)}, the node and client certificates until ${day(made.notAfter)}.`,
    'Private keys are mode 0600: run the nodes as the user who owns them.',
    '',
    'Start each node with its own certificate:',
    ...made.nodes.map((n) => {
      const tls = nodeTlsFlags(n, made.ca);
      return commandLines([['raftkv', 'start', '--id', n.id, '--cluster', clusterArg], tls.client, tls.peer]);
    }),
    '',
    'Then talk to the cluster over https:',
    commandLines([['raftkv', 'put', 'color', 'blue', '--endpoints', endpoints], clientFlags]),
    commandLines([['raftkv', 'get', 'color', '--endpoints', endpoints], clientFlags]),
    commandLines([
      ['curl', '--cacert', made.ca, '--cert', made.client.cert, '--key', made.client.key],
      [`https://${formatHostPort(first)}/kv/color`],
    ]),
    '',
  ].join('\n');
}

export async function runCertsInit(inv: CertsInitInvocation, io: Io): Promise<number> {
  let made: ClusterCerts;
  try {
    made = await createClusterCerts({
      nodes: Object.entries(inv.cluster).map(([id, addr]) => ({ id, hosts: [addr.host] })),
      outDir: inv.outDir,
      days: inv.days,
      clientName: inv.clientName,
      force: inv.force,
    });
  } catch (e) {
    if (!(e instanceof CertsError)) throw e;
    io.err(`raftkv certs init: ${e.message}\n`);
    return exitCodes.failed;
  }
  io.out(initReport(inv, made));
  return exitCodes.ok;
}

export async function runCertsAdd(inv: CertsAddInvocation, io: Io): Promise<number> {
  try {
    const made = await addNodeCert({
      caDir: inv.caDir,
      id: inv.id,
      hosts: inv.hosts,
      outDir: inv.outDir,
      days: inv.days,
      force: inv.force,
    });
    const tls = nodeTlsFlags(made, made.ca);
    io.out(
      [
        `Wrote ${made.cert} ${made.key}: ${nodeLine(made)}; signed by ${made.ca}, valid until ${day(made.notAfter)}.`,
        '',
        'Start the node with these flags, besides its --join (or --cluster) and the others it needs:',
        commandLines([['raftkv', 'start', '--id', made.id, '...'], tls.client, tls.peer]),
        '',
      ].join('\n'),
    );
    return exitCodes.ok;
  } catch (e) {
    if (!(e instanceof CertsError)) throw e;
    io.err(`raftkv certs add: ${e.message}\n`);
    return exitCodes.failed;
  }
}
