// The exercises' runner (docs/exercises.md): an exercise narrates numbered steps as it goes,
// records what it observed, and ends in PASS or FAIL. A failed check is a FAIL with what was seen;
// anything else going wrong mid-way (a node not answering in time) is a FAIL too, since that is
// what the exercise observed. A missing precondition (too few nodes, no supervisor, no fault
// injection) is neither: the exercise cannot run, and says how to start a cluster where it can.

import type { ExerciseTarget } from './target.js';

export type ExerciseResult = 'PASS' | 'FAIL';

export interface Step {
  /** 1, 2, 3... in the order narrated. */
  readonly n: number;
  readonly text: string;
  /** Milliseconds since the exercise began. */
  readonly atMs: number;
}

export interface ExerciseReport {
  readonly exercise: number;
  readonly title: string;
  readonly result: ExerciseResult;
  /** One sentence: what passed, or what failed. */
  readonly summary: string;
  /** What it measured and saw, by name (leader, term, failoverMs, ...). */
  readonly observed: Readonly<Record<string, unknown>>;
  readonly steps: readonly Step[];
  readonly durationMs: number;
}

import { PreconditionFailed } from './errors.js';

export { ExerciseFailed, PreconditionFailed } from './errors.js';

/** How long the exercises wait, and how often they look. */
export interface ExerciseTiming {
  /** How often /debug is polled while waiting for a leader or a catch-up (the seed's 50 ms). */
  readonly pollMs: number;
  /** The longest one wait may take (a leader, a catch-up, a restart). */
  readonly waitMs: number;
  /** Bound on one request (a read, a write, a fault). */
  readonly requestMs: number;
  /** Bound on the write sent to the minority side of a partition (exercise 3). */
  readonly minorityWriteMs: number;
}

export const defaultTiming: ExerciseTiming = {
  pollMs: 50,
  waitMs: 30_000,
  requestMs: 5000,
  minorityWriteMs: 3000,
};

/** What an exercise is handed. */
export interface ExerciseContext {
  readonly target: ExerciseTarget;
  readonly timing: ExerciseTiming;
  /** Narrates the next numbered step (printed at once). */
  step(text: string): void;
  /** Records an observation for the report (and --json). */
  observe(name: string, value: unknown): void;
  /** A name no earlier run used: keys are made fresh under it. */
  readonly runId: string;
  /**
   * Registers what puts the cluster back as it was (restart a killed node, heal a fault) should
   * the exercise end before it does so itself; `done` unregisters it. Run in reverse order.
   */
  undo(what: string, fn: () => Promise<unknown>): { done(): void };
}

export interface Exercise {
  readonly n: number;
  readonly title: string;
  /** Checks what the cluster must offer before anything is changed (throws PreconditionFailed). */
  precondition(target: ExerciseTarget): Promise<void>;
  /** Runs it; resolves with the PASS summary, throws ExerciseFailed for a FAIL. */
  run(ctx: ExerciseContext): Promise<string>;
}

export interface RunOptions {
  readonly timing?: Partial<ExerciseTiming>;
  /** Called with each step as it is narrated. */
  readonly onStep?: (step: Step) => void;
  /** Called with each observation as it is recorded (a report so far, e.g. for the dashboard). */
  readonly onObserve?: (name: string, value: unknown) => void;
  /** Called once the precondition holds, before the first step. */
  readonly onStart?: () => void;
}

/**
 * Runs `exercise` on `target`: its precondition first (PreconditionFailed propagates), then its
 * steps; resolves with the report, PASS or FAIL.
 */
export async function runExercise(
  exercise: Exercise,
  target: ExerciseTarget,
  options: RunOptions = {},
): Promise<ExerciseReport> {
  await exercise.precondition(target);
  options.onStart?.();
  const started = performance.now();
  const steps: Step[] = [];
  const observed: Record<string, unknown> = {};
  const undos: { what: string; fn: () => Promise<unknown> }[] = [];
  const elapsed = (): number => Math.round(performance.now() - started);
  const ctx: ExerciseContext = {
    target,
    timing: { ...defaultTiming, ...options.timing },
    step: (text) => {
      const step = { n: steps.length + 1, text, atMs: elapsed() };
      steps.push(step);
      options.onStep?.(step);
    },
    observe: (name, value) => {
      observed[name] = value;
      options.onObserve?.(name, value);
    },
    runId: `${Date.now().toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`,
    undo: (what, fn) => {
      const u = { what, fn };
      undos.push(u);
      return {
        done: () => {
          const at = undos.indexOf(u);
          if (at >= 0) undos.splice(at, 1);
        },
      };
    },
  };
  let result: ExerciseResult = 'PASS';
  let summary: string;
  try {
    summary = await exercise.run(ctx);
  } catch (e) {
    if (e instanceof PreconditionFailed) throw e;
    result = 'FAIL';
    summary = e instanceof Error ? e.message : String(e);
  }
  // What the exercise changed and did not put back (it stopped early): put back now, best effort.
  for (const u of undos.reverse()) {
    try {
      await u.fn();
      ctx.step(`Putting the cluster back: ${u.what}.`);
    } catch (e) {
      ctx.step(`Putting the cluster back: ${u.what} failed: ${e instanceof Error ? e.message : String(e)}.`);
    }
  }
  return {
    exercise: exercise.n,
    title: exercise.title,
    result,
    summary,
    observed,
    steps,
    durationMs: elapsed(),
  };
}
