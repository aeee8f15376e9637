// The single outbound connection to one peer: lazily connected on the first send, kept open, and
// re-established with capped, jittered exponential backoff whenever it fails. Messages wait in a
// bounded queue and are written in batches, once per event-loop turn, with cork/uncork so that a
// burst of small frames leaves in one writev. The socket's own buffer is never filled past its
// high-water mark: while it needs to drain, frames stay in the bounded queue (and the oldest are
// dropped), so a slow or dead peer costs a fixed amount of memory.
//
// Raft messages flow only from the connecting side; the accepting side writes nothing after its
// HelloAccept but Pongs, so any other frame received after the handshake is a protocol error.
// While open, a Ping goes out every ping interval, written straight to the socket (five bytes,
// past the queue, so that a full queue cannot hold it back); a connection that hears no Pong for
// the liveness timeout is given up like a broken one (liveness.ts), since a partition may leave
// it open but stalled until long after the network is back.
//
// Versions (control-frames.ts): each connection offers the newest version this transport speaks.
// A peer that refuses it for its version (a node of the release before) is dialled again at once
// offering the oldest, without counting a failure or reporting it unreachable; the next
// reconnection after that offers the newest again, so an upgraded peer is noticed. Forwarding
// frames queued for a connection that agreed on an older version are dropped unsent.
//
// A connection that fails takes the queued ForwardProposals with it: the node fails the writes
// handed over on it as "outcome unknown" when it hears of the failure (peerUnreachable), and a
// proposal that reached the leader after the heal could be appended long after the client was
// told so, and had retried. Everything else queued leaves once a connection is up again, the
// leader's answers to forwarded writes included.

import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Duplex } from 'node:stream';
import { CodecError } from '../codec/index.js';
import type { InstallSnapshot, NodeId } from '../raft/types.js';
import { backoffDelayMs } from './backoff.js';
import {
  decodeFrame,
  encodeHelloFrame,
  FORWARDING_VERSION,
  isForwardFrame,
  isForwardProposalFrame,
  MAX_HANDSHAKE_FRAME_BYTES,
  MIN_PROTOCOL_VERSION,
  PING_FRAME,
} from './control-frames.js';
import { FrameDecoder } from './framing.js';
import { SilenceWatch } from './liveness.js';
import { SendQueue } from './send-queue.js';
import { OutgoingSnapshot } from './snapshot-stream.js';
import {
  PEER_UPGRADE_PATH,
  PEER_UPGRADE_PROTOCOL,
  type PeerAddress,
  type PeerStats,
  type ResolvedSettings,
  type TransportEvent,
} from './types.js';

type State = 'idle' | 'connecting' | 'open' | 'backoff' | 'stopped';

export class OutboundPeer {
  private state: State = 'idle';
  private socket: Duplex | null = null;
  private request: http.ClientRequest | null = null;
  private decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly queue: SendQueue;
  private snapshot: OutgoingSnapshot | null = null;
  /** The connect/handshake deadline while connecting, the reconnect delay while backing off. */
  private timer: NodeJS.Timeout | null = null;
  private flushHandle: NodeJS.Immediate | null = null;
  /** Pings and checks the open connection; null unless open (or when liveness is disabled). */
  private watch: SilenceWatch | null = null;
  /** Consecutive failures since the last successful handshake; drives the backoff. */
  private failures = 0;
  /** When the current outage was reported, or null while the peer counts as reachable. */
  private unreachableSince: number | null = null;
  private overflowReported = false;
  private sentCount = 0;
  private droppedOther = 0;
  private reconnectCount = 0;
  private connectFailureCount = 0;
  private livenessTimeoutCount = 0;
  /** The version the current connection offered (and, once open, agreed on). */
  private offered: number;
  /** The peer refused the newest version: this connection attempt offers the oldest. */
  private fallback = false;

  constructor(
    readonly id: NodeId,
    private address: PeerAddress,
    private readonly settings: ResolvedSettings,
    private readonly emit: (e: TransportEvent) => void,
  ) {
    this.queue = new SendQueue({ maxMessages: settings.maxQueueMessages, maxBytes: settings.maxQueueBytes });
    this.offered = settings.protocolVersion;
  }

  /** Less than half of the queue's bounds is in use. */
  queueHalfEmpty(): boolean {
    return (
      this.queue.bytes * 2 < this.settings.maxQueueBytes &&
      this.queue.length * 2 < this.settings.maxQueueMessages
    );
  }

  /** The version the open connection agreed on; null while not connected. */
  get protocolVersion(): number | null {
    return this.state === 'open' ? this.offered : null;
  }

  /** Queues an encoded frame; false if it was dropped. Never throws, whatever the peer's state. */
  enqueue(frame: Buffer): boolean {
    if (this.state === 'stopped') return false;
    const droppedBefore = this.queue.dropped;
    const accepted = this.queue.push(frame);
    if (this.queue.dropped !== droppedBefore) this.reportOverflow();
    this.kick();
    return accepted;
  }

  /**
   * Queues a snapshot to stream; a newer one replaces (and drops) one not yet fully sent. One whose
   * data is a reference to the node's file is read from it (settings.snapshotFiles, which the
   * transport checked is there).
   */
  enqueueSnapshot(message: InstallSnapshot): boolean {
    if (this.state === 'stopped') return false;
    if (this.snapshot !== null) {
      // Its partial stream, if any, is abandoned by the receiver when the new SnapshotBegin arrives.
      this.snapshot.close();
      this.droppedOther++;
    }
    const files = this.settings.snapshotFiles;
    const out: OutgoingSnapshot = new OutgoingSnapshot(
      message,
      this.settings.snapshotChunkBytes,
      files === null
        ? null
        : {
            files,
            ready: () => {
              if (this.snapshot === out) this.scheduleFlush();
            },
            failed: (reason) => this.snapshotFailed(out, reason),
          },
    );
    this.snapshot = out;
    this.kick();
    return true;
  }

  /** A snapshot read from its file could not go on: dropped before its last chunk, and reported. */
  private snapshotFailed(out: OutgoingSnapshot, reason: string): void {
    if (this.snapshot !== out) return;
    this.snapshot = null;
    this.droppedOther++;
    const { index, term } = out.message.snapshot.meta;
    this.emit({ type: 'snapshotStreamFailed', peer: this.id, index, term, reason });
  }

  /** Counts a message the transport refused before it reached this peer's queue. */
  countDropped(): void {
    this.droppedOther++;
  }

  /** Points the peer at a new address, re-dialling at once if a connection exists or is under way. */
  setAddress(address: PeerAddress): void {
    if (
      address.host === this.address.host &&
      address.port === this.address.port &&
      address.via === this.address.via
    ) {
      return;
    }
    this.address = address;
    if (this.state === 'connecting' || this.state === 'open' || this.state === 'backoff') {
      this.teardown();
      this.failures = 0;
      this.connect();
    }
  }

  stats(): PeerStats {
    return {
      peer: this.id,
      connected: this.state === 'open',
      protocolVersion: this.protocolVersion,
      queuedMessages: this.queue.length,
      queuedBytes: this.queue.bytes,
      socketBufferedBytes: this.socket?.writableLength ?? 0,
      snapshotPending: this.snapshot !== null,
      sent: this.sentCount,
      dropped: this.queue.dropped + this.droppedOther,
      reconnects: this.reconnectCount,
      connectFailures: this.connectFailureCount,
      livenessTimeouts: this.livenessTimeoutCount,
    };
  }

  /** Closes the connection for good and resolves once the socket has closed. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    const socket = this.socket;
    this.teardown();
    this.queue.clear();
    this.snapshot?.close();
    this.snapshot = null;
    if (socket !== null && !socket.closed) {
      await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    }
  }

  /** Something was queued: connect if idle, or make sure a flush is coming if connected. */
  private kick(): void {
    if (this.state === 'idle') this.connect();
    else if (this.state === 'open') this.scheduleFlush();
  }

  private connect(): void {
    this.state = 'connecting';
    this.decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
    const timeoutMs = this.settings.connectTimeoutMs;
    this.timer = setTimeout(() => this.fail(`no handshake within ${timeoutMs} ms`, true), timeoutMs);
    const { host, port } = this.address;
    if (this.address.via === 'http-upgrade') {
      const upgradeTls = this.settings.upgradeTls;
      const options: https.RequestOptions = {
        host,
        port,
        path: PEER_UPGRADE_PATH,
        method: 'GET',
        agent: false,
        headers: { Connection: 'Upgrade', Upgrade: PEER_UPGRADE_PROTOCOL },
      };
      const req =
        upgradeTls === null ? http.request(options) : https.request({ ...options, ...upgradeTls() });
      this.request = req;
      req.on('upgrade', (_res, socket, head) => {
        if (req !== this.request) {
          socket.destroy();
          return;
        }
        this.request = null;
        if (this.settings.peerTls === null) {
          this.attach(socket);
          if (head.length > 0) this.onData(socket, head);
          return;
        }
        // The peer speaks only after our ClientHello, so `head` is empty here in practice.
        if (head.length > 0) socket.unshift(head);
        this.attach(this.secure(socket, host));
      });
      req.on('response', (res) => {
        res.resume();
        if (req === this.request) this.fail(`HTTP upgrade refused with status ${res.statusCode}`, true);
      });
      req.on('error', (err) => {
        if (req === this.request) this.fail(err.message, true);
      });
      req.end();
    } else {
      this.attach(this.secure(net.connect({ host, port }), host));
    }
  }

  /** With peer TLS on, the peer's certificate is verified before any of our bytes leave. */
  private secure(socket: Duplex, host: string): Duplex {
    const peerTls = this.settings.peerTls;
    if (peerTls === null) return socket;
    if (socket instanceof net.Socket) socket.setNoDelay(true);
    return peerTls.connect(socket, host);
  }

  private attach(socket: Duplex): void {
    this.socket = socket;
    if (socket instanceof net.Socket) {
      // We batch writes ourselves; Nagle would only add latency to heartbeats and votes.
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
    }
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('drain', () => {
      if (socket === this.socket) this.scheduleFlush();
    });
    socket.on('error', (err) => {
      if (socket === this.socket) this.fail(err.message, this.state === 'connecting');
    });
    socket.on('close', () => {
      if (socket === this.socket) this.fail('connection closed', this.state === 'connecting');
    });
    const { nodeId, clusterId, pingIntervalMs, livenessTimeoutMs, protocolVersion } = this.settings;
    this.offered = this.fallback ? MIN_PROTOCOL_VERSION : protocolVersion;
    socket.write(
      encodeHelloFrame({
        version: this.offered,
        clusterId,
        from: nodeId,
        to: this.id,
        pingIntervalMs,
        livenessTimeoutMs,
      }),
    );
  }

  private onData(socket: Duplex, chunk: Uint8Array): void {
    if (socket !== this.socket) return;
    this.watch?.heard();
    try {
      this.decoder.push(chunk, (payload) => {
        if (socket === this.socket) this.onFrame(payload);
      });
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.fail(`protocol error: ${err.message}`, this.state === 'connecting');
    }
  }

  /** Throws CodecError for an undecodable frame; onData turns that into a failure. */
  private onFrame(payload: Uint8Array): void {
    const frame = decodeFrame(payload);
    if (this.state === 'open' && frame.kind === 'pong') {
      // Its arrival was noted in onData; any byte from the peer proves the connection alive.
    } else if (this.state !== 'connecting') {
      this.fail(`protocol error: unexpected ${frame.kind} frame from the accepting side`, false);
    } else if (frame.kind === 'helloReject') {
      if (this.refusedVersion(frame.reason)) this.retryOlderVersion();
      else this.fail(`handshake rejected: ${frame.reason}`, true);
    } else if (frame.kind !== 'helloAccept') {
      this.fail(`protocol error: expected a handshake answer, got ${frame.kind}`, true);
    } else if (frame.nodeId !== this.id) {
      this.fail(`handshake: expected node "${this.id}" but reached "${frame.nodeId}"`, true);
    } else {
      this.onOpen();
    }
  }

  /**
   * The peer refused the version offered, and an older one is left to offer. Nodes have always
   * given this reason for a version they do not speak (inbound-connection.ts).
   */
  private refusedVersion(reason: string): boolean {
    return this.offered > MIN_PROTOCOL_VERSION && reason.startsWith('unsupported protocol version');
  }

  /** Dials again at once offering the oldest version: not a failure, nothing to report. */
  private retryOlderVersion(): void {
    this.teardown();
    this.fallback = true;
    this.connect();
  }

  private onOpen(): void {
    this.clearTimer();
    this.state = 'open';
    this.failures = 0;
    if (this.settings.livenessTimeoutMs > 0) {
      this.watch = new SilenceWatch(
        this.settings,
        () => this.ping(),
        (silentMs) => this.silent(silentMs),
      );
    }
    this.scheduleFlush();
    if (this.unreachableSince === null) {
      this.emit({ type: 'peerConnected', peer: this.id });
    } else {
      const downForMs = Date.now() - this.unreachableSince;
      this.unreachableSince = null;
      this.reconnectCount++;
      this.emit({ type: 'peerReconnected', peer: this.id, downForMs });
    }
  }

  private ping(): void {
    if (this.state === 'open') this.socket?.write(PING_FRAME);
  }

  private silent(silentMs: number): void {
    if (this.state !== 'open') return;
    this.livenessTimeoutCount++;
    this.fail(`no answer to pings for ${silentMs} ms`, false);
  }

  /** Drops the connection and schedules the next attempt. `attempt`: a connection attempt failed. */
  private fail(reason: string, attempt: boolean): void {
    if (this.state !== 'connecting' && this.state !== 'open') return;
    this.teardown();
    // Handed over on this connection, failed with it (see the top of this file): never sent later.
    this.queue.removeWhere(isForwardProposalFrame);
    // The next connection offers the newest version again: the peer may have been upgraded.
    this.fallback = false;
    if (attempt) this.connectFailureCount++;
    this.failures++;
    this.state = 'backoff';
    const delayMs = backoffDelayMs(this.failures, this.settings.backoff);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, delayMs);
    // Reported last, once the peer's state is consistent again, whatever the listener does.
    if (this.unreachableSince === null) {
      this.unreachableSince = Date.now();
      this.emit({ type: 'peerUnreachable', peer: this.id, reason });
    }
  }

  /** Releases the socket, request and timers; the caller sets the next state. */
  private teardown(): void {
    this.clearTimer();
    this.watch?.stop();
    this.watch = null;
    if (this.flushHandle !== null) {
      clearImmediate(this.flushHandle);
      this.flushHandle = null;
    }
    const req = this.request;
    const socket = this.socket;
    this.request = null;
    this.socket = null;
    req?.destroy();
    socket?.destroy();
    // A snapshot cut off mid-stream is abandoned by the receiver; it starts over on the next
    // connection, unless it has been cut off too often.
    if (this.snapshot !== null && !this.snapshot.restart()) {
      this.snapshot.close();
      this.snapshot = null;
      this.droppedOther++;
    }
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private scheduleFlush(): void {
    if (this.flushHandle !== null || this.state !== 'open') return;
    this.flushHandle = setImmediate(() => {
      this.flushHandle = null;
      this.flush();
    });
  }

  /** Writes up to maxBatchBytes of queued frames, then at most one snapshot chunk, in one corked batch. */
  private flush(): void {
    const socket = this.socket;
    if (this.state !== 'open' || socket === null || socket.writableNeedDrain) return;
    let budget = this.settings.maxBatchBytes;
    socket.cork();
    const forwarding = this.offered >= FORWARDING_VERSION;
    while (budget > 0) {
      const frame = this.queue.shift();
      if (frame === undefined) break;
      // The peer would take a forwarding frame on an older version's connection as a protocol error.
      if (!forwarding && isForwardFrame(frame)) {
        this.droppedOther++;
        continue;
      }
      socket.write(frame);
      budget -= frame.length;
      this.sentCount++;
    }
    const snapshot = this.snapshot;
    if (budget > 0 && snapshot !== null) {
      for (const part of snapshot.nextFrame()) socket.write(part);
      if (snapshot.done) {
        snapshot.close();
        this.snapshot = null;
        this.sentCount++;
      }
    }
    socket.uncork();
    if (this.queue.length === 0) this.overflowReported = false;
    // Otherwise the 'drain' event schedules the next flush; a snapshot chunk still being read from
    // its file schedules one when it has been read.
    if (!socket.writableNeedDrain && (this.queue.length > 0 || this.snapshot?.hasFrame === true))
      this.scheduleFlush();
  }

  private reportOverflow(): void {
    if (this.overflowReported) return;
    this.overflowReported = true;
    this.emit({ type: 'peerQueueOverflow', peer: this.id, droppedSoFar: this.stats().dropped });
  }
}
