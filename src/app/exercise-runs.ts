// The exercises run on request (docs/dashboard.md, "Exercises"): from the dashboard, through the
// node serving the page — which runs one itself, or, under `raftkv cluster`, hands it to the
// supervisor, the one process that outlives every node an exercise kills or stops. Either way the
// run goes on in the background once started, and each GET shows it as far as it has got: the
// steps narrated so far, what it has observed, and at the end PASS or FAIL. One run at a time (two
// exercises killing and partitioning the same nodes would spoil each other's observations); the
// last few are kept in memory for those who come to look after the end.

import { randomBytes } from 'node:crypto';
import { BadRequestError, ExerciseCannotRunError, ExerciseRunningError } from '../api/errors.js';
import {
  type ExerciseResult,
  type ExerciseTarget,
  exerciseNumbered,
  PreconditionFailed,
  runExercise,
  type Step,
} from '../exercise/index.js';

/** One run as GET /ui/exercises/{run} shows it. */
export interface ExerciseRunView {
  readonly run: string;
  readonly exercise: number;
  readonly title: string;
  readonly state: 'running' | 'done';
  /** Where it runs: `supervisor` (that of `raftkv cluster`), or `node ID` (the node asked). */
  readonly runsIn: string;
  /** Wall-clock milliseconds when it started. */
  readonly startedAt: number;
  /** The steps narrated so far. */
  readonly steps: readonly Step[];
  /** What it has observed so far (the whole report's `observed` once done). */
  readonly observed: Readonly<Record<string, unknown>>;
  /** Null while running. */
  readonly result: ExerciseResult | null;
  readonly summary: string | null;
  readonly durationMs: number | null;
}

interface RunRecord {
  readonly run: string;
  readonly exercise: number;
  readonly title: string;
  state: 'running' | 'done';
  /** Set once the run's nodes have been reached. */
  startedAt: number;
  readonly steps: Step[];
  observed: Record<string, unknown>;
  result: ExerciseResult | null;
  summary: string | null;
  durationMs: number | null;
}

/** Runs kept for GET after they end. */
export const keptRuns = 20;

export interface ExerciseRunsOptions {
  /** For the view's `runsIn`. */
  readonly runsIn: string;
  /** Told each run's start, steps and end, one line each (the supervisor prints them). */
  readonly log?: (line: string) => void;
}

export class ExerciseRuns {
  private readonly runs = new Map<string, RunRecord>();
  /** The run under way (or being started), or null: one at a time. */
  private current: RunRecord | null = null;

  constructor(private readonly options: ExerciseRunsOptions) {}

  /**
   * Starts exercise `n` on the target `connect` makes; resolves once its precondition holds (the
   * run then goes on by itself). ExerciseRunningError while another runs; ExerciseCannotRunError
   * when the cluster lacks what it needs (a node not answering, too few nodes, no faults).
   */
  async start(n: number, connect: () => Promise<ExerciseTarget>): Promise<ExerciseRunView> {
    const exercise = exerciseNumbered(n);
    if (exercise === undefined) {
      throw new BadRequestError(`no exercise ${n}`, { field: 'exercise' });
    }
    const busy = this.current;
    if (busy !== null) {
      throw new ExerciseRunningError(
        `exercise ${busy.exercise} (${busy.title}) is running (run ${busy.run}); one runs at a time: ` +
          'wait for it to end',
        { run: busy.run, exercise: busy.exercise },
      );
    }
    const record: RunRecord = {
      run: newRunId(),
      exercise: n,
      title: exercise.title,
      state: 'running',
      startedAt: Date.now(),
      steps: [],
      observed: {},
      result: null,
      summary: null,
      durationMs: null,
    };
    const { run } = record;
    // Taken before the first await: a second request meanwhile is refused, not run alongside.
    this.current = record;
    let target: ExerciseTarget;
    try {
      target = await connect();
    } catch (e) {
      this.current = null;
      throw cannotRun(e);
    }
    record.startedAt = Date.now();
    let began = false;
    const started = new Promise<void>((resolve, reject) => {
      runExercise(exercise, target, {
        onStart: () => {
          began = true;
          this.keep(record);
          this.options.log?.(`exercise ${n} (${exercise.title}) started, run ${run}`);
          resolve();
        },
        onStep: (s) => {
          record.steps.push(s);
          this.options.log?.(`exercise ${n}: ${s.n}. ${s.text}`);
        },
        onObserve: (name, value) => {
          record.observed[name] = value;
        },
      })
        .then((report) => {
          record.result = report.result;
          record.summary = report.summary;
          record.observed = { ...report.observed };
          record.durationMs = report.durationMs;
          record.state = 'done';
        })
        .catch((e: unknown) => {
          if (!began) {
            reject(cannotRun(e));
            return;
          }
          // The runner turns every failure of a check into a FAIL; this is anything else.
          record.result = 'FAIL';
          record.summary = `the exercise stopped: ${e instanceof Error ? e.message : String(e)}`;
          record.durationMs = Date.now() - record.startedAt;
          record.state = 'done';
        })
        .finally(() => {
          if (began) this.options.log?.(`exercise ${n}: ${record.result}: ${record.summary}`);
          target.close();
          this.current = null;
        });
    });
    await started;
    return this.view(record);
  }

  /** Run `run` as far as it has got, or undefined if it is not (or no longer) kept. */
  get(run: string): ExerciseRunView | undefined {
    const r = this.runs.get(run);
    return r === undefined ? undefined : this.view(r);
  }

  /** Whether an exercise is running (or being started). */
  get running(): boolean {
    return this.current !== null;
  }

  private keep(record: RunRecord): void {
    this.runs.set(record.run, record);
    for (const [id, r] of this.runs) {
      if (this.runs.size <= keptRuns) break;
      if (r.state === 'done') this.runs.delete(id);
    }
  }

  private view(r: RunRecord): ExerciseRunView {
    return {
      run: r.run,
      exercise: r.exercise,
      title: r.title,
      state: r.state,
      runsIn: this.options.runsIn,
      startedAt: r.startedAt,
      steps: [...r.steps],
      observed: { ...r.observed },
      result: r.result,
      summary: r.summary,
      durationMs: r.durationMs,
    };
  }
}

/** A precondition the cluster does not meet is the API's exercise_cannot_run; anything else as it is. */
function cannotRun(e: unknown): unknown {
  return e instanceof PreconditionFailed ? new ExerciseCannotRunError(e.message) : e;
}

/** Time-ordered and unguessable enough not to collide: `m1x2y3z4-a1b2c3`. */
function newRunId(): string {
  return `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}
