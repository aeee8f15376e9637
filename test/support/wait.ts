// Waiting in tests (and benchmarks): for a condition, polled until a deadline, or for a promise,
// up to a deadline — never a sleep in the hope that something has happened meanwhile. The bounds
// are against hangs, not speed assertions. `pause` is for pacing and for picking the moment of a
// fault, never for synchronisation.

import { describeError } from './http.js';

export interface WaitOptions {
  /** Give up after this long (default 20 s). */
  readonly timeoutMs?: number;
  /** Poll this often (default 20 ms; 0: after every turn of the event loop's timers). */
  readonly intervalMs?: number;
}

/** Thrown by a waitFor condition to give up at once (e.g. the awaited process has exited). */
export class StopWaiting extends Error {
  override name = 'StopWaiting';
}

/** A waitFor condition may record what it saw; the last record is quoted if the wait times out. */
export type Note = (observed: unknown) => void;

/**
 * Resolves with the first truthy value `condition()` returns, polling; rejects naming `what` once
 * the deadline has passed, with the last state the condition noted and the last error it threw. A
 * condition that throws counts as "not yet" (a restarting node refuses connections), except
 * StopWaiting, which ends the wait at once.
 */
export async function waitFor<T>(
  what: string,
  condition: (note: Note) => T | Promise<T>,
  options: WaitOptions = {},
): Promise<NonNullable<T>> {
  const { timeoutMs = 20_000, intervalMs = 20 } = options;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown = null;
  let observed: { readonly value: unknown } | null = null;
  const note: Note = (value) => {
    observed = { value };
  };
  for (;;) {
    try {
      const v = await condition(note);
      if (v) return v as NonNullable<T>;
      lastError = null;
    } catch (e) {
      if (e instanceof StopWaiting) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const seen =
        observed === null ? '' : `; last seen: ${describe((observed as { value: unknown }).value)}`;
      const why = lastError === null ? '' : `; last error: ${describeError(lastError)}`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${seen}${why}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** `promise`, or a rejection naming `what` if it does not settle before the deadline. */
export async function within<T>(
  what: string,
  promise: Promise<T>,
  options: Pick<WaitOptions, 'timeoutMs'> = {},
): Promise<T> {
  const { timeoutMs = 20_000 } = options;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)),
      timeoutMs,
    );
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits `ms`: for pacing a workload or picking the moment of a fault, never to synchronise. */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function describe(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? v : JSON.stringify(v);
  } catch {
    s = String(v);
  }
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}
