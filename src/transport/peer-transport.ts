// The node's window on its peers: send(msg) to any peer without waiting or failing, onMessage for
// what arrives. Outbound, one persistent connection per peer (outbound-peer.ts); inbound, every
// connection a peer opens to us (inbound-connection.ts), accepted either on a listener of our own
// or handed over by the node's HTTP server after an `Upgrade: raftkv-peer` request, so that one
// port can serve clients and peers alike. Besides Raft messages it carries the forwarding frames
// of protocol version 4 (control-frames.ts): sendForward/onForward, on the same queues.

import type { IncomingMessage } from 'node:http';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import type { ConnectionOptions } from 'node:tls';
import { heldSnapshotData } from '../raft/snapshot-data.js';
import type { Message, NodeId } from '../raft/types.js';
import { type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.js';
import { measureMessage, writeMessage } from './codec.js';
import {
  encodeForwardFrame,
  FORWARDING_VERSION,
  type ForwardFrame,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  speaksVersion,
} from './control-frames.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FRAME_HEADER_BYTES } from './framing.js';
import { InboundConnection } from './inbound-connection.js';
import { DEFAULT_LIVENESS_TIMEOUT_MS, livenessProblem, PINGS_PER_LIVENESS_TIMEOUT } from './liveness.js';
import { OutboundPeer } from './outbound-peer.js';
import type { PeerTls } from './peer-tls.js';
import { DEFAULT_MAX_SNAPSHOT_BYTES, DEFAULT_SNAPSHOT_CHUNK_BYTES } from './snapshot-stream.js';
import {
  PEER_UPGRADE_PROTOCOL,
  type PeerAddress,
  type PeerStats,
  type ResolvedSettings,
  type SnapshotFiles,
  type TransportEvent,
  type TransportStats,
} from './types.js';

export interface PeerTransportOptions {
  readonly nodeId: NodeId;
  /** Connections from nodes of another cluster are refused at the handshake. */
  readonly clusterId: string;
  /** Where each peer listens. An entry for this node itself is ignored. */
  readonly peers?: Readonly<Record<NodeId, PeerAddress>>;
  /** Open a listener of our own (port 0: any free port). Omit when the HTTP server hands over sockets. */
  readonly listen?: { readonly host: string; readonly port: number };
  /** Largest frame payload sent or accepted. Default 4 MiB. Snapshots are chunked below it. */
  readonly maxFrameBytes?: number;
  /** Per-peer queue bounds; past them the oldest messages are dropped. Default 4096 and 8 MiB. */
  readonly maxQueueMessages?: number;
  readonly maxQueueBytes?: number;
  /** Bytes of queued frames written per event-loop turn and peer. Default 256 KiB. */
  readonly maxBatchBytes?: number;
  /** Data bytes per snapshot chunk frame. Default 512 KiB (capped to fit maxFrameBytes). */
  readonly snapshotChunkBytes?: number;
  /** Largest snapshot sent or accepted. Default 1 GiB. */
  readonly maxSnapshotBytes?: number;
  /** Deadline for TCP connect plus handshake, outbound. Default 5 s. */
  readonly connectTimeoutMs?: number;
  /** Deadline for a peer's Hello, inbound. Default 5 s. */
  readonly handshakeTimeoutMs?: number;
  /**
   * An inbound connection whose peer sent part of a frame and then nothing for this long is
   * closed (a protocolError): the buffer held for the frame is freed even when the peer turned
   * liveness checks off. Default 30 s.
   */
  readonly frameStallMs?: number;
  /**
   * An outbound connection whose peer has answered nothing (no Pong) for this long is closed,
   * reported with `peerUnreachable` and re-established. The peer applies the same timeout to its
   * end of the connection (it is announced in the Hello). It bounds how long a connection that a
   * network partition left stalled delays traffic after the partition heals; a few election
   * timeouts is a good value. An integer of at least 2 ms; 0 disables pings and checks.
   * Default 2000 ms.
   */
  readonly livenessTimeoutMs?: number;
  /**
   * How often a Ping is sent on each outbound connection (and silence is checked). Below
   * livenessTimeoutMs; default a quarter of it.
   */
  readonly pingIntervalMs?: number;
  readonly backoff?: Partial<BackoffPolicy>;
  /**
   * Mutual TLS inside every peer connection, both ways: no message is sent or accepted before
   * both ends' certificates are verified against the peer CA. Default: none.
   */
  readonly peerTls?: PeerTls;
  /**
   * For 'http-upgrade' peers whose port serves HTTPS: the TLS options of each new connection (CA,
   * client certificate), read at every connection so a reload takes effect. Default: plain HTTP.
   */
  readonly upgradeTls?: () => ConnectionOptions;
  /**
   * The newest protocol version this transport speaks (offers, and accepts), between 3 and
   * PROTOCOL_VERSION; default PROTOCOL_VERSION. 3 makes it speak as the release before did, with
   * no forwarding frames: for tests of clusters whose members run different releases.
   */
  readonly protocolVersion?: number;
  /**
   * Where the data of snapshots kept in files is read (the node's snapshot store): with it, an
   * InstallSnapshot whose data is a reference to the file (StoredSnapshotData) is streamed from
   * the file, so the node need not keep its snapshot in memory. Without it such a message is
   * dropped (and reported); snapshots held in memory are sent either way.
   */
  readonly snapshotFiles?: SnapshotFiles;
}

/** Proposals handed to the leader over peer connections (protocol version 4, control-frames.ts). */
export interface ForwardingTransport {
  /**
   * The connection to `peer` is open, agreed on a version with the forwarding frames, and its
   * queue is less than half full: proposals handed over never crowd out the Raft messages (the
   * node sends the others over HTTP meanwhile).
   */
  canForwardTo(peer: NodeId): boolean;
  /**
   * Queues a forwarding frame for `to`, in order with the messages to it; false if it was dropped
   * (not running, unknown peer, too large). A ForwardProposal still queued when the connection
   * fails is dropped with it (the node fails the write as "outcome unknown" at the failure's
   * peerUnreachable: it must never reach the leader later). The answers (ForwardAppended,
   * ForwardRefused) queued while the connection is down leave once it is up again. Any
   * forwarding frame is dropped unsent on a connection that agreed on an older version.
   */
  sendForward(to: NodeId, frame: ForwardFrame): boolean;
  /** Registers a handler for every forwarding frame received; returns a function that unregisters it. */
  onForward(handler: (from: NodeId, frame: ForwardFrame) => void): () => void;
}

export class PeerTransport implements ForwardingTransport {
  private readonly settings: ResolvedSettings;
  private readonly listenOn: { readonly host: string; readonly port: number } | undefined;
  private readonly peers = new Map<NodeId, OutboundPeer>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly messageHandlers = new Set<(m: Message) => void>();
  private readonly forwardHandlers = new Set<(from: NodeId, f: ForwardFrame) => void>();
  private readonly eventListeners = new Set<(e: TransportEvent) => void>();
  private server: net.Server | null = null;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private received = 0;
  private droppedUnknownPeer = 0;

  constructor(options: PeerTransportOptions) {
    const maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    const livenessTimeoutMs = options.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS;
    const pingIntervalMs =
      options.pingIntervalMs ??
      (livenessTimeoutMs === 0 ? 0 : Math.max(1, Math.floor(livenessTimeoutMs / PINGS_PER_LIVENESS_TIMEOUT)));
    const problem = livenessProblem({ pingIntervalMs, livenessTimeoutMs });
    if (problem !== null) throw new RangeError(`PeerTransport: ${problem}`);
    const protocolVersion = options.protocolVersion ?? PROTOCOL_VERSION;
    if (!Number.isInteger(protocolVersion) || !speaksVersion(protocolVersion, PROTOCOL_VERSION)) {
      throw new RangeError(
        `PeerTransport: protocolVersion must be between ${MIN_PROTOCOL_VERSION} and ${PROTOCOL_VERSION}`,
      );
    }
    this.settings = {
      nodeId: options.nodeId,
      clusterId: options.clusterId,
      maxFrameBytes,
      maxQueueMessages: options.maxQueueMessages ?? 4096,
      maxQueueBytes: options.maxQueueBytes ?? 8 * 1024 * 1024,
      maxBatchBytes: options.maxBatchBytes ?? 256 * 1024,
      // One byte of each chunk frame is its tag.
      snapshotChunkBytes: Math.min(
        options.snapshotChunkBytes ?? DEFAULT_SNAPSHOT_CHUNK_BYTES,
        maxFrameBytes - 1,
      ),
      maxSnapshotBytes: options.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES,
      connectTimeoutMs: options.connectTimeoutMs ?? 5000,
      handshakeTimeoutMs: options.handshakeTimeoutMs ?? 5000,
      frameStallMs: options.frameStallMs ?? 30_000,
      livenessTimeoutMs,
      pingIntervalMs,
      backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
      peerTls: options.peerTls ?? null,
      upgradeTls: options.upgradeTls ?? null,
      protocolVersion,
      snapshotFiles: options.snapshotFiles ?? null,
    };
    options.peerTls?.onAccept({
      verified: (socket) => this.acceptSocket(socket),
      refused: (remote, reason) => this.emit({ type: 'inboundRejected', remote, reason }),
    });
    if (this.settings.snapshotChunkBytes < 1)
      throw new RangeError('maxFrameBytes is too small to carry snapshots');
    this.listenOn = options.listen;
    for (const [id, address] of Object.entries(options.peers ?? {})) this.setPeer(id, address);
  }

  get nodeId(): NodeId {
    return this.settings.nodeId;
  }

  /** InstallSnapshot may carry a reference to the snapshot's file instead of its bytes. */
  get sendsStoredSnapshots(): boolean {
    return this.settings.snapshotFiles !== null;
  }

  /** Starts accepting connections (opening the listener if one was configured) and sending. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new Error(`PeerTransport.start: already ${this.state}`);
    this.state = 'running';
    const listen = this.listenOn;
    if (listen === undefined) return;
    const server = net.createServer((socket) => this.acceptConnection(socket));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (err) => this.emit({ type: 'listenerError', reason: err.message }));
  }

  /** Closes the listener and every connection; resolves once all of them are closed. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const server = this.server;
    this.server = null;
    const closing: Promise<void>[] = [];
    if (server !== null) {
      closing.push(new Promise<void>((resolve) => server.close(() => resolve())));
    }
    for (const peer of this.peers.values()) closing.push(peer.stop());
    for (const conn of this.inbound) closing.push(conn.close());
    this.settings.peerTls?.closeInbound();
    await Promise.all(closing);
  }

  /** The listener's bound address, once started with `listen`. */
  address(): { host: string; port: number } | null {
    const a = this.server?.address();
    if (a === undefined || a === null || typeof a === 'string') return null;
    return { host: a.address, port: a.port };
  }

  /** Adds a peer, or moves an existing one to a new address. */
  setPeer(id: NodeId, address: PeerAddress): void {
    if (id === this.settings.nodeId || this.state === 'stopped') return;
    const existing = this.peers.get(id);
    if (existing !== undefined) existing.setAddress(address);
    else this.peers.set(id, new OutboundPeer(id, address, this.settings, (e) => this.emit(e)));
  }

  /** Forgets a peer (e.g. removed from the cluster) and closes the connection to it. */
  async removePeer(id: NodeId): Promise<void> {
    const peer = this.peers.get(id);
    if (peer === undefined) return;
    this.peers.delete(id);
    await peer.stop();
  }

  /**
   * Queues `msg` for its peer and returns at once: true if queued, false if dropped (transport not
   * running, unknown peer, message over the size limits). Never throws because of the peer's state;
   * throws only for a message that is itself invalid (sent from another node id, or holding values
   * the wire cannot carry), which is a bug in the caller. The message is encoded immediately, so
   * the caller may reuse its buffers afterwards — except an InstallSnapshot's data, which is
   * streamed from the caller's buffer and must stay unchanged, or from the snapshot's file when
   * the data is a reference to it (see snapshotFiles).
   */
  send(msg: Message): boolean {
    if (msg.from !== this.settings.nodeId) {
      throw new Error(
        `PeerTransport.send: message from "${msg.from}" on the transport of "${this.settings.nodeId}"`,
      );
    }
    if (this.state !== 'running') return false;
    const peer = this.peers.get(msg.to);
    if (peer === undefined) {
      this.droppedUnknownPeer++;
      return false;
    }
    if (msg.type === 'InstallSnapshot') {
      const bytes = msg.snapshot.data.byteLength;
      if (bytes > this.settings.maxSnapshotBytes)
        return this.tooLarge(peer, msg, bytes, this.settings.maxSnapshotBytes);
      if (this.settings.snapshotFiles === null && heldSnapshotData(msg.snapshot) === null) {
        peer.countDropped();
        const { index, term } = msg.snapshot.meta;
        const reason = 'its data is in a file and this transport was given no snapshot files';
        this.emit({ type: 'snapshotStreamFailed', peer: peer.id, index, term, reason });
        return false;
      }
      return peer.enqueueSnapshot(msg);
    }
    const size = measureMessage(msg);
    if (size > this.settings.maxFrameBytes)
      return this.tooLarge(peer, msg, size, this.settings.maxFrameBytes);
    return peer.enqueue(encodeFrame(size, writeMessage, msg));
  }

  canForwardTo(peer: NodeId): boolean {
    if (this.state !== 'running') return false;
    const p = this.peers.get(peer);
    return p !== undefined && (p.protocolVersion ?? 0) >= FORWARDING_VERSION && p.queueHalfEmpty();
  }

  sendForward(to: NodeId, frame: ForwardFrame): boolean {
    if (this.state !== 'running') return false;
    const peer = this.peers.get(to);
    if (peer === undefined) {
      this.droppedUnknownPeer++;
      return false;
    }
    const encoded = encodeForwardFrame(frame);
    if (encoded.length - FRAME_HEADER_BYTES > this.settings.maxFrameBytes) {
      peer.countDropped();
      return false;
    }
    return peer.enqueue(encoded);
  }

  onForward(handler: (from: NodeId, frame: ForwardFrame) => void): () => void {
    this.forwardHandlers.add(handler);
    return () => this.forwardHandlers.delete(handler);
  }

  /** Registers a handler for every message received; returns a function that unregisters it. */
  onMessage(handler: (m: Message) => void): () => void {
    this.messageHandlers.add(handler);
    return () => this.messageHandlers.delete(handler);
  }

  /** Registers a listener for connection-level events; returns a function that unregisters it. */
  onEvent(listener: (e: TransportEvent) => void): () => void {
    this.eventListeners.add(listener);
    return () => this.eventListeners.delete(listener);
  }

  /**
   * Takes over a connection a peer opened to this node: a raw socket from any listener, or one an
   * HTTP server has already upgraded (`head`: bytes that arrived after the request headers).
   */
  acceptSocket(socket: Duplex, head?: Uint8Array): void {
    if (this.state !== 'running') {
      socket.destroy();
      return;
    }
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    const conn = new InboundConnection(socket, head, this.settings, {
      emit: (e) => this.emit(e),
      deliver: (m) => this.deliver(m),
      forward: (from, f) => {
        for (const handler of this.forwardHandlers) handler(from, f);
      },
      accepted: (c) => this.onInboundAccepted(c),
      closed: (c) => this.inbound.delete(c),
    });
    if (!socket.destroyed) this.inbound.add(conn);
  }

  /** A new connection from a peer: through the TLS handshake first when peer TLS is on. */
  private acceptConnection(socket: Duplex, head?: Uint8Array): void {
    const peerTls = this.settings.peerTls;
    if (peerTls === null || this.state !== 'running') this.acceptSocket(socket, head);
    else peerTls.accept(socket, head);
  }

  /**
   * For the node's HTTP server 'upgrade' event: if the request asks for `Upgrade: raftkv-peer`,
   * answers 101 Switching Protocols, takes the socket over and returns true; otherwise returns
   * false and leaves the socket to the caller.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Uint8Array): boolean {
    if (req.headers.upgrade?.toLowerCase() !== PEER_UPGRADE_PROTOCOL) return false;
    if (this.state !== 'running') {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return true;
    }
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: ${PEER_UPGRADE_PROTOCOL}\r\n\r\n`,
    );
    this.acceptConnection(socket, head);
    return true;
  }

  stats(): TransportStats {
    return {
      peers: [...this.peers.values()].map((p) => p.stats()),
      inboundConnections: this.inbound.size,
      messagesReceived: this.received,
      droppedUnknownPeer: this.droppedUnknownPeer,
    };
  }

  peerStats(id: NodeId): PeerStats | undefined {
    return this.peers.get(id)?.stats();
  }

  private tooLarge(peer: OutboundPeer, msg: Message, bytes: number, maxBytes: number): false {
    peer.countDropped();
    this.emit({ type: 'messageTooLarge', peer: peer.id, messageType: msg.type, bytes, maxBytes });
    return false;
  }

  /** A peer that reconnects replaces its older connection, which may linger half-open. */
  private onInboundAccepted(conn: InboundConnection): void {
    for (const other of this.inbound) {
      if (other !== conn && other.peer === conn.peer) void other.close();
    }
    this.emit({ type: 'inboundAccepted', peer: conn.peer!, remote: conn.remote });
  }

  private deliver(m: Message): void {
    this.received++;
    for (const handler of this.messageHandlers) handler(m);
  }

  private emit(e: TransportEvent): void {
    for (const listener of this.eventListeners) listener(e);
  }
}
