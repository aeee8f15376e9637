// Client requests waiting on the core: writes by the log index their proposal got, reads by the
// context of their ReadIndex request. Each has a deadline; the node sweeps them on every tick,
// so no request ever hangs.

import { LeadershipLostError, NoSpaceError, type RaftkvError, TimeoutError } from '../api/errors.js';
import type {
  ApplyResult,
  ConfigResult,
  LeaseApplyResult,
  SpaceRefusal,
  SpaceResult,
  WriteResult,
} from '../kv/index.js';
import type { Entry } from '../raft/index.js';

/** What a proposal's waiter receives: a client write's result, a quota or alarm command's, a membership change's. */
export type ProposalResult = WriteResult | SpaceResult | ConfigResult | LeaseApplyResult;

interface WriteWaiter {
  readonly term: number;
  readonly deadline: number;
  readonly resolve: (r: ProposalResult) => void;
  readonly reject: (e: RaftkvError) => void;
}

export class PendingWrites {
  private readonly byIndex = new Map<number, WriteWaiter>();

  /**
   * `onFailed` is told of each write that will not be answered as applied: overwritten by another
   * leader's entry, failed when leadership changed or the node stopped, or past its deadline (a
   * write refused by the state machine for want of space was applied, and is not counted).
   */
  constructor(private readonly onFailed: () => void = () => {}) {}

  get size(): number {
    return this.byIndex.size;
  }

  /**
   * Waits for the entry proposed at (index, term) to be applied. One waiter per index: an earlier
   * one still there was for another term's entry at that index, which can no longer be applied.
   */
  wait(index: number, term: number, deadline: number): Promise<ProposalResult> {
    return new Promise((resolve, reject) => {
      const earlier = this.byIndex.get(index);
      this.byIndex.set(index, { term, deadline, resolve, reject });
      if (earlier !== undefined) {
        this.onFailed();
        earlier.reject(
          new LeadershipLostError('leadership changed before the write committed; it was not applied'),
        );
      }
    });
  }

  /** An entry was applied: answer whoever proposed it, if they are still waiting here. */
  applied(entry: Entry, result: ApplyResult): void {
    const w = this.byIndex.get(entry.index);
    if (w === undefined) return;
    this.byIndex.delete(entry.index);
    if (entry.term !== w.term) {
      // Another leader's entry took this index: ours was overwritten and never commits.
      this.onFailed();
      w.reject(new LeadershipLostError('leadership changed before the write committed; it was not applied'));
      return;
    }
    if (result.kind === 'no_space') w.reject(noSpaceError(result));
    else if (result.kind !== 'noop' && result.kind !== 'invalid') w.resolve(result);
    else {
      this.onFailed();
      w.reject(new LeadershipLostError(`the entry at index ${entry.index} is not this write`));
    }
  }

  failAll(error: () => RaftkvError): void {
    for (const w of this.byIndex.values()) {
      this.onFailed();
      w.reject(error());
    }
    this.byIndex.clear();
  }

  /**
   * Fails the writes waiting at `index` or below: a snapshot from the leader covered their
   * entries, so they will never be applied here one by one, and their results are not known.
   */
  failThrough(index: number, error: () => RaftkvError): void {
    for (const [at, w] of this.byIndex) {
      if (at > index) continue;
      this.byIndex.delete(at);
      this.onFailed();
      w.reject(error());
    }
  }

  sweep(now: number): void {
    for (const [index, w] of this.byIndex) {
      if (now < w.deadline) continue;
      this.byIndex.delete(index);
      this.onFailed();
      w.reject(new TimeoutError('the write did not commit before the deadline; it may still commit'));
    }
  }
}

interface ReadWaiter {
  readonly deadline: number;
  /** Set once the core released the read: serve when lastApplied reaches it. */
  readIndex: number | null;
  /** When the read was last asked of the core (re-asked if its answer may have been lost). */
  askedAt: number;
  readonly resolve: () => void;
  readonly reject: (e: RaftkvError) => void;
}

export class PendingReads {
  private readonly byContext = new Map<string, ReadWaiter>();
  private next = 0;

  get size(): number {
    return this.byContext.size;
  }

  /** A fresh context for the core's readIndex(), and a promise kept once the read may be served. */
  start(deadline: number, now: number): { context: string; done: Promise<void> } {
    const context = `r${++this.next}`;
    const done = new Promise<void>((resolve, reject) => {
      this.byContext.set(context, { deadline, readIndex: null, askedAt: now, resolve, reject });
    });
    return { context, done };
  }

  /**
   * A promise kept once the state machine has applied `index` (a read with `minIndex`): a read
   * whose read index is known from the start, released by appliedTo() and swept at its deadline.
   */
  startAt(index: number, deadline: number, now: number): Promise<void> {
    const context = `m${++this.next}`;
    return new Promise<void>((resolve, reject) => {
      this.byContext.set(context, { deadline, readIndex: index, askedAt: now, resolve, reject });
    });
  }

  /**
   * Reads asked of the core at least `afterMs` ago and still without a read index: a relayed
   * request or its answer may have been lost on the way to or from the leader. Marks them asked
   * again now. Asking twice is safe: a read index obtained after the read started serves it, and
   * the second answer for a context is ignored (released()).
   */
  toAskAgain(now: number, afterMs: number): string[] {
    const out: string[] = [];
    for (const [context, w] of this.byContext) {
      if (w.readIndex === null && now - w.askedAt >= afterMs) {
        w.askedAt = now;
        out.push(context);
      }
    }
    return out;
  }

  /** The core released a read; unknown contexts (duplicated answers, expired reads) are ignored. */
  released(context: string, readIndex: number, lastApplied: number): void {
    const w = this.byContext.get(context);
    if (w === undefined || w.readIndex !== null) return;
    w.readIndex = readIndex;
    if (lastApplied >= readIndex) {
      this.byContext.delete(context);
      w.resolve();
    }
  }

  failed(context: string, error: RaftkvError): void {
    const w = this.byContext.get(context);
    if (w === undefined) return;
    this.byContext.delete(context);
    w.reject(error);
  }

  /** The state machine reached `lastApplied`: serve the released reads it covers. */
  appliedTo(lastApplied: number): void {
    for (const [context, w] of this.byContext) {
      if (w.readIndex !== null && w.readIndex <= lastApplied) {
        this.byContext.delete(context);
        w.resolve();
      }
    }
  }

  failAll(error: () => RaftkvError): void {
    for (const w of this.byContext.values()) w.reject(error());
    this.byContext.clear();
  }

  sweep(now: number): void {
    for (const [context, w] of this.byContext) {
      if (now < w.deadline) continue;
      this.byContext.delete(context);
      w.reject(new TimeoutError('the read did not complete before the deadline'));
    }
  }
}

/** The client's answer for a write the state machine refused for want of space. */
export function noSpaceError(r: SpaceRefusal): NoSpaceError {
  const why =
    r.reason === 'quota'
      ? `the write would grow the state (${r.stateBytes} bytes) past the quota of ${r.quotaBytes} bytes`
      : `free disk is low on ${r.alarms.join(', ')} (no-space alarm)`;
  return new NoSpaceError(
    `${why}; nothing was written — delete keys or add space, reads and deletes still work`,
    {
      reason: r.reason,
      stateBytes: r.stateBytes,
      quotaBytes: r.quotaBytes,
      alarms: r.alarms,
    },
  );
}
