// What the client's retry loops (watch, lock, the cluster client) share: when a failure is worth
// trying again on another node, and a pause that an AbortSignal cuts short.

import { RaftkvApiError, RaftkvConnectionError } from './errors.js';

/** A failure another node (or a later try) may not have: no connection, no leader, a timeout, a 5xx. */
export function retryableFailure(e: unknown): boolean {
  return e instanceof RaftkvConnectionError || (e instanceof RaftkvApiError && e.status >= 500);
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
