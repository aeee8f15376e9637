// The node's TLS, from its PEM files (docs/security.md): what its HTTPS port serves, how it
// reaches the other members' ports, and its peer identity. Read at start and again on SIGHUP; a
// file that is missing, unreadable or not what its flag says stops the start (or, on SIGHUP,
// changes nothing) with a message naming the file.

import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { type ConnectionOptions, createSecureContext, type TlsOptions } from 'node:tls';
import type { ClientTls } from '../client/index.js';
import type { NodeTlsFiles } from '../node/options.js';
import type { HttpsSettings } from '../server/http-server.js';
import type { PeerTlsMaterial } from '../transport/index.js';

export interface NodeTls {
  /** The port's HTTPS, or null for plain HTTP. */
  readonly https: HttpsSettings | null;
  /** The peer identity, or null when peer traffic is not authenticated. */
  readonly peer: PeerTlsMaterial | null;
  /** How a peer connection reaches a member's HTTPS port before its own handshake; null for HTTP. */
  readonly upgrade: ConnectionOptions | null;
  /** The node's HTTPS identity as a client of the other members (its own calls); null for HTTP. */
  readonly ownCalls: ClientTls | null;
  /** The certificates' earliest expiry (ms since the epoch), null without TLS. */
  readonly expiresAt: number | null;
}

/** A TLS file or combination of flags the node cannot use; the message names it. */
export class TlsFileError extends Error {
  override readonly name = 'TlsFileError';
}

const minVersion = 'TLSv1.2';

/** Which flags go together; the first problem found, or null. */
export function tlsFlagsProblem(f: NodeTlsFiles): string | null {
  if ((f.certFile === undefined) !== (f.keyFile === undefined))
    return '--cert-file and --key-file go together';
  if (f.certFile === undefined && f.trustedCaFile !== undefined)
    return '--trusted-ca-file needs --cert-file and --key-file (it is the CA of clients of the HTTPS port)';
  if (f.clientCertAuth === true && f.trustedCaFile === undefined)
    return '--client-cert-auth needs --trusted-ca-file: the CA client certificates must be signed by';
  const peer = [f.peerCertFile, f.peerKeyFile, f.peerTrustedCaFile];
  if (peer.some((p) => p !== undefined) && peer.some((p) => p === undefined))
    return '--peer-cert-file, --peer-key-file and --peer-trusted-ca-file go together (peer TLS is always mutual)';
  return null;
}

export function tlsConfigured(f: NodeTlsFiles): boolean {
  return f.certFile !== undefined || f.peerCertFile !== undefined;
}

/** Reads and checks every file the flags name; throws TlsFileError naming what is wrong. */
export async function readNodeTls(f: NodeTlsFiles): Promise<NodeTls> {
  const problem = tlsFlagsProblem(f);
  if (problem !== null) throw new TlsFileError(problem);
  const expiries: number[] = [];
  let https: HttpsSettings | null = null;
  let peer: PeerTlsMaterial | null = null;
  let upgrade: ConnectionOptions | null = null;
  let ownCalls: ClientTls | null = null;

  const trustedCa =
    f.trustedCaFile === undefined ? undefined : await readCa(f.trustedCaFile, '--trusted-ca-file');
  if (f.peerCertFile !== undefined && f.peerKeyFile !== undefined && f.peerTrustedCaFile !== undefined) {
    const cert = await readCert(f.peerCertFile, '--peer-cert-file', expiries);
    const key = await readPem(f.peerKeyFile, '--peer-key-file');
    const ca = await readCa(f.peerTrustedCaFile, '--peer-trusted-ca-file');
    checkPair(cert, key, ca, '--peer-cert-file', '--peer-key-file');
    peer = { cert, key, ca };
  }
  if (f.certFile !== undefined && f.keyFile !== undefined) {
    const cert = await readCert(f.certFile, '--cert-file', expiries);
    const key = await readPem(f.keyFile, '--key-file');
    checkPair(cert, key, trustedCa, '--cert-file', '--key-file');
    const server: TlsOptions = {
      cert,
      key,
      minVersion,
      ...(f.clientCertAuth === true && { ca: trustedCa, requestCert: true, rejectUnauthorized: true }),
    };
    // Members check each other's HTTPS against the clients' CA, else the peer CA, else the
    // system's roots; they present their own certificate in case the port asks for one.
    const memberCa = trustedCa ?? peer?.ca;
    const client: ConnectionOptions = {
      cert,
      key,
      minVersion,
      ...(memberCa !== undefined && { ca: memberCa }),
    };
    https = { server, client };
    ownCalls = { cert, key, ...(memberCa !== undefined && { ca: memberCa }) };
    // Inside, peer TLS authenticates both ends on its own: the outer session need not be checked.
    upgrade = peer === null ? client : { ...client, rejectUnauthorized: false };
  }
  return { https, peer, upgrade, ownCalls, expiresAt: expiries.length === 0 ? null : Math.min(...expiries) };
}

async function readPem(path: string, flag: string): Promise<Buffer> {
  let data: Buffer;
  try {
    data = await readFile(path);
  } catch (e) {
    throw new TlsFileError(`${flag} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  if (!data.includes('-----BEGIN ')) throw new TlsFileError(`${flag} ${path}: not a PEM file`);
  return data;
}

async function readCert(path: string, flag: string, expiries: number[]): Promise<Buffer> {
  const pem = await readPem(path, flag);
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pem);
  } catch (e) {
    throw new TlsFileError(`${flag} ${path}: not a certificate (${(e as Error).message})`);
  }
  const notAfter = Date.parse(cert.validTo);
  if (Number.isFinite(notAfter)) expiries.push(notAfter);
  return pem;
}

async function readCa(path: string, flag: string): Promise<Buffer> {
  const pem = await readPem(path, flag);
  try {
    new X509Certificate(pem);
  } catch (e) {
    throw new TlsFileError(`${flag} ${path}: not a certificate (${(e as Error).message})`);
  }
  return pem;
}

/** OpenSSL's own check that the key is the certificate's and that the files parse. */
function checkPair(
  cert: Buffer,
  key: Buffer,
  ca: Buffer | undefined,
  certFlag: string,
  keyFlag: string,
): void {
  try {
    createSecureContext({ cert, key, ...(ca !== undefined && { ca }), minVersion });
  } catch (e) {
    throw new TlsFileError(`${certFlag} / ${keyFlag}: ${(e as Error).message}`);
  }
}
