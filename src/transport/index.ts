// The transport's public surface: the codec, the framing, and the TCP peer transport.

export { CodecError } from '../codec/index.js';
export { type BackoffPolicy, backoffDelayMs, DEFAULT_BACKOFF } from './backoff.js';
export { decodeMessage, encodeMessage, MESSAGE_TAGS, measureMessage } from './codec.js';
export {
  CONTROL_TAGS,
  decodeFrame,
  encodeHelloAcceptFrame,
  encodeHelloFrame,
  encodeHelloRejectFrame,
  type ForwardFrame,
  type Frame,
  type Hello,
  PROTOCOL_VERSION,
} from './control-frames.js';
export { FrameTooLargeError } from './errors.js';
export {
  FaultFilter,
  type FaultFilterStats,
  type LinkFaults,
  maxDelayedPerPeer,
} from './fault-filter.js';
export { FORWARD_UPGRADE_PROTOCOL, ForwardTunnel, type ForwardTunnelOptions } from './forward-tunnel.js';
export { DEFAULT_MAX_FRAME_BYTES, encodeMessageFrame, FRAME_HEADER_BYTES, FrameDecoder } from './framing.js';
export { DEFAULT_LIVENESS_TIMEOUT_MS } from './liveness.js';
export { PeerTls, type PeerTlsMaterial } from './peer-tls.js';
export { type ForwardingTransport, PeerTransport, type PeerTransportOptions } from './peer-transport.js';
export { DEFAULT_MAX_SNAPSHOT_BYTES, DEFAULT_SNAPSHOT_CHUNK_BYTES } from './snapshot-stream.js';
export {
  PEER_UPGRADE_PATH,
  PEER_UPGRADE_PROTOCOL,
  type PeerAddress,
  type PeerStats,
  type SnapshotDataFile,
  type SnapshotFiles,
  type TransportEvent,
  type TransportStats,
} from './types.js';
