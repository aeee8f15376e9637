// The sequential specification a history is checked against, kept generic so that the search
// (search.ts) knows nothing about registers: a set, a queue or a counter model plugs in the same way.

/** The result of applying one operation to a state: either it is consistent with what was observed, or not. */
export type StepResult<S> = { readonly ok: true; readonly nextState: S } | { readonly ok: false };

/**
 * A deterministic sequential object. `Op` carries both the operation's inputs and what the client
 * observed; an indeterminate op carries no observation, and `step` must then answer whether it
 * could have taken effect in `state` and what it would have left.
 *
 * States are treated as immutable values: `step` returns a new state rather than changing one.
 * `hash` and `equals` drive memoization, so they must agree: equal states have equal hashes.
 */
export interface Model<S, Op> {
  readonly name: string;
  init(): S;
  step(state: S, op: Op): StepResult<S>;
  hash(state: S): string | number;
  equals(a: S, b: S): boolean;
  /** Short human-readable renderings, for failure reports. */
  showState(state: S): string;
  showOp(op: Op): string;
}

/**
 * One operation as the search sees it: an interval of real time and the model operation.
 * `ret` is Infinity for an indeterminate op: it may take effect at any point after `call`, or
 * never, so the search may linearize it anywhere later or leave it out.
 */
export interface TimedOp<Op> {
  /** The caller's identifier, reported back in results. */
  readonly id: number;
  readonly call: number;
  readonly ret: number;
  readonly op: Op;
}
