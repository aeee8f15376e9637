// One accepted connection: the peer introduces itself with a Hello, we check that it belongs to
// our cluster and meant to reach us, answer, and from then on decode its frames and deliver its
// messages. Anything that violates the protocol closes this connection only; the peer's
// transport reconnects and the Raft layer above absorbs the lost messages.
//
// Liveness, with the interval and timeout the peer announced in its Hello: each Ping is answered
// with a Pong; in an interval in which bytes arrived but no Ping did (it may be queued behind a
// large transfer), an unsolicited Pong tells the peer that its data is moving; and a connection
// that receives nothing for the timeout is closed, so a peer cut off by a partition does not
// leave a half-dead connection behind for good.
//
// Versions: a Hello of any version this node speaks (control-frames.ts) is accepted; the
// forwarding frames are taken only on a connection that agreed on a version that has them.

import type { Duplex } from 'node:stream';
import { CodecError } from '../codec/index.js';
import type { Message, NodeId } from '../raft/types.js';
import {
  decodeFrame,
  encodeHelloAcceptFrame,
  encodeHelloRejectFrame,
  FORWARDING_VERSION,
  type ForwardFrame,
  type Frame,
  type Hello,
  MAX_HANDSHAKE_FRAME_BYTES,
  MIN_PROTOCOL_VERSION,
  PONG_FRAME,
  speaksVersion,
} from './control-frames.js';
import { FrameDecoder } from './framing.js';
import { livenessProblem, SilenceWatch } from './liveness.js';
import { SnapshotAssembler } from './snapshot-stream.js';
import type { ResolvedSettings, TransportEvent } from './types.js';

/** How long a rejected client may take to hang up after reading our reason before we cut it off. */
const REJECT_LINGER_MS = 1000;

export interface InboundHooks {
  readonly emit: (e: TransportEvent) => void;
  readonly deliver: (m: Message) => void;
  /** A forwarding frame from the peer (a version 4 connection only). */
  readonly forward: (from: NodeId, f: ForwardFrame) => void;
  /** The handshake succeeded. */
  readonly accepted: (conn: InboundConnection) => void;
  /** The socket closed, for whatever reason. */
  readonly closed: (conn: InboundConnection) => void;
}

export class InboundConnection {
  private state: 'handshake' | 'open' | 'closed' = 'handshake';
  /** The node on the other end, once its Hello has been accepted. */
  peer: NodeId | null = null;
  /** The protocol version agreed on in the handshake; 0 before it. */
  private version = 0;
  readonly remote: string;
  private readonly decoder = new FrameDecoder(MAX_HANDSHAKE_FRAME_BYTES);
  private readonly assembler: SnapshotAssembler;
  private timer: NodeJS.Timeout | null;
  /** Checks the open connection for silence; null before the handshake or if the peer disabled it. */
  private watch: SilenceWatch | null = null;
  /** A Pong went out since the watch's last tick. */
  private pongedSinceTick = false;
  private readonly closedPromise: Promise<void>;
  /** Set while a message handler runs, so that its exceptions are not blamed on the peer. */
  private delivering = false;
  /** Runs while part of a frame is held: see PeerTransportOptions.frameStallMs. */
  private stall: NodeJS.Timeout | null = null;

  constructor(
    private readonly socket: Duplex,
    head: Uint8Array | undefined,
    private readonly settings: ResolvedSettings,
    private readonly hooks: InboundHooks,
  ) {
    const s = socket as Duplex & { remoteAddress?: string; remotePort?: number };
    this.remote = `${s.remoteAddress ?? 'unknown'}:${s.remotePort ?? 0}`;
    this.assembler = new SnapshotAssembler(settings.maxSnapshotBytes);
    this.closedPromise = new Promise<void>((resolve) => {
      socket.on('close', () => {
        this.state = 'closed';
        this.clearTimer();
        this.stopWatch();
        this.stopStallCheck();
        hooks.closed(this);
        resolve();
      });
    });
    // Errors surface as 'close' too; without a listener they would crash the process.
    socket.on('error', () => {});
    // A peer that closed its sending side will send nothing more. A socket handed over by the
    // HTTP server allows half-open connections, so without this it would stay open for ever.
    socket.once('end', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    // A socket handed over by an HTTP server after an upgrade may have been paused.
    socket.resume();
    const timeoutMs = settings.handshakeTimeoutMs;
    this.timer = setTimeout(() => this.protocolError(`no handshake within ${timeoutMs} ms`), timeoutMs);
    if (head !== undefined && head.length > 0) this.onData(head);
  }

  /** Destroys the socket; resolves once it has closed. */
  close(): Promise<void> {
    this.socket.destroy();
    return this.closedPromise;
  }

  private clearTimer(): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }

  private stopStallCheck(): void {
    if (this.stall !== null) clearTimeout(this.stall);
    this.stall = null;
  }

  /**
   * A frame begun and not finished must go on arriving: a peer that stops mid-frame (half-open,
   * or hostile) would otherwise hold the frame's buffer for as long as the socket stays up.
   */
  private checkStall(): void {
    if (this.isClosed() || this.decoder.bufferedBytes === 0) {
      this.stopStallCheck();
      return;
    }
    if (this.stall !== null) {
      this.stall.refresh();
      return;
    }
    const stallMs = this.settings.frameStallMs;
    this.stall = setTimeout(
      () => this.protocolError(`a frame stopped arriving mid-way for ${stallMs} ms`),
      stallMs,
    );
    this.stall.unref();
  }

  private stopWatch(): void {
    this.watch?.stop();
    this.watch = null;
  }

  /** A method, not a field test, so that TypeScript does not narrow it across handler calls. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }

  private onData(chunk: Uint8Array): void {
    if (this.isClosed()) return;
    this.watch?.heard();
    // Frames are handled as they are cut out, not after the whole chunk: the Hello raises the
    // frame limit for the frames that follow it in the same chunk.
    try {
      this.decoder.push(chunk, (payload) => {
        if (this.isClosed()) return;
        const delivery = this.onPayload(payload);
        if (delivery === null) return;
        this.delivering = true;
        if ('kind' in delivery) this.hooks.forward(this.peer!, delivery);
        else this.hooks.deliver(delivery);
        this.delivering = false;
      });
    } catch (err) {
      // An exception from a message handler is a bug in the node, not the peer's fault: rethrow.
      if (this.delivering || !(err instanceof CodecError)) throw err;
      this.protocolError(err.message);
    }
    this.checkStall();
  }

  /** Handles one frame; returns a message (or forwarding frame) to deliver, if it completes one. */
  private onPayload(payload: Uint8Array): Message | ForwardFrame | null {
    try {
      const frame = decodeFrame(payload);
      if (this.state === 'handshake') {
        if (frame.kind !== 'hello')
          throw new CodecError('connection', `expected a Hello frame first, got ${frame.kind}`);
        this.onHello(frame.hello);
        return null;
      }
      return this.onFrame(frame);
    } catch (err) {
      if (!(err instanceof CodecError)) throw err;
      this.protocolError(err.message);
      return null;
    }
  }

  private onHello(hello: Hello): void {
    const { nodeId, clusterId } = this.settings;
    const liveness = {
      pingIntervalMs: hello.pingIntervalMs ?? 0,
      livenessTimeoutMs: hello.livenessTimeoutMs ?? 0,
    };
    const livenessIssue = livenessProblem(liveness);
    let reason: string | null = null;
    const newest = this.settings.protocolVersion;
    if (!speaksVersion(hello.version, newest)) {
      // Peers fall back to an older version on this reason's words (outbound-peer.ts): keep them.
      const speaks = newest === MIN_PROTOCOL_VERSION ? `${newest}` : `${MIN_PROTOCOL_VERSION} to ${newest}`;
      reason = `unsupported protocol version ${hello.version} (this node speaks ${speaks})`;
    } else if (livenessIssue !== null) {
      reason = `unusable liveness settings: ${livenessIssue}`;
    } else if (hello.clusterId !== clusterId) {
      reason = `cluster id mismatch: this node is in cluster "${clusterId}", the peer in "${hello.clusterId}"`;
    } else if (hello.to !== nodeId) {
      reason = `wrong node: this is "${nodeId}", the peer wanted "${hello.to}"`;
    } else if (hello.from === nodeId) {
      reason = `the peer claims this node's own id "${nodeId}"`;
    }
    this.clearTimer();
    if (reason !== null) {
      this.state = 'closed';
      this.hooks.emit({ type: 'inboundRejected', remote: this.remote, reason });
      // end() lets the reason reach the client before the FIN; the linger timer bounds a client
      // that never hangs up, and is unref'd so that it alone never keeps the process alive.
      this.socket.end(encodeHelloRejectFrame(reason));
      this.timer = setTimeout(() => this.socket.destroy(), REJECT_LINGER_MS);
      this.timer.unref();
      return;
    }
    this.state = 'open';
    this.peer = hello.from;
    this.version = hello.version;
    this.decoder.setMaxFrameBytes(this.settings.maxFrameBytes);
    this.socket.write(encodeHelloAcceptFrame(nodeId));
    if (liveness.livenessTimeoutMs > 0) {
      this.watch = new SilenceWatch(
        liveness,
        (heard) => this.onWatchTick(heard),
        (silentMs) => this.timedOut(silentMs),
      );
    }
    this.hooks.accepted(this);
  }

  private onFrame(frame: Frame): Message | ForwardFrame | null {
    switch (frame.kind) {
      case 'message':
        this.checkRouting(frame.message);
        return frame.message;
      case 'snapshotBegin':
        this.checkRouting(frame.head);
        return this.assembler.begin(frame.head, frame.dataLength);
      case 'snapshotChunk':
        return this.assembler.chunk(frame.data);
      case 'ping':
        this.pong();
        return null;
      case 'forwardProposal':
      case 'forwardAppended':
      case 'forwardRefused':
        if (this.version < FORWARDING_VERSION) {
          throw new CodecError(
            'connection',
            `unexpected ${frame.kind} frame on a version ${this.version} connection`,
          );
        }
        return frame;
      default:
        throw new CodecError('connection', `unexpected ${frame.kind} frame after the handshake`);
    }
  }

  private pong(): void {
    this.pongedSinceTick = true;
    this.socket.write(PONG_FRAME);
  }

  /** Bytes arrived in the last interval but no Ping among them: tell the peer they are moving. */
  private onWatchTick(heard: boolean): void {
    if (heard && !this.pongedSinceTick && !this.isClosed()) this.pong();
    this.pongedSinceTick = false;
  }

  private timedOut(silentMs: number): void {
    if (this.isClosed()) return;
    this.state = 'closed';
    this.clearTimer();
    this.hooks.emit({ type: 'inboundTimedOut', peer: this.peer!, remote: this.remote, silentMs });
    this.socket.destroy();
  }

  /** A connection carries only its peer's messages to this node; anything else is misrouted. */
  private checkRouting(m: Message): void {
    if (m.from !== this.peer || m.to !== this.settings.nodeId) {
      throw new CodecError(
        'connection',
        `misrouted ${m.type} from "${m.from}" to "${m.to}" on the connection from "${this.peer}" to "${this.settings.nodeId}"`,
      );
    }
  }

  private protocolError(reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.clearTimer();
    this.stopWatch();
    this.stopStallCheck();
    this.hooks.emit({ type: 'protocolError', peer: this.peer, remote: this.remote, reason });
    this.socket.destroy();
  }
}
