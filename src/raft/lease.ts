// The leader lease (§6.4.1), kept whenever CheckQuorum is on, for reads that use it (readMode
// 'lease', or a read that asks for it). A follower that heard from the leader ignores
// RequestVote and PreVote for one election timeout (§4.2.3, checkQuorum). So when a majority has
// answered a heartbeat the leader sent at tick s, no other leader can be elected before that
// majority's timers run out — no earlier than s + electionTimeout on the leader's clock, if the
// clocks tick at the same rate. The lease therefore runs from the send tick of the latest
// heartbeat round a majority answered, for the election timeout less a safety margin.
//
// The margin covers tick granularity: a follower's timer starts when the heartbeat arrives, at a
// phase of its own tick that can be up to one tick ahead of the leader's. It does not cover
// clock drift: if followers' clocks run faster than the leader's by more than the margin over an
// election timeout, a deposed leader can serve a stale read. That is why 'safe' is the default.
//
// Ticks stand for time only if the driver hands over every tick that really passed before any
// input — a paused process misses timer callbacks, and a lease counted in callbacks outlives its
// real time. The node's driver derives ticks from a monotonic clock for that reason
// (src/node/elapsed-ticks.ts); docs/read-modes.md says what the lease still assumes.

/** Ticks subtracted from the election timeout for tick phase differences between nodes. */
export const leaseMarginTicks = 2;

export class LeaderLease {
  /** Send tick of each heartbeat round not yet confirmed by a majority. */
  private readonly sentAt = new Map<number, number>();
  /** Send tick of the latest round a majority answered; null until one is. */
  private start: number | null = null;
  private revoked = false;

  /** Ticks the lease runs from the send tick of the latest confirmed round. */
  private readonly length: number;

  /**
   * `neverExpires` is the test-only mutation leaseNeverExpires (config.ts): an endless lease, so
   * once a round was confirmed it holds for the rest of the term. Decided here, once, so that
   * valid() costs the same with or without it.
   */
  constructor(electionTimeoutTicks: number, neverExpires = false) {
    this.length = neverExpires ? Number.POSITIVE_INFINITY : electionTimeoutTicks - leaseMarginTicks;
  }

  /** A new term of leadership: nothing confirmed yet. */
  reset(): void {
    this.sentAt.clear();
    this.start = null;
    this.revoked = false;
  }

  roundSent(round: number, tick: number): void {
    if (!this.sentAt.has(round)) this.sentAt.set(round, tick);
  }

  /** A majority has answered every round up to `round`. */
  roundConfirmed(round: number): void {
    for (const [r, tick] of this.sentAt) {
      if (r > round) continue;
      if (this.start === null || tick > this.start) this.start = tick;
      this.sentAt.delete(r);
    }
  }

  /** After a TimeoutNow the target may win an election at once: no lease for the rest of the term. */
  revoke(): void {
    this.revoked = true;
  }

  valid(now: number): boolean {
    if (this.revoked || this.start === null) return false;
    return now < this.start + this.length;
  }
}
