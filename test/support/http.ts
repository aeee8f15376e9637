// HTTP in the tests: the API client (src/client/) with the answer as tests read it, and two raw
// probes for requests the client never makes — a body sent in chunks, a body held halfway.

import http from 'node:http';
import { type Answer as ClientAnswer, RaftkvClient, RaftkvConnectionError } from '../../src/client/index.js';
import { LOOPBACK } from './ports.js';

/** An HTTP answer as assertions read it. */
export interface Answer {
  readonly status: number;
  /** The parsed JSON body; null when it is empty or not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: test assertions read arbitrary JSON fields
  readonly body: any;
  readonly text: string;
  readonly headers: http.IncomingHttpHeaders;
}

export interface RequestOptions {
  /** A JSON-serialisable value, or a string/Buffer sent as is. */
  readonly body?: unknown;
  readonly headers?: Readonly<Record<string, string>>;
  /** Client-side bound on the whole exchange (default: the client's). */
  readonly timeoutMs?: number;
}

/**
 * A client as the harnesses use it: a fresh connection per request (a node killed and restarted
 * under it never leaves a stale pooled socket), and a 20 s bound per call by default; with
 * `token`, the bearer token of a node that runs with an auth file.
 */
export function testClient(url: string, timeoutMs = 20_000, token?: string): RaftkvClient {
  return new RaftkvClient(url, { keepAlive: false, timeoutMs, ...(token !== undefined && { token }) });
}

/**
 * Any request, any answer: resolves with whatever the node answered, rejects with a
 * RaftkvConnectionError when nothing came (for a write: outcome unknown, unless it says that no
 * connection was made).
 */
export async function request(
  client: RaftkvClient,
  method: string,
  path: string,
  options: RequestOptions = {},
): Promise<Answer> {
  const { body, headers, timeoutMs } = options;
  const raw = typeof body === 'string' || Buffer.isBuffer(body);
  const a = await client.send(
    {
      method,
      path,
      ...(body !== undefined && (raw ? { rawBody: body as string | Buffer } : { body })),
      ...(headers !== undefined && { headers }),
    },
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  return answerOf(a);
}

export function answerOf(a: ClientAnswer): Answer {
  return { status: a.status, body: a.body ?? null, text: a.text, headers: a.headers };
}

/** True if `e` (from a call) says the request never reached the node: no connection was made. */
export function neverArrived(e: unknown): boolean {
  return e instanceof RaftkvConnectionError && !e.connected && !e.timedOut;
}

export function describeError(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause = (e as { cause?: unknown }).cause;
  return cause instanceof Error && !e.message.includes(cause.message)
    ? `${e.message}: ${cause.message}`
    : e.message;
}

// ---------------------------------------------------------------------------------------------
// Raw probes (loopback, node:http, a fresh connection each)

function rawRequest(
  port: number,
  method: string,
  path: string,
  headers: http.OutgoingHttpHeaders,
): { readonly req: http.ClientRequest; readonly answered: Promise<Answer> } {
  let req!: http.ClientRequest;
  const answered = new Promise<Answer>((resolve, reject) => {
    req = http.request({ host: LOOPBACK, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = null;
        try {
          body = text.length > 0 ? JSON.parse(text) : null;
        } catch {
          // Not JSON: the test that reads it says so.
        }
        resolve({ status: res.statusCode ?? 0, body, text, headers: res.headers });
      });
    });
    req.on('error', reject);
  });
  return { req, answered };
}

/** A request whose body goes out with chunked encoding (no Content-Length), in several writes. */
export function sendChunked(
  port: number,
  method: string,
  path: string,
  body: Buffer,
  timeoutMs = 20_000,
): Promise<Answer> {
  const { req, answered } = rawRequest(port, method, path, { 'content-type': 'application/json' });
  req.setTimeout(timeoutMs, () =>
    req.destroy(new Error(`${method} ${path} on port ${port}: client timeout`)),
  );
  const step = 64 * 1024;
  for (let i = 0; i < body.length; i += step) req.write(body.subarray(i, i + step));
  req.end();
  return answered;
}

export interface HeldPut {
  /** Sends the rest of the body; resolves with the answer. */
  finish(): Promise<Answer>;
  /** The answer, whenever it comes (also without finish(): a refusal or a timeout). */
  readonly answered: Promise<Answer>;
}

/**
 * Starts a PUT whose body stops halfway: the node counts the request from its headers, but proposes
 * nothing until finish() sends the rest (a deterministic way to hold a request in flight).
 */
export function holdPut(port: number, key: string, value: string): HeldPut {
  const body = JSON.stringify({ key, value });
  const half = Math.floor(body.length / 2);
  const { req, answered } = rawRequest(port, 'POST', '/kv', {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
  });
  req.write(body.slice(0, half));
  return {
    answered,
    finish: () => {
      req.end(body.slice(half));
      return answered;
    },
  };
}
