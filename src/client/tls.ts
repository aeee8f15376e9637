// TLS for https:// endpoints: what the client trusts and presents, checked when the client is made
// (a wrong PEM is a clear error then, not a puzzling handshake failure later), and the handshake's
// failures put in words that name their cause. Plain http:// endpoints ignore these options.

import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';

/** PEM text, as a string or the bytes of a .pem file. */
export type Pem = string | Uint8Array;

export interface ClientTls {
  /**
   * The CA certificate(s) that sign the nodes' certificates (a PEM may hold several). Given, they
   * are the only ones trusted — the system's CAs are not; left out, the system's are.
   */
  readonly ca?: Pem | readonly Pem[];
  /** A client certificate to present (nodes started with --client-cert-auth require one). */
  readonly cert?: Pem;
  /** The client certificate's private key (unencrypted PEM). */
  readonly key?: Pem;
}

/** TLS options that cannot work; `field` is the one at fault. */
export class TlsOptionsError extends TypeError {
  override name = 'TlsOptionsError';
  constructor(
    readonly field: 'ca' | 'cert' | 'key',
    message: string,
  ) {
    super(message);
  }
}

const pemText = (p: Pem): string => (typeof p === 'string' ? p : Buffer.from(p).toString('utf8'));

function caList(ca: Pem | readonly Pem[]): readonly Pem[] {
  return typeof ca === 'string' || ca instanceof Uint8Array ? [ca] : ca;
}

const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * Throws TlsOptionsError unless every CA PEM holds certificates that parse, and cert and key are
 * given together and belong together. (Node itself would quietly skip a CA that is not PEM, and
 * the handshake would then fail with "self-signed certificate".)
 */
export function checkClientTls(tls: ClientTls): void {
  if (tls.ca !== undefined) {
    for (const pem of caList(tls.ca)) {
      const blocks = pemText(pem).match(certificateBlock) ?? [];
      if (blocks.length === 0) throw new TlsOptionsError('ca', 'ca: no PEM certificate in it');
      for (const block of blocks) {
        try {
          new X509Certificate(block);
        } catch (e) {
          throw new TlsOptionsError('ca', `ca: not a valid certificate: ${(e as Error).message}`);
        }
      }
    }
  }
  if (tls.cert !== undefined && tls.key === undefined) {
    throw new TlsOptionsError('key', 'a client certificate (cert) needs its key');
  }
  if (tls.key !== undefined && tls.cert === undefined) {
    throw new TlsOptionsError('cert', 'a key needs its client certificate (cert)');
  }
  if (tls.cert !== undefined && tls.key !== undefined) {
    const [first] = pemText(tls.cert).match(certificateBlock) ?? [];
    if (first === undefined) throw new TlsOptionsError('cert', 'cert: no PEM certificate in it');
    try {
      new X509Certificate(first);
    } catch (e) {
      throw new TlsOptionsError('cert', `cert: not a valid certificate: ${(e as Error).message}`);
    }
    // The certificate parses: what can still be wrong is the key, or that it is not this one's.
    try {
      createSecureContext({ cert: pemText(tls.cert), key: pemText(tls.key) });
    } catch (e) {
      const message = (e as Error).message;
      const why = /key values mismatch/i.test(message) ? 'it is not the client certificate’s key' : message;
      throw new TlsOptionsError('key', `key: ${why}`);
    }
  }
}

/** The TLS connect options `tls` stands for, for node:https and undici alike (the CA PEMs as strings). */
export function httpsOptionsOf(tls: ClientTls): { ca?: string[]; cert?: string; key?: string } {
  const ca = tls.ca === undefined ? undefined : caList(tls.ca).map(pemText);
  return {
    ...(ca !== undefined && { ca }),
    ...(tls.cert !== undefined && { cert: pemText(tls.cert) }),
    ...(tls.key !== undefined && { key: pemText(tls.key) }),
  };
}

/** Certificate checks of OpenSSL that mean "signed by no CA this client trusts". */
const untrusted = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'CERT_CHAIN_TOO_LONG',
  'INVALID_CA',
]);

/**
 * What went wrong in words, when `error` is a TLS failure (the handshake, or the certificates on
 * either side); undefined for any other error.
 */
export function describeTlsFailure(error: Error): string | undefined {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const detail = `${error.message.split('\n')[0]} (${code})`;
  if (untrusted.has(code)) {
    return `TLS: the node's certificate is not signed by a trusted CA: ${detail}`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `TLS: the node's certificate is not valid now: ${detail}`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    const reason = (error as Error & { reason?: string }).reason ?? error.message;
    return `TLS: the node's certificate is not for this host: ${reason} (${code})`;
  }
  if (/CERTIFICATE_REQUIRED$/.test(code) || /alert certificate required/.test(error.message)) {
    return `TLS: the node requires a client certificate and none was presented (${code})`;
  }
  if (/wrong version number/.test(error.message)) {
    return `TLS: the node does not speak TLS there (plain http?): ${detail}`;
  }
  const alert = /alert ([a-z0-9 ]+?)(?::|$)/m.exec(error.message);
  if (alert !== null) {
    return `TLS: the node refused the handshake (alert "${alert[1]}"; a client certificate it does not trust?) (${code})`;
  }
  if (code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_') || code.startsWith('ERR_OSSL_')) {
    return `TLS: ${detail}`;
  }
  return undefined;
}
