// Reconnect delays: exponential growth with a cap, and jitter so that the nodes of a cluster that
// lost a peer at the same instant do not all hammer it in lockstep when it comes back.

export interface BackoffPolicy {
  /** Delay ceiling after the first failure, in milliseconds. */
  readonly initialMs: number;
  /** Largest delay ceiling, in milliseconds. */
  readonly maxMs: number;
  /** Growth of the ceiling per consecutive failure. */
  readonly multiplier: number;
  /** Uniform in [0, 1); injected so tests and simulations are deterministic. */
  readonly random: () => number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  initialMs: 50,
  maxMs: 5000,
  multiplier: 2,
  random: Math.random,
};

/**
 * Delay before reconnect attempt number `failures` (≥ 1 consecutive failures so far). "Equal
 * jitter": uniformly in [ceiling/2, ceiling), so a retry never fires in a tight loop yet retries
 * of different nodes spread out.
 */
export function backoffDelayMs(failures: number, policy: BackoffPolicy): number {
  const exponent = Math.max(0, failures - 1);
  const ceiling = Math.min(policy.maxMs, policy.initialMs * policy.multiplier ** exponent);
  return ceiling / 2 + (policy.random() * ceiling) / 2;
}
