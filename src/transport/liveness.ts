// Application-level liveness of one connection (the protocol is described in control-frames.ts).
// A SilenceWatch ticks every ping interval; each tick asks whether anything arrived since the
// previous tick, and after enough consecutive silent ticks to cover the timeout it reports the
// connection dead.
//
// Silence is counted in ticks, not read off the wall clock, on purpose: after this process's
// event loop was blocked (a long synchronous task, a GC pause), expired timers run before the
// bytes that arrived meanwhile are read, so a clock-based check would condemn every healthy
// connection at once. Counting ticks, a stall costs at most one tick of the budget. The cost is
// that a persistently overloaded loop detects a dead peer later than the timeout, never earlier.
//
// Per received chunk a watch costs one boolean store; per tick, one timer callback. Its timer is
// unref'd: the connection's socket, not the watch, decides whether the process stays alive.

/** Default silence after which a connection is given up. */
export const DEFAULT_LIVENESS_TIMEOUT_MS = 2000;
/** The default ping interval is the timeout divided by this. */
export const PINGS_PER_LIVENESS_TIMEOUT = 4;
/** Node clamps longer timer delays to 1 ms; no interval or timeout may exceed this. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export interface LivenessSettings {
  /** How often the connecting side pings (and both sides check). */
  readonly pingIntervalMs: number;
  /** Silence after which a connection is given up; 0: no pings, no checks. */
  readonly livenessTimeoutMs: number;
}

/** Why a pair of liveness settings is unusable, or null if it is fine. */
export function livenessProblem(s: LivenessSettings): string | null {
  const { pingIntervalMs: interval, livenessTimeoutMs: timeout } = s;
  if (timeout === 0) return null;
  if (!Number.isInteger(timeout) || timeout < 2 || timeout > MAX_TIMER_MS) {
    return `liveness timeout ${timeout} ms is not 0 or an integer in [2, ${MAX_TIMER_MS}]`;
  }
  if (!Number.isInteger(interval) || interval < 1 || interval >= timeout) {
    return `ping interval ${interval} ms is not an integer of at least 1 below the liveness timeout ${timeout} ms`;
  }
  return null;
}

export class SilenceWatch {
  private heardSinceTick = true;
  private silentTicks = 0;
  private lastActiveTickAt = performance.now();
  private readonly maxSilentTicks: number;
  private timer: NodeJS.Timeout | null;

  /**
   * Starts ticking at once. `onTick(heard)` runs on every tick that does not end the watch
   * (`heard`: something arrived since the previous tick); `onSilent(silentMs)` runs once, when the
   * timeout is reached, after which the watch is stopped. The creation counts as hearing.
   */
  constructor(
    settings: LivenessSettings,
    private readonly onTick: (heard: boolean) => void,
    private readonly onSilent: (silentMs: number) => void,
  ) {
    this.maxSilentTicks = Math.ceil(settings.livenessTimeoutMs / settings.pingIntervalMs);
    this.timer = setInterval(() => this.tick(), settings.pingIntervalMs);
    this.timer.unref();
  }

  /** Something arrived on the connection. */
  heard(): void {
    this.heardSinceTick = true;
  }

  stop(): void {
    if (this.timer !== null) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private tick(): void {
    const heard = this.heardSinceTick;
    this.heardSinceTick = false;
    if (heard) {
      this.silentTicks = 0;
      this.lastActiveTickAt = performance.now();
    } else if (++this.silentTicks >= this.maxSilentTicks) {
      this.stop();
      this.onSilent(Math.round(performance.now() - this.lastActiveTickAt));
      return;
    }
    this.onTick(heard);
  }
}
