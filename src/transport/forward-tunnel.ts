// Client requests a follower forwards to the leader, through peer-authenticated tunnels. With peer
// TLS on, a forwarding connection is opened like a peer connection — an HTTP(S) request upgraded
// with `Upgrade: raftkv-forward`, then the mutual TLS of peer connections inside (peer-tls.ts) —
// so only a member holding a certificate from the peer CA can forward, and a forwarded write is
// encrypted whether or not the port serves clients over HTTPS. Inside the tunnel it is plain
// HTTP/1.1: the agent pools and keeps the tunnels alive like any connections, and the leader's
// HTTP server serves what arrives through one like any request (the caller's own credentials,
// carried along, are checked there again).

import * as http from 'node:http';
import * as https from 'node:https';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions, TLSSocket } from 'node:tls';
import { PeerTls, type PeerTlsMaterial } from './peer-tls.js';

/** The HTTP `Upgrade` token of a forwarding tunnel. */
export const FORWARD_UPGRADE_PROTOCOL = 'raftkv-forward';
const FORWARD_UPGRADE_PATH = '/raftkv/forward';

export interface ForwardTunnelOptions {
  /** The node's peer identity: the same certificate, key and CA as its peer connections. */
  readonly material: PeerTlsMaterial;
  /** The TLS options for the outer connection when the members' port serves HTTPS; null for HTTP. */
  readonly upgradeTls: () => ConnectionOptions | null;
  /** Outer connection, upgrade and handshake together. */
  readonly connectTimeoutMs: number;
  /** A process that opened a tunnel without a certificate the peer CA signed (for the log). */
  readonly refused: (remote: string, reason: string) => void;
}

export class ForwardTunnel {
  private readonly tls: PeerTls;
  /** Pooled, kept-alive tunnels to the leaders forwarded to. */
  readonly agent: http.Agent;
  private serve: ((inner: Duplex) => void) | null = null;

  constructor(private readonly options: ForwardTunnelOptions) {
    this.tls = new PeerTls(options.material, options.connectTimeoutMs);
    this.tls.onAccept({
      verified: (socket) => {
        if (this.serve === null) socket.destroy();
        else this.serve(socket);
      },
      refused: (remote, reason) => options.refused(remote, `forwarding tunnel: ${reason}`),
    });
    this.agent = new TunnelAgent((host, port, done) => this.open(host, port, done));
  }

  /** Where verified inbound tunnels go: the node's HTTP server, which serves their requests. */
  serveWith(serve: (inner: Duplex) => void): void {
    this.serve = serve;
  }

  /** New peer certificate, key and CA for tunnels made from now on; throws, changing nothing, if unusable. */
  update(material: PeerTlsMaterial): void {
    this.tls.update(material);
    // Idle tunnels hold the old session; they are made again at the next forward.
    for (const sockets of Object.values(this.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
  }

  /** Inbound `Upgrade: raftkv-forward` (the HTTP server's 'upgrade' event): 101, then the handshake. */
  accept(socket: Duplex, head: Uint8Array): void {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${FORWARD_UPGRADE_PROTOCOL}\r\n\r\n`,
    );
    this.tls.accept(socket, head);
  }

  /** Closes every inbound tunnel, handshakes under way included (the node is stopping). */
  closeInbound(): void {
    this.tls.closeInbound();
  }

  private open(host: string, port: number, done: (err: Error | null, socket?: Duplex) => void): void {
    let settled = false;
    let inner: TLSSocket | null = null;
    const finish = (err: Error | null, socket?: Duplex): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err !== null) {
        inner?.destroy();
        req.destroy();
      }
      done(err, socket);
    };
    const timeoutMs = this.options.connectTimeoutMs;
    const timer = setTimeout(
      () => finish(new Error(`no forwarding tunnel to ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const outer = this.options.upgradeTls();
    const request: https.RequestOptions = {
      host,
      port,
      path: FORWARD_UPGRADE_PATH,
      method: 'GET',
      agent: false,
      headers: { Connection: 'Upgrade', Upgrade: FORWARD_UPGRADE_PROTOCOL },
    };
    const req = outer === null ? http.request(request) : https.request({ ...request, ...outer });
    req.on('upgrade', (_res, socket, head) => {
      if (settled) {
        socket.destroy();
        return;
      }
      if (head.length > 0) socket.unshift(head);
      const secure = this.tls.connect(socket, host);
      inner = secure;
      secure.once('secureConnect', () => finish(null, secure));
      secure.once('error', (e) => finish(e));
    });
    req.on('response', (res) => {
      res.resume();
      finish(new Error(`forwarding tunnel refused by ${host}:${port} with status ${res.statusCode}`));
    });
    req.on('error', (e) => finish(e));
    req.end();
  }
}

/** An agent whose connections are tunnels opened by `open`. */
class TunnelAgent extends http.Agent {
  constructor(
    private readonly openTunnel: (
      host: string,
      port: number,
      done: (err: Error | null, socket?: Duplex) => void,
    ) => void,
  ) {
    super({ keepAlive: true, maxSockets: 256 });
  }

  override createConnection(
    options: http.ClientRequestArgs,
    callback?: (err: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    this.openTunnel(options.host ?? 'localhost', Number(options.port), (err, socket) =>
      callback?.(err, socket as Duplex),
    );
    return undefined;
  }
}
