// Converts monotonic time into core ticks. The core counts time only in ticks (src/raft/), and
// its leader lease (src/raft/lease.ts) is safe only if those ticks keep pace with real time: a
// lease measured in ticks that a stopped process never received looks as fresh on waking as when
// it stopped, while the rest of the cluster elected a new leader and moved on.
//
// A timer cannot guarantee that pace. A SIGSTOPped process, a long GC, a descheduled VM or a
// blocked event loop misses timer callbacks, and Node does not replay them: a repeating timer
// fires once on waking. So the driver owes the core one tick per whole tick interval of
// monotonic time, and pays the debt before the core handles anything — a timer callback, a peer
// message, a client proposal or read, a transfer (see Driver.input()). The interval's remainder
// carries over, so rounding never loses time.
//
// A long pause owes many ticks. Beyond a few election timeouts every timer in the core has fired
// (the lease has lapsed, CheckQuorum has had its round, a follower's election timer has run out),
// and replaying more would only queue one heartbeat or PreVote round per missed tick. So at most
// `maxTicks` are handed over; the rest of the debt is written off. Undercounting that way is safe:
// every tick-based rule in the core errs on the side of time having passed once its threshold
// is reached (see docs/read-modes.md).

export class ElapsedTicks {
  /** The monotonic time (ms) up to which the core has been given its ticks. */
  private paidUpTo: number;

  constructor(
    private readonly tickMs: number,
    now: number,
    private readonly maxTicks: number,
  ) {
    if (!(tickMs > 0)) throw new RangeError(`tick interval must be positive, got ${tickMs}`);
    if (!Number.isSafeInteger(maxTicks) || maxTicks < 1) {
      throw new RangeError(`maxTicks must be a positive integer, got ${maxTicks}`);
    }
    this.paidUpTo = now;
  }

  /**
   * The ticks owed at monotonic time `now` (whole intervals since the last payment, at most
   * maxTicks); they count as paid from this call on. A clock that went backwards owes nothing.
   */
  take(now: number): number {
    const elapsed = now - this.paidUpTo;
    if (!(elapsed >= this.tickMs)) return 0;
    const owed = Math.floor(elapsed / this.tickMs);
    this.paidUpTo += owed * this.tickMs;
    return Math.min(owed, this.maxTicks);
  }
}
