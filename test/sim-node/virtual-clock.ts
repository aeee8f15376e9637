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
//
// A domain can be paused (SIGSTOP, a long GC, a descheduled VM): its callbacks that come due
// meanwhile — timers, `soon` callbacks, and whatever the cluster, network and disk hold for it —
// are held and run on resume, in the order they came due, while virtual time goes on for
// everyone (the monotonic clock does not stop with the process). A repeating timer that came due
// several times fires once on resume and then keeps its interval, as libuv's does: a timer
// re-arms only when its callback runs. The pause takes effect between two events; microtasks
// already queued finish first, as a signal lands between two macrotasks of a real event loop.

import type { NodeClock } from '../../src/node/clock.js';

/** Who owns a callback. A dead domain's callbacks never run again; a paused one's wait. */
export class Domain {
  alive = true;
  /** Set by Scheduler.pause/resume. */
  paused = false;
  /** What came due while paused, in that order; run on resume. */
  readonly held: (() => void)[] = [];
  constructor(readonly name: string) {}

  /** Runs fn now, or on resume if the domain is paused (a dead domain's fn never runs). */
  runOrHold(fn: () => void): void {
    if (!this.alive) return;
    if (this.paused) this.held.push(fn);
    else fn();
  }
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

  /** The domain's process stops: nothing of it runs until resume(). */
  pause(domain: Domain): void {
    domain.paused = true;
  }

  /** The process runs again: what came due meanwhile runs next, in order, as `soon` callbacks. */
  resume(domain: Domain): void {
    if (!domain.paused) return;
    domain.paused = false;
    for (const fn of domain.held.splice(0)) this.soonQueue.push({ fn, domain });
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
      if (!s.domain.alive) continue;
      if (s.domain.paused) s.domain.held.push(s.fn);
      else return s.fn;
    }
    for (;;) {
      const t = this.heap[0];
      if (t === undefined || t.at > until) return null;
      this.pop();
      if (t.cancelled || !t.domain.alive) continue;
      this.now = t.at;
      if (t.domain.paused) {
        // Cancelling it later still works: the held callback checks.
        t.domain.held.push(() => {
          if (!t.cancelled) t.fn();
        });
        continue;
      }
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
