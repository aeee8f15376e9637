// Making certificates: a private CA, and node and client certificates it signs, as PEM text in
// memory. X.509 is built by @peculiar/x509 on node's WebCrypto (no openssl at run time). Keys are
// ECDSA P-256, the certificate signatures ECDSA with SHA-256.

// tsyringe, which @peculiar/x509 uses inside, needs a Reflect metadata polyfill loaded first
// (an ES module's imports are evaluated in the order written).
import 'reflect-metadata';
import { createPrivateKey, createPublicKey, KeyObject, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import { sanHosts } from './hosts.js';

type CryptoKey = webcrypto.CryptoKey;
type Algorithm = webcrypto.Algorithm;
type EcdsaParams = webcrypto.EcdsaParams;

const crypto = webcrypto;

const keyAlgorithm: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const signatureAlgorithm: EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };

/**
 * Certificates start an hour in the past, so a machine whose clock is a little behind the one
 * that made them does not refuse them as not yet valid.
 */
const backdateMs = 60 * 60 * 1000;
const dayMs = 24 * 60 * 60 * 1000;

/** A refusal of the certificate maker: bad input, files in the way, a CA it cannot use. */
export class CertsError extends Error {
  override name = 'CertsError';
}

/** A CA that can sign: its certificate and private key. */
export interface Authority {
  readonly cert: x509.X509Certificate;
  readonly key: CryptoKey;
  readonly signingAlgorithm: Algorithm | EcdsaParams;
}

/** A certificate and its private key, as PEM (the key as PKCS#8). */
export interface IssuedPem {
  readonly certPem: string;
  readonly keyPem: string;
  readonly notAfter: Date;
}

export interface Validity {
  /** Days from now. */
  readonly days: number;
  /** The time to count from; default the present. */
  readonly now?: Date;
}

/** A random, positive 128-bit serial number (RFC 5280 allows 20 octets). */
function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f || 0x01;
  return bytes.toString('hex');
}

function window(v: Validity): { notBefore: Date; notAfter: Date } {
  // Whole seconds, as a certificate holds them: a CA and a certificate made at the same moment for
  // the same number of days then end at the same second, and the CA does not seem to end first.
  const now = Math.floor((v.now ?? new Date()).getTime() / 1000) * 1000;
  return { notBefore: new Date(now - backdateMs), notAfter: new Date(now + v.days * dayMs) };
}

async function newKeys(): Promise<webcrypto.CryptoKeyPair> {
  return crypto.subtle.generateKey(keyAlgorithm, true, ['sign', 'verify']);
}

/** PEM text ending in a newline, as openssl writes it (the library leaves it off). */
function certificatePem(cert: x509.X509Certificate): string {
  return `${cert.toString('pem').trimEnd()}\n`;
}

function keyPem(key: CryptoKey): string {
  return KeyObject.from(key).export({ type: 'pkcs8', format: 'pem' }).toString();
}

/** A new CA: self-signed, basicConstraints CA (signs end-entity certificates only). */
export async function createAuthority(
  v: Validity & { readonly name?: string },
): Promise<{ authority: Authority } & IssuedPem> {
  const keys = await newKeys();
  const { notBefore, notAfter } = window(v);
  // A name of its own per CA, so two CAs never look alike to a chain builder that matches names.
  const name = v.name ?? `raftkv CA ${randomBytes(4).toString('hex')}`;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: [{ O: ['raftkv'] }, { CN: [name] }],
      notBefore,
      notAfter,
      keys,
      signingAlgorithm: signatureAlgorithm,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
      ],
    },
    crypto,
  );
  return {
    authority: { cert, key: keys.privateKey, signingAlgorithm: signatureAlgorithm },
    certPem: certificatePem(cert),
    keyPem: keyPem(keys.privateKey),
    notAfter,
  };
}

/** What one certificate is for: a node (server and client) or a client only. */
export type CertSubject =
  | { readonly kind: 'node'; readonly id: string; readonly hosts: readonly string[] }
  | { readonly kind: 'client'; readonly name: string };

/** A new key and a certificate for it, signed by `ca`. */
export async function issueCertificate(ca: Authority, subject: CertSubject, v: Validity): Promise<IssuedPem> {
  const { notBefore, notAfter } = window(v);
  if (notAfter > ca.cert.notAfter) {
    throw new CertsError(
      `a certificate valid for ${v.days} days would outlive the CA (valid until ${ca.cert.notAfter.toISOString()}): ask for fewer days`,
    );
  }
  const keys = await newKeys();
  const usages =
    subject.kind === 'node'
      ? [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]
      : [x509.ExtendedKeyUsage.clientAuth];
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
    await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
    await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey, false, crypto),
  ];
  if (subject.kind === 'node') {
    const san = sanHosts(subject.hosts);
    extensions.push(
      new x509.SubjectAlternativeNameExtension([
        ...san.dns.map((value) => ({ type: 'dns' as const, value })),
        ...san.ips.map((value) => ({ type: 'ip' as const, value })),
      ]),
    );
  }
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: [{ CN: [subject.kind === 'node' ? subject.id : subject.name] }],
      issuer: ca.cert.subjectName,
      notBefore,
      notAfter,
      publicKey: keys.publicKey,
      signingKey: ca.key,
      signingAlgorithm: ca.signingAlgorithm,
      extensions,
    },
    crypto,
  );
  return { certPem: certificatePem(cert), keyPem: keyPem(keys.privateKey), notAfter };
}

/** The WebCrypto algorithms for a CA key node:crypto has read: EC P-256/P-384 or RSA. */
function algorithmsOf(key: KeyObject): {
  importAs: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  sign: Algorithm;
} {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec') {
    const curves: Record<string, { namedCurve: string; hash: string }> = {
      prime256v1: { namedCurve: 'P-256', hash: 'SHA-256' },
      secp384r1: { namedCurve: 'P-384', hash: 'SHA-384' },
    };
    const c = curves[details?.namedCurve ?? ''];
    if (c === undefined)
      throw new CertsError(`the CA key is on curve ${details?.namedCurve}; P-256 and P-384 are supported`);
    return {
      importAs: { name: 'ECDSA', namedCurve: c.namedCurve },
      sign: { name: 'ECDSA', hash: c.hash } as EcdsaParams,
    };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return {
      importAs: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' },
      sign: { name: 'RSASSA-PKCS1-v1_5' },
    };
  }
  throw new CertsError(
    `the CA key is of type ${key.asymmetricKeyType}; EC (P-256, P-384) and RSA are supported`,
  );
}

/**
 * A CA from its PEM certificate and private key (PKCS#8, or the older EC and RSA forms openssl
 * writes), checked to be a CA, still valid, and a matching pair.
 */
export async function loadAuthority(
  certPem: string,
  keyPemText: string,
  now = new Date(),
): Promise<Authority> {
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certPem);
  } catch (e) {
    throw new CertsError(
      `the CA certificate is not a PEM certificate (${e instanceof Error ? e.message : e})`,
    );
  }
  const constraints = cert.getExtension(x509.BasicConstraintsExtension);
  if (constraints === null || !constraints.ca) {
    throw new CertsError(
      `the CA certificate (${cert.subject}) is not a CA: it lacks basicConstraints CA:TRUE`,
    );
  }
  if (cert.notAfter <= now)
    throw new CertsError(`the CA certificate expired on ${cert.notAfter.toISOString()}`);
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(keyPemText);
  } catch (e) {
    throw new CertsError(
      `the CA key is not a PEM private key without a passphrase (${e instanceof Error ? e.message : e})`,
    );
  }
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (!spki.equals(Buffer.from(cert.publicKey.rawData))) {
    throw new CertsError('the CA key does not belong to the CA certificate');
  }
  const { importAs, sign } = algorithmsOf(privateKey);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const key = await crypto.subtle.importKey('pkcs8', pkcs8, importAs, false, ['sign']);
  return { cert, key, signingAlgorithm: sign };
}
