// Bugs crash: an assertion failure means the core's own invariants broke, never bad input.

export class AssertionError extends Error {
  override readonly name = 'AssertionError';
}

/** `why` may be a function: a message built only when the assertion fails (hot paths). */
export function assert(condition: unknown, why: string | (() => string)): asserts condition {
  if (!condition) throw new AssertionError(typeof why === 'string' ? why : why());
}

/**
 * `value`, which the caller's own logic guarantees is there (an index checked against the bounds,
 * a voter's progress); an AssertionError naming `what` if it is not. The core uses this instead
 * of TypeScript's unchecked `!`.
 */
export function present<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new AssertionError(`${what} is missing`);
  return value;
}
