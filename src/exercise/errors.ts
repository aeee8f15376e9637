// How an exercise ends other than in PASS (runner.ts says what each means to a run).

/** A check of the exercise did not hold: FAIL, with what was seen. */
export class ExerciseFailed extends Error {
  override readonly name = 'ExerciseFailed';
}

/** The exercise cannot run on this cluster; the message says how to start one where it can. */
export class PreconditionFailed extends Error {
  override readonly name = 'PreconditionFailed';
}
