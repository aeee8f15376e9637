// A nemesis's schedule: quiet gaps and episodes drawn from its PRNG, and waits that stop() cuts
// short, so the schedule ends as soon as the run does instead of sitting out its fault or gap.

import type { Prng } from '../random.js';

export class Interruptible {
  private stoppedFlag = false;
  private wake: (() => void) | null = null;

  get stopped(): boolean {
    return this.stoppedFlag;
  }

  /** The current hold returns at once, and every later one too. */
  stop(): void {
    this.stoppedFlag = true;
    this.wake?.();
  }

  async hold(ms: number): Promise<void> {
    if (this.stoppedFlag) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = null;
  }
}

export interface ScheduleTiming {
  readonly gapMs: readonly [number, number];
  readonly faultMs: readonly [number, number];
}

/**
 * A gap, then episodes separated by gaps until `untilMs` (on the run clock `now`) or stop(). Each
 * episode's kind is drawn, then its duration, cut to what is left of the run (but at least the
 * shortest): the order of the draws is what makes a seed's schedule.
 */
export async function runSchedule<K>(
  waits: Interruptible,
  rng: Prng,
  timing: ScheduleTiming,
  now: () => number,
  untilMs: number,
  kinds: readonly K[],
  episode: (kind: K, durationMs: number) => Promise<void>,
): Promise<void> {
  const [gLo, gHi] = timing.gapMs;
  const [fLo, fHi] = timing.faultMs;
  await waits.hold(rng.between(gLo, gHi));
  while (!waits.stopped && now() + fLo < untilMs) {
    const kind = rng.pick(kinds);
    await episode(kind, Math.min(rng.between(fLo, fHi), Math.max(fLo, untilMs - now())));
    if (waits.stopped) break;
    await waits.hold(rng.between(gLo, gHi));
  }
}
