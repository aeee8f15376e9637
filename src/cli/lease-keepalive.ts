// `raftkv lease keepalive ID`: renews the lease every TTL/3 until interrupted (docs/leases.md).
// Each renewal is one POST /leases/{id}/keepalive through the endpoints in order (like every client
// command); a renewal that gets no answer is tried again soon. It ends with exit 0 on SIGINT or
// SIGTERM, and with exit 1 and one line when the lease is gone (404 lease_not_found) or a request
// is refused for good (a 4xx: a bad token, no permission).

import type { Endpoint } from './addresses.js';
import { type HttpAnswer, type HttpRequest, isRecord, RequestFailed, requestWithFailover } from './client.js';
import type { Io } from './io.js';
import { type ClientInvocation, exitCodes, httpRequestOf } from './kv-commands.js';
import { renderAnswer } from './kv-output.js';

export interface KeepaliveDeps {
  readonly send: (endpoint: Endpoint, req: HttpRequest) => Promise<HttpAnswer>;
  /** Resolves after `ms` milliseconds. */
  readonly sleep: (ms: number) => Promise<void>;
  /** Milliseconds on a monotonic clock. */
  readonly now: () => number;
  /** Calls `handler` on SIGINT/SIGTERM (the loop stops, exit 0). */
  readonly onSignal: (handler: (signal: string) => void) => void;
}

/** A renewal that got no answer, or a 503/504, is tried again after at most this long. */
const retryMs = 1000;

export async function runLeaseKeepalive(inv: ClientInvocation, io: Io, deps: KeepaliveDeps): Promise<number> {
  const c = inv.command;
  if (c.kind !== 'lease' || c.lease.action !== 'keepalive') throw new TypeError('not a lease keepalive');
  const id = c.lease.id;
  let stopped = false;
  let wake: () => void = () => {};
  deps.onSignal(() => {
    stopped = true;
    wake();
  });
  /** Sleeps `ms`, or less if a signal comes. */
  const pause = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      wake = resolve;
      void deps.sleep(ms).then(resolve);
    });
  const req = httpRequestOf(inv);
  /** When the last acknowledged renewal was sent, and the TTL it answered. */
  let acked: { readonly at: number; readonly ttlMs: number } | null = null;
  let warned = false;
  while (!stopped) {
    const sentAt = deps.now();
    let answer: HttpAnswer;
    try {
      answer = (await requestWithFailover(inv.endpoints, req, deps.send)).answer;
    } catch (e) {
      if (!(e instanceof RequestFailed)) throw e;
      io.err(`raftkv: lease ${id}: renewal failed, retrying: ${e.message}\n`);
      warned = warnIfRunOut(io, id, acked, deps.now(), warned);
      await pause(retryIn(acked));
      continue;
    }
    const body = isRecord(answer.body) ? answer.body : {};
    if (answer.status === 200 && typeof body.ttl === 'number') {
      acked = { at: sentAt, ttlMs: body.ttl * 1000 };
      warned = false;
      io.out(`lease ${id} kept alive with TTL ${body.ttl}s\n`);
      // The lease now lasts at least TTL from sentAt: renew a third of the way through.
      await pause(Math.max(0, sentAt + acked.ttlMs / 3 - deps.now()));
      continue;
    }
    if (answer.status === 503 || answer.status === 504) {
      io.err(`raftkv: lease ${id}: renewal not acknowledged (${answer.status}), retrying\n`);
      warned = warnIfRunOut(io, id, acked, deps.now(), warned);
      await pause(retryIn(acked));
      continue;
    }
    // Gone (404), or refused for good: the one-line message of the one-shot command.
    const out = renderAnswer(inv, answer);
    io.out(out.out);
    io.err(out.err);
    return out.code === exitCodes.ok ? exitCodes.failed : out.code;
  }
  return exitCodes.ok;
}

/** Soon, and well within what is left of the lease. */
function retryIn(acked: { readonly ttlMs: number } | null): number {
  return acked === null ? retryMs : Math.min(retryMs, acked.ttlMs / 10);
}

/** Once per outage: the holder must assume the lease is gone once its TTL has passed unrenewed. */
function warnIfRunOut(
  io: Io,
  id: number,
  acked: { readonly at: number; readonly ttlMs: number } | null,
  now: number,
  warned: boolean,
): boolean {
  if (warned || acked === null || now < acked.at + acked.ttlMs) return warned;
  io.err(
    `raftkv: lease ${id}: no renewal acknowledged for its whole TTL: it may have expired (still trying)\n`,
  );
  return true;
}
