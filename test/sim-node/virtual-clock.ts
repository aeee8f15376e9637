// Goal: virtual time for the real node runtime. A deterministic scheduler implements NodeClock:
// timers are a priority queue of (time, sequence) events, `soon` callbacks run in FIFO order
// before time advances, and every callback belongs to a Domain (one node incarnation, the
// network, the clients...) so that a crash silently drops the dead incarnation's timers.
//
// The runtime awaits promises (SimDisk, the WAL's flush chain, the Ready loop), so microtasks
// must run to completion between two events, exactly as they do between two macrotasks of the
// real event loop. The run loop awaits a real setImmediate between events: Node drains every
// microtask before it, however many awaits a chain takes. Nothing else in the process does I/O
// while a simulation runs, so the order of events is decided by the queue alone: one seed, one
// run.

import type { NodeClock } from '../../src/node/clock.js';

/** Who owns a callback. A dead domain's callbacks never run again. */
export class Domain {
  alive = true;
  constructor(readonly name: string) {}
}

interface Timer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
  readonly domain: Domain;
  cancelled: boolean;
}

interface Soon {
  readonly fn: () => void;
  readonly domain: Domain;
}

/** Thrown by run() when a callback threw: the simulation is broken, not the system under test. */
export class SchedulerError extends Error {
  override name = 'SchedulerError';
}

const realTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export class Scheduler {
  now = 0;
  /** Callbacks run so far (timers and soon callbacks). */
  events = 0;
  private seq = 0;
  private readonly heap: Timer[] = [];
  private soonQueue: Soon[] = [];
  private soonHead = 0;
  private error: unknown = null;
  /** Called after each event, once its microtasks ran (invariant checks). */
  afterEvent: (() => void) | null = null;

  /** run() gives up with a SchedulerError past this many events: a livelock is a failure too. */
  constructor(readonly maxEvents = Number.POSITIVE_INFINITY) {}

  /** Runs fn at virtual time `at` (not before now). Returns a cancel function. */
  at(at: number, fn: () => void, domain: Domain): () => void {
    const t: Timer = { at: Math.max(at, this.now), seq: this.seq++, fn, domain, cancelled: false };
    this.push(t);
    return () => {
      t.cancelled = true;
    };
  }

  after(ms: number, fn: () => void, domain: Domain): () => void {
    return this.at(this.now + Math.max(0, ms), fn, domain);
  }

  soon(fn: () => void, domain: Domain): void {
    this.soonQueue.push({ fn, domain });
  }

  /** A NodeClock whose callbacks belong to `domain`. */
  clock(domain: Domain): NodeClock {
    return {
      now: () => this.now,
      every: (ms, fn) => {
        let cancelled = false;
        let cancelNext = (): void => {};
        const arm = (): void => {
          cancelNext = this.after(
            ms,
            () => {
              if (cancelled) return;
              arm();
              fn();
            },
            domain,
          );
        };
        arm();
        return () => {
          cancelled = true;
          cancelNext();
        };
      },
      after: (ms, fn) => this.after(ms, fn, domain),
      soon: (fn) => this.soon(fn, domain),
    };
  }

  /** A promise kept after ms virtual milliseconds. */
  sleep(ms: number, domain: Domain): Promise<void> {
    return new Promise((resolve) => {
      this.after(ms, resolve, domain);
    });
  }

  /**
   * Runs events until `done()` holds or virtual time would pass `until`; then now = until if the
   * queue ran dry before it. Rejects with SchedulerError if a callback threw.
   */
  async run(until: number, done: () => boolean = () => false): Promise<void> {
    for (;;) {
      await realTurn();
      this.afterEvent?.();
      if (this.error !== null) {
        const e = this.error;
        this.error = null;
        throw e instanceof SchedulerError ? e : new SchedulerError(describe(e), { cause: e });
      }
      if (done()) return;
      const next = this.nextEvent(until);
      if (next === null) {
        if (this.now < until) this.now = until;
        return;
      }
      if (++this.events > this.maxEvents) {
        throw new SchedulerError(`event budget of ${this.maxEvents} exhausted at t=${this.now}: livelock?`);
      }
      try {
        next();
      } catch (e) {
        this.error = e;
      }
    }
  }

  /** Records a failure found outside a callback (e.g. in a promise chain); run() rethrows it. */
  fail(e: unknown): void {
    this.error ??= e;
  }

  private nextEvent(until: number): (() => void) | null {
    while (this.soonHead < this.soonQueue.length) {
      const s = this.soonQueue[this.soonHead++]!;
      if (this.soonHead === this.soonQueue.length) {
        this.soonQueue = [];
        this.soonHead = 0;
      }
      if (s.domain.alive) return s.fn;
    }
    for (;;) {
      const t = this.heap[0];
      if (t === undefined || t.at > until) return null;
      this.pop();
      if (t.cancelled || !t.domain.alive) continue;
      this.now = t.at;
      return t.fn;
    }
  }

  private less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  private push(t: Timer): void {
    const h = this.heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(h[i]!, h[p]!)) break;
      [h[i], h[p]] = [h[p]!, h[i]!];
      i = p;
    }
  }

  private pop(): void {
    const h = this.heap;
    const last = h.pop()!;
    if (h.length === 0) return;
    h[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < h.length && this.less(h[l]!, h[m]!)) m = l;
      if (r < h.length && this.less(h[r]!, h[m]!)) m = r;
      if (m === i) return;
      [h[i], h[m]] = [h[m]!, h[i]!];
      i = m;
    }
  }
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}
