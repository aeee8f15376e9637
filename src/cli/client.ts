// How the client commands send a request: through the API client (src/client/), one endpoint at a
// time, with a per-attempt timeout and failover across endpoints. Every write carries an
// Idempotency-Key, so retrying it on the next endpoint is safe.

import { type ApiRequest, type ClientTls, RaftkvClient, RaftkvConnectionError } from '../client/index.js';
import type { Endpoint } from './addresses.js';

/** One API request (src/client/requests.ts) and how long one endpoint may take to answer it. */
export interface HttpRequest extends ApiRequest {
  readonly timeoutMs: number;
  /** Sent as `Authorization: Bearer TOKEN` to every endpoint tried. */
  readonly token?: string;
  /** For https:// endpoints: the CA to trust and the client certificate to present. */
  readonly tls?: ClientTls;
}

export interface HttpAnswer {
  readonly endpoint: Endpoint;
  readonly status: number;
  /** Parsed JSON body; null when the body was not JSON. */
  readonly body: unknown;
}

/** No endpoint gave an answer worth returning. */
export class RequestFailed extends Error {
  override name = 'RequestFailed';
  constructor(
    message: string,
    /** The request may have reached a server (so a write may have been applied). */
    readonly mayHaveArrived: boolean,
  ) {
    super(message);
  }
}

/**
 * Why a request got no answer, and whether it may have reached the server: not when no connection
 * was made (refused, unreachable, no such host); yes after a timeout, whenever it struck.
 */
export function classifyFailure(e: unknown, timeoutMs: number): { reason: string; mayHaveArrived: boolean } {
  if (e instanceof RaftkvConnectionError) {
    if (e.timedOut) return { reason: `no answer within ${timeoutMs} ms`, mayHaveArrived: true };
    return { reason: e.reason, mayHaveArrived: e.connected };
  }
  return { reason: e instanceof Error ? e.message : String(e), mayHaveArrived: true };
}

/** One request to one endpoint, on a fresh connection. */
export async function requestOnce(endpoint: Endpoint, req: HttpRequest): Promise<HttpAnswer> {
  const { token, tls, ...request } = req;
  const client = new RaftkvClient(endpoint.url, {
    keepAlive: false,
    ...(token !== undefined && { token }),
    ...(tls !== undefined && { tls }),
  });
  const answer = await client.send(request, {
    timeoutMs: req.timeoutMs,
  });
  return { endpoint, status: answer.status, body: answer.body ?? null };
}

/**
 * Tries the endpoints in order. Moves on after a connection error or timeout, and after a 503
 * (no leader, not leader, shutting down ...) while another endpoint is left. Returns the first
 * other answer, or the last 503; throws RequestFailed when no endpoint answered.
 */
export async function requestWithFailover(
  endpoints: readonly Endpoint[],
  req: HttpRequest,
  send: (endpoint: Endpoint, req: HttpRequest) => Promise<HttpAnswer> = requestOnce,
): Promise<{ answer: HttpAnswer; mayHaveArrivedBefore: boolean }> {
  const failures: string[] = [];
  let mayHaveArrived = false;
  let last503: HttpAnswer | undefined;
  for (const endpoint of endpoints) {
    let answer: HttpAnswer;
    try {
      answer = await send(endpoint, req);
    } catch (e) {
      const f = classifyFailure(e, req.timeoutMs);
      failures.push(`${endpoint.label}: ${f.reason}`);
      mayHaveArrived ||= f.mayHaveArrived;
      continue;
    }
    if (answer.status === 503) {
      last503 = answer;
      const definite = isRecord(answer.body) && answer.body.definite === true;
      mayHaveArrived ||= !definite;
      continue;
    }
    return { answer, mayHaveArrivedBefore: mayHaveArrived };
  }
  if (last503) return { answer: last503, mayHaveArrivedBefore: mayHaveArrived };
  throw new RequestFailed(`no endpoint answered: ${failures.join('; ')}`, mayHaveArrived);
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
