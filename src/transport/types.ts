// The transport's public vocabulary: where peers live, what it reports, and its resolved settings.

import type { ConnectionOptions } from 'node:tls';
import type { MessageType, NodeId } from '../raft/types.js';
import type { BackoffPolicy } from './backoff.js';
import type { LivenessSettings } from './liveness.js';
import type { PeerTls } from './peer-tls.js';

/** The HTTP `Upgrade` token under which a node's HTTP server hands a connection to the transport. */
export const PEER_UPGRADE_PROTOCOL = 'raftkv-peer';
/** The request path a connecting transport uses for the upgrade (servers need not check it). */
export const PEER_UPGRADE_PATH = '/raftkv/peer';

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /**
   * 'tcp' (default): the port is a peer listener speaking the framed protocol directly.
   * 'http-upgrade': the port is the peer's HTTP server; connect with `Upgrade: raftkv-peer`
   * (over HTTPS when the transport has `upgradeTls`).
   */
  readonly via?: 'tcp' | 'http-upgrade';
}

/**
 * Where the transport reads the data of a snapshot the node keeps in a file — the InstallSnapshot
 * it is given then carries only a reference to it (StoredSnapshotData): the node's snapshot store.
 */
export interface SnapshotFiles {
  /** Opens the file of snapshot (index, term); rejects when there is none or it is damaged. */
  openData(index: number, term: number): Promise<SnapshotDataFile>;
}

/** An open snapshot file: its data's length and checksum as its header records them. */
export interface SnapshotDataFile {
  readonly dataLength: number;
  /** CRC32C of the whole data. */
  readonly dataCrc: number;
  /** Up to `length` data bytes from data offset `offset` (fewer only at the file's end). */
  read(offset: number, length: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/**
 * One value per state change worth a log line. Per-message events do not exist: drops are
 * counted in stats and announced once per overflow episode.
 */
export type TransportEvent =
  /** Handshake completed with a peer that had not been reported unreachable. */
  | { readonly type: 'peerConnected'; readonly peer: NodeId }
  /** Handshake completed after a `peerUnreachable`. */
  | { readonly type: 'peerReconnected'; readonly peer: NodeId; readonly downForMs: number }
  /** The connection failed or was lost; reported once until the peer is reached again. */
  | { readonly type: 'peerUnreachable'; readonly peer: NodeId; readonly reason: string }
  /** The peer's queue started dropping messages; reported again only after it empties. */
  | { readonly type: 'peerQueueOverflow'; readonly peer: NodeId; readonly droppedSoFar: number }
  /** A message larger than the configured maximum was dropped instead of sent. */
  | {
      readonly type: 'messageTooLarge';
      readonly peer: NodeId;
      readonly messageType: MessageType;
      readonly bytes: number;
      readonly maxBytes: number;
    }
  | { readonly type: 'inboundAccepted'; readonly peer: NodeId; readonly remote: string }
  /** An inbound handshake was refused (wrong cluster, wrong node, unsupported version). */
  | { readonly type: 'inboundRejected'; readonly remote: string; readonly reason: string }
  /**
   * An inbound connection received nothing (no Ping, no message) for the liveness timeout its peer
   * announced; it was closed. The peer, if it is still there, reconnects.
   */
  | {
      readonly type: 'inboundTimedOut';
      readonly peer: NodeId;
      readonly remote: string;
      readonly silentMs: number;
    }
  /** An inbound connection sent bytes that violate the protocol; it was closed. */
  | {
      readonly type: 'protocolError';
      readonly peer: NodeId | null;
      readonly remote: string;
      readonly reason: string;
    }
  /** The transport's own listener failed after it started. */
  | { readonly type: 'listenerError'; readonly reason: string }
  /**
   * A snapshot streamed from its file was dropped: the file could not be opened or read, or its
   * data failed the checksum — then before its last chunk, so the peer installs nothing. The
   * leader sends a snapshot again if the follower still needs one.
   */
  | {
      readonly type: 'snapshotStreamFailed';
      readonly peer: NodeId;
      readonly index: number;
      readonly term: number;
      readonly reason: string;
    };

export interface PeerStats {
  readonly peer: NodeId;
  /** Handshake completed and the connection is up. */
  readonly connected: boolean;
  /** The protocol version the open connection agreed on; null while not connected. */
  readonly protocolVersion: number | null;
  /** Frames waiting in the transport's queue. */
  readonly queuedMessages: number;
  readonly queuedBytes: number;
  /** Bytes handed to the socket that it has not yet passed to the kernel. */
  readonly socketBufferedBytes: number;
  /** An InstallSnapshot is waiting or being streamed. */
  readonly snapshotPending: boolean;
  /** Messages handed to the socket (a streamed snapshot counts once, when its last chunk is). */
  readonly sent: number;
  /** Messages dropped: queue overflow, superseded snapshots, oversized messages. */
  readonly dropped: number;
  /** Connections re-established after the peer was reported unreachable. */
  readonly reconnects: number;
  /** Connection attempts that failed (refused, timed out, handshake rejected). */
  readonly connectFailures: number;
  /** Open connections given up because the peer did not answer pings within the liveness timeout. */
  readonly livenessTimeouts: number;
}

export interface TransportStats {
  readonly peers: readonly PeerStats[];
  readonly inboundConnections: number;
  readonly messagesReceived: number;
  /** Sends addressed to a node that is not a configured peer. */
  readonly droppedUnknownPeer: number;
}

/** Settings after defaults are applied; shared by the transport's connections. */
export interface ResolvedSettings extends LivenessSettings {
  readonly nodeId: NodeId;
  readonly clusterId: string;
  readonly maxFrameBytes: number;
  readonly maxQueueMessages: number;
  readonly maxQueueBytes: number;
  readonly maxBatchBytes: number;
  readonly snapshotChunkBytes: number;
  readonly maxSnapshotBytes: number;
  readonly connectTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly frameStallMs: number;
  readonly backoff: BackoffPolicy;
  /** Mutual TLS inside every peer connection, or null for none. */
  readonly peerTls: PeerTls | null;
  /** The TLS options for reaching a peer's HTTPS port (read at each connection), or null for HTTP. */
  readonly upgradeTls: (() => ConnectionOptions) | null;
  /** The newest protocol version spoken: offered outbound, the highest accepted inbound. */
  readonly protocolVersion: number;
  /** Where snapshots kept in files are read from; null: only snapshots held in memory are sent. */
  readonly snapshotFiles: SnapshotFiles | null;
}
