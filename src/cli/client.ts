// HTTP client for the client commands: global fetch, a per-attempt timeout, and failover across
// endpoints. Every write carries an Idempotency-Key, so retrying it on the next endpoint is safe.

import type { Endpoint } from './addresses.js';

export interface HttpRequest {
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Path and query, starting with `/`. */
  readonly path: string;
  readonly body?: unknown;
  readonly idempotencyKey?: string;
  readonly timeoutMs: number;
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

/** Connection errors raised before anything was sent. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** Why a fetch threw, and whether the request may have reached the server. */
export function classifyFetchError(
  e: unknown,
  timeoutMs: number,
): { reason: string; mayHaveArrived: boolean } {
  if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
    return { reason: `no answer within ${timeoutMs} ms`, mayHaveArrived: true };
  }
  const cause = e instanceof Error ? e.cause : undefined;
  const code =
    cause instanceof Error
      ? (cause as NodeJS.ErrnoException).code
      : (e as NodeJS.ErrnoException | null)?.code;
  if (code !== undefined && notSentCodes.has(code)) {
    const reason = code === 'ECONNREFUSED' ? 'connection refused' : `cannot connect (${code})`;
    return { reason, mayHaveArrived: false };
  }
  const message = cause instanceof Error ? cause.message : e instanceof Error ? e.message : String(e);
  const withCode = code !== undefined && !message.includes(code) ? `${message} (${code})` : message;
  return { reason: withCode, mayHaveArrived: true };
}

export async function requestOnce(endpoint: Endpoint, req: HttpRequest): Promise<HttpAnswer> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (req.body !== undefined) headers['content-type'] = 'application/json';
  if (req.idempotencyKey !== undefined) headers['idempotency-key'] = req.idempotencyKey;
  const res = await fetch(`${endpoint.url}${req.path}`, {
    method: req.method,
    headers,
    ...(req.body !== undefined && { body: JSON.stringify(req.body) }),
    signal: AbortSignal.timeout(req.timeoutMs),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  return { endpoint, status: res.status, body };
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
      const f = classifyFetchError(e, req.timeoutMs);
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
