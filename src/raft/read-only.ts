// Linearizable reads at the leader by ReadIndex (§6.4): each read records the commit index when
// it arrives, then waits until a heartbeat round sent after its arrival has been answered by a
// majority — proof that no newer leader existed when the read was recorded. Reads arriving
// between two broadcasts share one round, so many concurrent reads cost one heartbeat round.

import { present } from '../assert.js';
import type { NodeId } from './types.js';

export interface PendingRead {
  readonly context: string;
  /** Who asked: the leader itself, or the follower that relayed a client's read. */
  readonly from: NodeId;
  /** The leader's commit index when the read arrived: the read may be served once applied ≥ it. */
  readonly index: number;
  /** The heartbeat round whose majority answer releases this read. */
  readonly round: number;
}

export class ReadOnlyQueue {
  /** Reads waiting for the leader to commit its first entry of the term (§6.4 step 1). */
  private waitingForTermCommit: { context: string; from: NodeId }[] = [];
  /** Reads waiting for their round; rounds never decrease along the queue. */
  private pending: PendingRead[] = [];
  private head = 0;
  /** The last round broadcast. */
  private lastRound = 0;
  private broadcastNeeded = false;

  size(): number {
    return this.waitingForTermCommit.length + this.pending.length - this.head;
  }

  deferUntilTermCommit(context: string, from: NodeId): void {
    this.waitingForTermCommit.push({ context, from });
  }

  /** Moves the deferred reads in once the leader has committed in its term. */
  takeDeferred(): { context: string; from: NodeId }[] {
    const out = this.waitingForTermCommit;
    this.waitingForTermCommit = [];
    return out;
  }

  add(context: string, from: NodeId, index: number): void {
    this.pending.push({ context, from, index, round: this.lastRound + 1 });
    this.broadcastNeeded = true;
  }

  hasRoundPending(): boolean {
    return this.broadcastNeeded;
  }

  /** If reads wait for a round not yet sent, starts it and returns its number. */
  startRoundIfNeeded(): number | null {
    return this.broadcastNeeded ? this.startRound() : null;
  }

  /** Starts a new round whether or not reads wait for one, and returns its number. */
  startRound(): number {
    this.broadcastNeeded = false;
    this.lastRound++;
    return this.lastRound;
  }

  /** A new term of leadership numbers its rounds from 1 again (the followers' answers were reset too). */
  restartRounds(): void {
    this.lastRound = 0;
  }

  /** The last round broadcast (0 before the first of this term of leadership). */
  get round(): number {
    return this.lastRound;
  }

  /** Removes and returns the reads whose round a majority has confirmed. */
  releaseConfirmed(confirmed: (round: number) => boolean): PendingRead[] {
    const out: PendingRead[] = [];
    while (this.head < this.pending.length) {
      const read = present(this.pending[this.head], 'a pending read');
      if (!confirmed(read.round)) break;
      out.push(read);
      this.head++;
    }
    if (this.head > 0 && this.head === this.pending.length) {
      this.pending = [];
      this.head = 0;
    }
    return out;
  }

  /** Everything still waiting, emptied: used to fail reads when leadership is lost. */
  drain(): { context: string; from: NodeId }[] {
    const out = [...this.waitingForTermCommit, ...this.pending.slice(this.head)];
    this.waitingForTermCommit = [];
    this.pending = [];
    this.head = 0;
    this.broadcastNeeded = false;
    return out;
  }
}
