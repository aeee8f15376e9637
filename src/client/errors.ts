// What a call of the client can fail with. Two kinds, because they mean different things for a
// write:
//   RaftkvApiError        — the node answered, with an error status (its JSON error body: `code`,
//                           `definite`); `definite: false` means the write may still apply;
//   RaftkvConnectionError — no answer: refused, reset, timed out, or a TLS handshake that failed
//                           (its reason starts with "TLS:" and names the cause). `connected`
//                           says whether a connection was made at all; if not, the request
//                           certainly did not arrive.
// A call aborted through the caller's own AbortSignal rejects with the signal's reason instead.

import { describeTlsFailure } from './tls.js';

/** The node answered with an error status, or with something that is not the API's answer. */
export class RaftkvApiError extends Error {
  override name = 'RaftkvApiError';
  /** The API's error code (docs/errors.md), e.g. `no_leader`; null when the body has none. */
  readonly code: string | null;
  /**
   * True when the operation certainly did not take effect: the body's `definite`, or, for a body
   * that does not say (not the API's error shape), any status below 500.
   */
  readonly definite: boolean;

  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    /** The parsed JSON body (undefined when the body was not JSON). */
    readonly body: unknown,
    message?: string,
  ) {
    const error = fieldOf(body, 'error');
    const code = fieldOf(body, 'code');
    const definite = fieldOf(body, 'definite');
    super(
      message ??
        `${method} ${path}: ${status}${typeof code === 'string' ? ` ${code}` : ''}` +
          `${typeof error === 'string' ? `: ${error}` : ''}`,
    );
    this.code = typeof code === 'string' ? code : null;
    this.definite = typeof definite === 'boolean' ? definite : status < 500;
  }
}

/** A compare-and-set whose precondition did not hold (409 `precondition_failed`): nothing written. */
export class PreconditionFailedError extends RaftkvApiError {
  override name = 'PreconditionFailedError';
  /** The key's current value, null when it is absent. */
  readonly current: string | null;

  constructor(method: string, path: string, body: unknown) {
    super(method, path, 409, body);
    const value = fieldOf(body, 'value');
    this.current = typeof value === 'string' ? value : null;
  }
}

/** Connection errors with which nothing was sent, whatever the connection's state. */
const notSentCodes = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/** No answer came: the connection failed, broke, or the call's time ran out. */
export class RaftkvConnectionError extends Error {
  override name = 'RaftkvConnectionError';
  /** The system error code (ECONNREFUSED, ECONNRESET, ...), when there is one. */
  readonly code: string | undefined;

  constructor(
    readonly method: string,
    readonly url: string,
    /** Whether a connection to the node was made; false: the request certainly never arrived. */
    readonly connected: boolean,
    /** The call's time (timeoutMs) ran out, or the client's bound on connecting did. */
    readonly timedOut: boolean,
    /** What went wrong, short: "connection refused", "no answer within 3000 ms", "read ECONNRESET". */
    readonly reason: string,
    options: { readonly code?: string; readonly cause?: unknown } = {},
  ) {
    super(`${method} ${url}: ${reason}`, { cause: options.cause });
    this.code = options.code;
  }

  /**
   * Builds one from a socket error (or a timeout: `error` null) of a call to `url`. `tlsNote`: what
   * a reset may mean on this connection (a refused client certificate: see exchange.ts).
   */
  static of(
    method: string,
    url: string,
    connected: boolean,
    error: Error | null,
    timeoutMs: number,
    tlsNote?: string,
  ): RaftkvConnectionError {
    if (error === null) {
      const reason = connected ? `no answer within ${timeoutMs} ms` : `no connection within ${timeoutMs} ms`;
      return new RaftkvConnectionError(method, url, connected, true, reason);
    }
    const code = (error as NodeJS.ErrnoException).code;
    // A failed handshake: no HTTP request reached the node (its server never read one).
    const tls = describeTlsFailure(error);
    if (tls !== undefined) {
      return new RaftkvConnectionError(method, url, false, false, tls, {
        cause: error,
        ...(code !== undefined && { code }),
      });
    }
    // undici's bound on making a connection (the client's timeoutMs; connections.ts).
    if (code === 'UND_ERR_CONNECT_TIMEOUT') {
      const ms = /timeout: (\d+) ?ms/.exec(error.message)?.[1];
      const reason = ms !== undefined ? `no connection within ${ms} ms (connect timeout)` : error.message;
      return new RaftkvConnectionError(method, url, false, true, reason, { cause: error, code });
    }
    let reason: string;
    if (code === 'ECONNREFUSED') reason = 'connection refused';
    else if (code !== undefined && notSentCodes.has(code)) reason = `cannot connect (${code})`;
    else
      reason =
        code !== undefined && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
    if (code === 'ECONNRESET' && tlsNote !== undefined)
      reason = `TLS: ${tlsNote} (${error.message}, ${code})`;
    return new RaftkvConnectionError(method, url, connected, false, reason, {
      cause: error,
      ...(code !== undefined && { code }),
    });
  }
}

/** `body[name]` when `body` is a JSON object, else undefined. */
export function fieldOf(body: unknown, name: string): unknown {
  return typeof body === 'object' && body !== null && !Array.isArray(body)
    ? (body as Record<string, unknown>)[name]
    : undefined;
}
