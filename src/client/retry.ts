// What the client's retry loops (watch, lock, the cluster client) share: when a failure is worth
// trying again on another node, whether a failed attempt may have taken effect, and a pause that
// an AbortSignal cuts short.

import { RaftkvApiError, RaftkvConnectionError } from './errors.js';

/** A failure another node (or a later try) may not have: no connection, no leader, a timeout, a 5xx. */
export function retryableFailure(e: unknown): boolean {
  return e instanceof RaftkvConnectionError || (e instanceof RaftkvApiError && e.status >= 500);
}

/**
 * Whether a failed attempt may have taken effect: a connection that was made (the request may
 * have arrived), or an answer that does not say it certainly did not (`definite: false`). A
 * request with no idempotency key must not be sent again then: it could apply twice.
 */
export function mayHaveHappened(e: unknown): boolean {
  if (e instanceof RaftkvConnectionError) return e.connected;
  if (e instanceof RaftkvApiError) return !e.definite;
  return true;
}

/** Resolves after `ms`; rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
