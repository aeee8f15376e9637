// (being written) The node runtime.
import type { HostPort, NodeOptions } from './options.js';

export interface RaftkvNode {
  readonly id: string;
  /** Where the node listens (after binding: the real port if 0 was asked for). */
  readonly address: HostPort;
  /** Graceful stop: stop accepting requests, fail or finish in-flight ones, sync, close. */
  stop(): Promise<void>;
  /** Resolves when the node has stopped (by stop() or a fatal storage error). */
  readonly stopped: Promise<void>;
}

export async function startNode(_options: NodeOptions): Promise<RaftkvNode> {
  throw new Error('not yet');
}
