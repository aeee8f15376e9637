// The leader's view of one follower (§3.5 nextIndex/matchIndex) and the flow-control state
// machine around it, after etcd-io/raft, with every transition a method of this class:
//
//   probe      — we do not know where the follower's log matches ours: send one AppendEntries
//                at a time and wait for its answer (or the next heartbeat answer) before another.
//   replicate  — the follower is in step: stream entries optimistically, up to the in-flight
//                window, advancing `next` as we send.
//   snapshot   — the follower needs entries we compacted: an InstallSnapshot is on its way; send
//                nothing else until it is acknowledged or given up on.

import { assert } from '../assert.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  /** Highest index known to match the leader's log. Invariant: match < next. */
  match = 0;
  /** Next index to send. */
  next: number;
  state: ProgressState = 'probe';
  /** In snapshot state: the index of the snapshot being sent. */
  pendingSnapshot = 0;
  /** Tick (leader's clock) at which the snapshot was sent, to give up on a lost one. */
  snapshotSentAtTick = 0;
  /** In probe state: an AppendEntries is out and unanswered; wait before sending another. */
  probeSent = false;
  /** Heard from since the last CheckQuorum round (§6.2). */
  recentActive = false;
  /** Highest ReadIndex heartbeat round this follower has answered (§6.4). */
  ackedReadRound = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightMessagesMax: number, inflightBytesMax: number) {
    this.next = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  private resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshot = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (or after match, if that is further).
    if (this.state === 'snapshot') {
      const pending = this.pendingSnapshot;
      this.resetState('probe');
      this.next = Math.max(this.match + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.next = this.match + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number, nowTick: number): void {
    this.resetState('snapshot');
    this.pendingSnapshot = snapshotIndex;
    this.snapshotSentAtTick = nowTick;
  }

  /** The follower acknowledged up to n. Returns false for a stale (already known) answer. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.match < n) {
      this.match = n;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, n + 1);
    return updated;
  }

  /** We sent entries up to lastIndex. */
  sentEntries(lastIndex: number, bytes: number, entryCount: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    } else {
      assert(false, `sending entries to a follower in ${this.state} state`);
    }
  }

  /**
   * The follower rejected an AppendEntries whose prevLogIndex was `rejected`; `probeFrom` is the
   * index the leader computed from the follower's hint. Returns false if the answer is stale.
   */
  maybeDecrTo(rejected: number, probeFrom: number): boolean {
    if (this.state === 'replicate') {
      // In replicate state only a rejection above match is news: earlier ones are reordered echoes.
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    // In probe state only the answer to the probe we sent (prevLogIndex = next - 1) counts.
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, probeFrom + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Whether the leader must hold AppendEntries to this follower for now. */
  isPaused(): boolean {
    switch (this.state) {
      case 'probe':
        return this.probeSent;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
