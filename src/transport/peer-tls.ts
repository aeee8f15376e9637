// Mutual TLS on peer connections. A peer connection is first a plain TCP connection or an HTTP(S)
// connection upgraded with `Upgrade: raftkv-peer`; with peer TLS on, both ends then run a TLS
// handshake of their own inside it, each presenting a certificate that must be signed by the peer
// CA. The peer channel's authentication is so independent of how the port serves clients (plain
// HTTP, or HTTPS under another CA): OpenSSL checks the peer CA alone, and the transport sees no
// byte of a connection before both certificates have been verified.

import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';

/** PEM certificate chain, private key and CA bundle of one node's peer identity. */
export interface PeerTlsMaterial {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca: string | Buffer;
}

/** What happened to an inbound handshake: the verified socket, or why the peer was refused. */
export interface PeerTlsAcceptHooks {
  readonly verified: (socket: tls.TLSSocket) => void;
  readonly refused: (remote: string, reason: string) => void;
}

const minVersion = 'TLSv1.2';

export class PeerTls {
  private context: tls.SecureContext;
  /** Never listens: upgraded connections are handed to it, so one place verifies every peer. */
  private readonly server: tls.Server;
  private hooks: PeerTlsAcceptHooks | null = null;
  /** Inbound connections handed over, until they close: at stop, one in its handshake is cut off too. */
  private readonly handedOver = new Set<Duplex>();

  /** Throws (with OpenSSL's reason) when the material is not a usable certificate, key and CA. */
  constructor(material: PeerTlsMaterial, handshakeTimeoutMs = 5000) {
    this.context = createContext(material);
    this.server = tls.createServer({
      ...contextOptions(material),
      // Verified below rather than by OpenSSL's abort, so a refusal can be logged with its reason.
      requestCert: true,
      rejectUnauthorized: false,
      handshakeTimeout: handshakeTimeoutMs,
    });
    this.server.on('secureConnection', (socket: tls.TLSSocket) => {
      const hooks = this.hooks;
      if (hooks === null) {
        socket.destroy();
        return;
      }
      if (!socket.authorized) {
        const reason = socket.authorizationError ?? 'no certificate';
        hooks.refused(remoteOf(socket), `peer certificate not accepted (${describe(reason)})`);
        socket.destroy();
        return;
      }
      hooks.verified(socket);
    });
    this.server.on('tlsClientError', (err: Error, socket: tls.TLSSocket) => {
      this.hooks?.refused(remoteOf(socket), `peer TLS handshake failed: ${err.message.split('\n')[0]}`);
      socket.destroy();
    });
  }

  /** Where verified inbound connections and refusals go (the transport that owns this). */
  onAccept(hooks: PeerTlsAcceptHooks): void {
    this.hooks = hooks;
  }

  /**
   * New certificate, key and CA for connections made from now on; open connections keep the
   * session they have. Throws, changing nothing, when the material is not usable.
   */
  update(material: PeerTlsMaterial): void {
    const context = createContext(material);
    this.server.setSecureContext(contextOptions(material));
    this.context = context;
  }

  /**
   * Outbound: runs the handshake inside `socket`, as the client. The peer's certificate must be
   * signed by the peer CA and name `host` (an IP or DNS subject alternative name). Bytes written to
   * the returned socket leave once the handshake succeeds; a failure is its 'error'.
   */
  connect(socket: Duplex, host: string): tls.TLSSocket {
    return tls.connect({ socket, secureContext: this.context, host, servername: sniName(host), minVersion });
  }

  /** Inbound: runs the handshake inside `socket`, as the server (`head`: bytes already read). */
  accept(socket: Duplex, head?: Uint8Array): void {
    if (head !== undefined && head.length > 0) socket.unshift(head);
    this.handedOver.add(socket);
    socket.once('close', () => this.handedOver.delete(socket));
    this.server.emit('connection', socket);
  }

  /** Closes every inbound connection handed over, handshakes under way included (at stop). */
  closeInbound(): void {
    for (const socket of this.handedOver) socket.destroy();
    this.handedOver.clear();
  }
}

function contextOptions(material: PeerTlsMaterial): tls.SecureContextOptions {
  return { cert: material.cert, key: material.key, ca: material.ca, minVersion };
}

function createContext(material: PeerTlsMaterial): tls.SecureContext {
  return tls.createSecureContext(contextOptions(material));
}

/** SNI carries host names only, never addresses. */
function sniName(host: string): string | undefined {
  return /^[\d.]+$/.test(host) || host.includes(':') ? undefined : host;
}

function remoteOf(socket: tls.TLSSocket): string {
  return `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? 0}`;
}

/** OpenSSL's verification codes, in words a reader of the log can act on. */
function describe(code: string | Error): string {
  const c = typeof code === 'string' ? code : code.message;
  switch (c) {
    case 'UNABLE_TO_VERIFY_LEAF_SIGNATURE':
    case 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY':
    case 'SELF_SIGNED_CERT_IN_CHAIN':
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return `${c}: not signed by the peer CA`;
    case 'CERT_HAS_EXPIRED':
      return `${c}: expired`;
    case 'CERT_NOT_YET_VALID':
      return `${c}: not valid yet`;
    default:
      return c;
  }
}
