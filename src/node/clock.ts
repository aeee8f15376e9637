// Time and the event loop, injected into the driver so that a simulation can run the real node
// runtime on virtual time: `realClock` in production, a seeded scheduler in tests.

import type { Message, NodeId } from '../raft/index.js';
import type { PeerAddress, TransportEvent } from '../transport/index.js';

export interface NodeClock {
  /**
   * Milliseconds on a monotonic clock that keeps running while the process is stopped: the
   * driver converts it into the core's ticks (elapsed-ticks.ts), and the lease is only as good
   * as that clock. A wall-clock step (NTP, an operator) must not move it.
   */
  now(): number;
  /** Calls fn every ms milliseconds; returns a cancel function. */
  every(ms: number, fn: () => void): () => void;
  /** Calls fn once after ms milliseconds; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
  /** Calls fn after the current turn of the event loop (after I/O callbacks already queued). */
  soon(fn: () => void): void;
}

/**
 * CLOCK_MONOTONIC, in milliseconds near the Unix epoch (so it reads like Date.now() in logs and
 * deadlines) but never stepped by a wall-clock change. It keeps counting while the process is
 * SIGSTOPped or descheduled; it does not count while the whole machine is suspended.
 */
export function monotonicNow(): number {
  return performance.timeOrigin + performance.now();
}

export const realClock: NodeClock = {
  now: monotonicNow,
  every(ms, fn) {
    const t = setInterval(fn, ms);
    return () => clearInterval(t);
  },
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
  soon(fn) {
    setImmediate(fn);
  },
};

/** A promise kept after ms milliseconds of the clock's time. */
export function sleep(clock: NodeClock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.after(ms, resolve);
  });
}

/** What the driver needs from the peer transport (PeerTransport, or a simulated network). */
export interface MessageTransport {
  send(message: Message): boolean;
  /** Learns (or moves) a peer's address; the membership decides who is a peer (peers.ts). */
  setPeer(id: NodeId, address: PeerAddress): void;
  /** Forgets a peer that left the cluster, closing its connection. */
  removePeer(id: NodeId): Promise<void>;
  onMessage(handler: (m: Message) => void): () => void;
  onEvent(listener: (e: TransportEvent) => void): () => void;
  stats(): unknown;
  /**
   * An InstallSnapshot may carry a reference to the snapshot's file instead of its bytes: the
   * transport streams them from the file, and the node keeps no snapshot bytes in memory. Absent
   * or false (a simulated network), snapshots are sent, and so kept, with their bytes.
   */
  readonly sendsStoredSnapshots?: boolean;
}

export type { NodeId };
