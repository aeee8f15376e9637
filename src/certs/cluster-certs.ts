// The certificates of a cluster as files: `createClusterCerts` makes a CA, one certificate per
// node and one client certificate; `addNodeCert` signs one more node's with a CA made before.
// File names are fixed (ca.pem, ca-key.pem, <id>.pem, <id>-key.pem, client.pem, client-key.pem),
// so the printed start flags, the docs and other commands can name them.

import path from 'node:path';
import { ensureDir, type PemFile, readPem, writePemFiles } from './files.js';
import { hostProblem, normalizeHost, sanHosts } from './hosts.js';
import {
  caDays,
  clientNameProblem,
  daysProblem,
  defaultCertDays,
  defaultClientName,
  nodeIdProblem,
} from './names.js';
import { type Authority, CertsError, createAuthority, issueCertificate, loadAuthority } from './x509.js';

export const caFile = 'ca.pem';
export const caKeyFile = 'ca-key.pem';

export interface NodeCertSpec {
  readonly id: string;
  /** Where peers and clients reach it: IP addresses and host names (loopback is always added). */
  readonly hosts: readonly string[];
}

export interface CertAndKey {
  /** PEM paths. */
  readonly cert: string;
  readonly key: string;
}

export interface NodeCertFiles extends CertAndKey {
  readonly id: string;
  /** Every host the certificate names, addresses first. */
  readonly hosts: readonly string[];
}

export interface ClusterCertsOptions {
  readonly nodes: readonly NodeCertSpec[];
  /** Created (0700) if missing. */
  readonly outDir: string;
  /** Validity of the node and client certificates; default 365. */
  readonly days?: number;
  /** The client certificate's common name; default "client". */
  readonly clientName?: string;
  /** Overwrite files already there (default: refuse, writing nothing). */
  readonly force?: boolean;
  readonly now?: Date;
}

export interface ClusterCerts {
  readonly dir: string;
  readonly ca: string;
  readonly caKey: string;
  readonly caNotAfter: Date;
  /** In the order given. */
  readonly nodes: readonly NodeCertFiles[];
  readonly client: CertAndKey & { readonly name: string };
  /** When the node and client certificates expire. */
  readonly notAfter: Date;
}

export interface AddNodeCertOptions extends NodeCertSpec {
  /** Holds ca.pem and ca-key.pem. */
  readonly caDir: string;
  /** Where the node's files go; default caDir. */
  readonly outDir?: string;
  readonly days?: number;
  readonly force?: boolean;
  readonly now?: Date;
}

export interface AddedNodeCert extends NodeCertFiles {
  readonly ca: string;
  readonly notAfter: Date;
}

export function nodeCertPaths(dir: string, id: string): CertAndKey {
  return { cert: path.join(dir, `${id}.pem`), key: path.join(dir, `${id}-key.pem`) };
}

function check(problem: string | null): void {
  if (problem !== null) throw new CertsError(problem);
}

function checkSpec(spec: NodeCertSpec): void {
  check(nodeIdProblem(spec.id));
  for (const h of spec.hosts) {
    const p = hostProblem(h);
    if (p !== null) throw new CertsError(`node ${spec.id}: ${p}`);
  }
}

function namedHosts(hosts: readonly string[]): string[] {
  const san = sanHosts(hosts);
  return [...san.ips, ...san.dns];
}

async function nodeFiles(
  ca: Authority,
  dir: string,
  spec: NodeCertSpec,
  days: number,
  now: Date,
): Promise<{ files: PemFile[]; node: NodeCertFiles; notAfter: Date }> {
  const hosts = spec.hosts.map(normalizeHost);
  const issued = await issueCertificate(ca, { kind: 'node', id: spec.id, hosts }, { days, now });
  const paths = nodeCertPaths(dir, spec.id);
  return {
    files: [
      { path: paths.cert, text: issued.certPem, secret: false },
      { path: paths.key, text: issued.keyPem, secret: true },
    ],
    node: { id: spec.id, ...paths, hosts: namedHosts(hosts) },
    notAfter: issued.notAfter,
  };
}

/**
 * A new CA, a certificate for every node (serverAuth and clientAuth, SANs its hosts and loopback)
 * and a client certificate (clientAuth), written to `outDir`. Refuses, writing nothing, when a
 * file is already there, unless `force`.
 */
export async function createClusterCerts(o: ClusterCertsOptions): Promise<ClusterCerts> {
  const days = o.days ?? defaultCertDays;
  const clientName = o.clientName ?? defaultClientName;
  const now = o.now ?? new Date();
  check(daysProblem(days));
  check(clientNameProblem(clientName));
  if (o.nodes.length === 0) throw new CertsError('no nodes to make certificates for');
  const seen = new Set<string>();
  for (const spec of o.nodes) {
    checkSpec(spec);
    if (seen.has(spec.id)) throw new CertsError(`node ${spec.id} is given twice`);
    seen.add(spec.id);
  }
  const dir = o.outDir;
  const ca = await createAuthority({ days: caDays, now });
  const caPaths = { ca: path.join(dir, caFile), caKey: path.join(dir, caKeyFile) };
  const files: PemFile[] = [
    { path: caPaths.ca, text: ca.certPem, secret: false },
    { path: caPaths.caKey, text: ca.keyPem, secret: true },
  ];
  const nodes: NodeCertFiles[] = [];
  for (const spec of o.nodes) {
    const made = await nodeFiles(ca.authority, dir, spec, days, now);
    files.push(...made.files);
    nodes.push(made.node);
  }
  const client = await issueCertificate(ca.authority, { kind: 'client', name: clientName }, { days, now });
  const clientPaths = nodeCertPaths(dir, 'client');
  files.push(
    { path: clientPaths.cert, text: client.certPem, secret: false },
    { path: clientPaths.key, text: client.keyPem, secret: true },
  );
  await ensureDir(dir);
  await writePemFiles(files, o.force === true);
  return {
    dir,
    ...caPaths,
    caNotAfter: ca.notAfter,
    nodes,
    client: { ...clientPaths, name: clientName },
    notAfter: client.notAfter,
  };
}

/** One more node's certificate, signed by the CA in `caDir` (made by createClusterCerts or openssl). */
export async function addNodeCert(o: AddNodeCertOptions): Promise<AddedNodeCert> {
  const days = o.days ?? defaultCertDays;
  const now = o.now ?? new Date();
  check(daysProblem(days));
  checkSpec(o);
  const ca = path.join(o.caDir, caFile);
  const authority = await loadAuthority(
    await readPem(ca, 'the CA certificate'),
    await readPem(path.join(o.caDir, caKeyFile), 'the CA key'),
    now,
  );
  const dir = o.outDir ?? o.caDir;
  const made = await nodeFiles(authority, dir, o, days, now);
  await ensureDir(dir);
  await writePemFiles(made.files, o.force === true);
  return { ...made.node, ca, notAfter: made.notAfter };
}
