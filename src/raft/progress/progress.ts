// The leader's view of one follower (§3.5 nextIndex/matchIndex) and the flow-control state
// machine around it, after etcd-io/raft, with every transition a method of this class:
//
//   probe      — we do not know where the follower's log matches ours: send one AppendEntries
//                at a time and wait for its answer (or the next heartbeat answer) before another.
//   replicate  — the follower is in step: stream entries optimistically, up to the in-flight
//                window, advancing `next` as we send.
//   snapshot   — the follower needs entries we compacted: an InstallSnapshot is on its way; send
//                nothing else until it is acknowledged or given up on.

import { assert } from '../../assert.js';
import { Inflights } from './inflights.js';

export type ProgressState = 'probe' | 'replicate' | 'snapshot';

export class Progress {
  private matchIndex = 0;
  private nextIndex: number;
  private flowState: ProgressState = 'probe';
  private snapshotIndex = 0;
  private snapshotSentAt = 0;
  private probeInFlight = false;
  private heardRecently = false;
  private readRoundAcknowledged = 0;
  readonly inflights: Inflights;

  constructor(next: number, inflightMessagesMax: number, inflightBytesMax: number) {
    this.nextIndex = next;
    this.inflights = new Inflights(inflightMessagesMax, inflightBytesMax);
  }

  /** Highest index known to match the leader's log. Invariant: match < next. */
  get match(): number {
    return this.matchIndex;
  }

  /** Next index to send. */
  get next(): number {
    return this.nextIndex;
  }

  get state(): ProgressState {
    return this.flowState;
  }

  /** In snapshot state: the index of the snapshot being sent. */
  get pendingSnapshot(): number {
    return this.snapshotIndex;
  }

  /** Tick (leader's clock) at which the snapshot was sent, to give up on a lost one. */
  get snapshotSentAtTick(): number {
    return this.snapshotSentAt;
  }

  /** In probe state: an AppendEntries is out and unanswered; wait before sending another. */
  get probeSent(): boolean {
    return this.probeInFlight;
  }

  /** Heard from since the last CheckQuorum round (§6.2). */
  get recentActive(): boolean {
    return this.heardRecently;
  }

  /** Highest ReadIndex heartbeat round this follower has answered (§6.4). */
  get ackedReadRound(): number {
    return this.readRoundAcknowledged;
  }

  private resetState(state: ProgressState): void {
    this.probeInFlight = false;
    this.snapshotIndex = 0;
    this.flowState = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    // After a snapshot, resume right after it (or after match, if that is further).
    if (this.flowState === 'snapshot') {
      const pending = this.snapshotIndex;
      this.resetState('probe');
      this.nextIndex = Math.max(this.matchIndex + 1, pending + 1);
    } else {
      this.resetState('probe');
      this.nextIndex = this.matchIndex + 1;
    }
  }

  becomeReplicate(): void {
    this.resetState('replicate');
    this.nextIndex = this.matchIndex + 1;
  }

  becomeSnapshot(snapshotIndex: number, nowTick: number): void {
    this.resetState('snapshot');
    this.snapshotIndex = snapshotIndex;
    this.snapshotSentAt = nowTick;
  }

  /** The follower acknowledged up to n. Returns false for a stale (already known) answer. */
  maybeUpdate(n: number): boolean {
    let updated = false;
    if (this.matchIndex < n) {
      this.matchIndex = n;
      updated = true;
      this.probeInFlight = false;
    }
    this.nextIndex = Math.max(this.nextIndex, n + 1);
    return updated;
  }

  /** We sent entries up to lastIndex. */
  sentEntries(lastIndex: number, bytes: number, entryCount: number): void {
    if (this.flowState === 'replicate') {
      if (entryCount > 0) {
        this.nextIndex = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.flowState === 'probe') {
      this.probeInFlight = true;
    } else {
      assert(false, () => `sending entries to a follower in ${this.flowState} state`);
    }
  }

  /**
   * The follower rejected an AppendEntries whose prevLogIndex was `rejected`; `probeFrom` is the
   * index the leader computed from the follower's hint. Returns false if the answer is stale.
   */
  onRejected(rejected: number, probeFrom: number): boolean {
    if (this.flowState === 'replicate') {
      // In replicate state only a rejection above match is news: earlier ones are reordered echoes.
      if (rejected <= this.matchIndex) return false;
      this.nextIndex = this.matchIndex + 1;
      return true;
    }
    // In probe state only the answer to the probe we sent (prevLogIndex = next - 1) counts.
    if (this.nextIndex - 1 !== rejected) return false;
    this.nextIndex = Math.max(Math.min(rejected, probeFrom + 1), this.matchIndex + 1);
    this.probeInFlight = false;
    return true;
  }

  /** Any answer from the follower: it is alive for this CheckQuorum round (§6.2). */
  markActive(): void {
    this.heardRecently = true;
  }

  /** A new CheckQuorum round: the follower must be heard from again to count as active. */
  clearActive(): void {
    this.heardRecently = false;
  }

  /**
   * The follower answered a heartbeat: it is alive and reachable, so a probe may go again, and in
   * replicate state one in-flight AppendEntries is presumed lost so replication cannot stall.
   */
  heartbeatAnswered(): void {
    this.heardRecently = true;
    this.probeInFlight = false;
    if (this.flowState === 'replicate' && this.inflights.full()) this.inflights.freeFirstOne();
  }

  /** The follower answered ReadIndex heartbeat round `round`; false if it had answered a later one. */
  acknowledgeReadRound(round: number): boolean {
    if (round <= this.readRoundAcknowledged) return false;
    this.readRoundAcknowledged = round;
    return true;
  }

  /** Whether the leader must hold AppendEntries to this follower for now. */
  isPaused(): boolean {
    switch (this.flowState) {
      case 'probe':
        return this.probeInFlight;
      case 'replicate':
        return this.inflights.full();
      case 'snapshot':
        return true;
    }
  }
}
