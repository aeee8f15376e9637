// Certificates for TLS tests, made fresh by `openssl` in a temp dir removed after the test: a CA,
// node certificates signed by it (SAN 127.0.0.1, ::1 and localhost; usable by servers and
// clients), a client certificate, and on request a second CA with a node certificate of its own,
// for "signed by someone else" cases. Tests that need it skip themselves when openssl is missing.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { AfterHook } from './node-process.js';

const run = promisify(execFile);

export interface CertFiles {
  /** PEM paths. */
  readonly cert: string;
  readonly key: string;
}

export interface TestCerts {
  readonly dir: string;
  /** The CA's certificate (PEM path) and its PEM text. */
  readonly ca: string;
  readonly caPem: string;
  /** One per node id asked for. */
  node(id: string): CertFiles;
  /** A client certificate (CN "client") signed by the CA. */
  readonly client: CertFiles;
  /** A second, unrelated CA and a node-like certificate it signed ("intruder"). */
  readonly other: { readonly ca: string; readonly intruder: CertFiles };
  /** Signs one more certificate for `name` with the CA (e.g. a rotated one). */
  issue(name: string, days?: number): Promise<CertFiles>;
}

/** Why TLS tests cannot run here, or null when they can. */
export async function opensslMissing(): Promise<string | null> {
  try {
    await run('openssl', ['version']);
    return null;
  } catch {
    return 'openssl is not installed (Debian: apt-get install openssl)';
  }
}

const extensions = [
  'basicConstraints=critical,CA:false',
  'keyUsage=critical,digitalSignature',
  'extendedKeyUsage=serverAuth,clientAuth',
  'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost',
].join('\n');

/** `openssl req` making a fresh P-256 key (unencrypted) into `keyFile`. */
function newKey(keyFile: string): string[] {
  return ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', keyFile];
}

async function makeCa(dir: string, name: string): Promise<string> {
  const cert = path.join(dir, `${name}.pem`);
  await run('openssl', [
    ...newKey(path.join(dir, `${name}-key.pem`)),
    '-x509',
    '-out',
    cert,
    '-days',
    '30',
    '-subj',
    `/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:true',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  return cert;
}

async function signed(dir: string, ca: string, name: string, days = 30): Promise<CertFiles> {
  const key = path.join(dir, `${name}-key.pem`);
  const csr = path.join(dir, `${name}.csr`);
  const cert = path.join(dir, `${name}.pem`);
  const ext = path.join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await run('openssl', [...newKey(key), '-out', csr, '-subj', `/CN=${name}`]);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    path.join(dir, `${ca}.pem`),
    '-CAkey',
    path.join(dir, `${ca}-key.pem`),
    '-CAcreateserial',
    '-out',
    cert,
    '-days',
    String(days),
    '-extfile',
    ext,
  ]);
  return { cert, key };
}

/** Makes the CA, a certificate per node id, a client and the other CA; removed after the test. */
export async function makeTestCerts(t: AfterHook, nodeIds: readonly string[]): Promise<TestCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-certs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const ca = await makeCa(dir, 'ca');
  const nodes = new Map<string, CertFiles>();
  for (const id of nodeIds) nodes.set(id, await signed(dir, 'ca', id));
  const client = await signed(dir, 'ca', 'client');
  const otherCa = await makeCa(dir, 'other-ca');
  const intruder = await signed(dir, 'other-ca', 'intruder');
  return {
    dir,
    ca,
    caPem: await readFile(ca, 'utf8'),
    node: (id) => {
      const files = nodes.get(id);
      if (files === undefined) throw new Error(`no test certificate for ${id}`);
      return files;
    },
    client,
    other: { ca: otherCa, intruder },
    issue: (name, days) => signed(dir, 'ca', name, days),
  };
}
