// The writes a follower handed to the leader over the peer connection (protocol version 4,
// src/transport/control-frames.ts), each waiting for the leader's answer: the (index, term) its
// proposal got — from then on it waits like a write proposed here, in PendingWrites, until this
// node has applied that entry — or a refusal. Bounded, swept at the deadlines like every pending
// request, and failed together when the answer can no longer come: the connection to the leader
// lost, another leader, the node stopping. Every failure here is "outcome unknown": the proposal
// may have been appended and may still commit.

import {
  BadRequestError,
  BusyError,
  ForwardFailedError,
  NotLeaderError,
  type RaftkvError,
  TimeoutError,
  TooLargeError,
  withoutStack,
} from '../api/errors.js';
import type { NodeId } from '../raft/index.js';

/** A forwarded write waiting for the leader's answer. */
export interface ForwardWaiter {
  /** The leader it was handed to: only that peer's answer counts. */
  readonly to: NodeId;
  readonly deadline: number;
  /** The leader appended the proposal at (index, term). */
  readonly appended: (index: number, term: number) => void;
  readonly reject: (e: RaftkvError) => void;
}

/** What /debug shows of forwarding over the peer connection. */
export interface ForwardCounts {
  /** Writes handed to the leader over the peer connection. */
  readonly viaPeer: number;
  /** Of those, the ones the leader refused (answered as it would have, or sent again over HTTP). */
  readonly refused: number;
  /** Of those, the ones the leader's answer did not reach in time: lost connection, new leader, deadline, stop. */
  readonly failed: number;
  /** Waiting for the leader's answer now. */
  readonly pending: number;
}

export class PendingForwards {
  private readonly byId = new Map<number, ForwardWaiter>();
  private nextId = 0;
  private sentCount = 0;
  private refusedCount = 0;
  private failedCount = 0;

  /** At most `max` writes wait for the leader's answer at once. */
  constructor(readonly max: number) {}

  get size(): number {
    return this.byId.size;
  }

  get full(): boolean {
    return this.byId.size >= this.max;
  }

  /** Registers a write about to be handed over; returns its request id. Counted by handedOver(). */
  add(w: ForwardWaiter): number {
    const id = ++this.nextId;
    this.byId.set(id, w);
    return id;
  }

  /** The write's proposal was queued for the leader: counted as handed over. */
  handedOver(): void {
    this.sentCount++;
  }

  /** The write could not be handed over after all (nothing left): forgotten, not counted. */
  cancel(requestId: number): void {
    this.byId.delete(requestId);
  }

  /**
   * The leader `from` appended the write at (index, term): its waiter is told — unless this node
   * has applied `index` already (`lastApplied`), the entry having reached it some other way (a
   * next leader): then its result is gone, and the write fails, outcome unknown. Ignored when the
   * request is no longer waiting (answered, failed, past its deadline) or was not handed to `from`.
   */
  appended(from: NodeId, requestId: number, index: number, term: number, lastApplied: number): void {
    const w = this.take(from, requestId);
    if (w === undefined) return;
    if (lastApplied < index) {
      w.appended(index, term);
      return;
    }
    this.failedCount++;
    w.reject(
      new ForwardFailedError(
        'the write was applied before the leader said where it was appended; it may have committed',
      ),
    );
  }

  /** The leader `from` refused the write: its waiter gets `error()`. Ignored like appended(). */
  refused(from: NodeId, requestId: number, error: () => RaftkvError): void {
    const w = this.take(from, requestId);
    if (w === undefined) return;
    this.refusedCount++;
    w.reject(error());
  }

  /** Fails the writes handed to `peer` (every write, if null). */
  failTo(peer: NodeId | null, error: () => RaftkvError): void {
    for (const [id, w] of this.byId) {
      if (peer !== null && w.to !== peer) continue;
      this.byId.delete(id);
      this.failedCount++;
      w.reject(error());
    }
  }

  sweep(now: number): void {
    for (const [id, w] of this.byId) {
      if (now < w.deadline) continue;
      this.byId.delete(id);
      this.failedCount++;
      w.reject(
        new TimeoutError('the leader did not take the write before the deadline; it may still commit'),
      );
    }
  }

  /** The waiter of a request handed to `from`, removed; undefined when none (see appended()). */
  private take(from: NodeId, requestId: number): ForwardWaiter | undefined {
    const w = this.byId.get(requestId);
    if (w === undefined || w.to !== from) return undefined;
    this.byId.delete(requestId);
    return w;
  }

  counts(): ForwardCounts {
    return {
      viaPeer: this.sentCount,
      refused: this.refusedCount,
      failed: this.failedCount,
      pending: this.byId.size,
    };
  }
}

/**
 * The error a refusal from the leader stands for: the class the leader would have thrown had the
 * write been proposed there (the code names it), so the client gets the same answer either way.
 * Any other definite refusal — not_leader (the leader lost its post, or takes forwarded writes
 * only over HTTP; always definite) or a code this release does not know — becomes NotLeaderError
 * with the leader known now: the server then forwards the write over HTTP, and the leader's own
 * answer comes back. An indefinite refusal of a code this release does not know: outcome unknown.
 */
export function forwardRefusalError(
  code: string,
  message: string,
  definite: boolean,
  leader: string | null,
): RaftkvError {
  switch (code) {
    case 'busy':
      return new BusyError(message);
    case 'too_large':
      return new TooLargeError(message);
    case 'bad_request':
      return new BadRequestError(message);
  }
  if (definite) return withoutStack(() => new NotLeaderError(leader));
  return new ForwardFailedError(`the leader refused the write (${code}): ${message}; it may still commit`);
}
