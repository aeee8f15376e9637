// One request to a node through the API client (src/client/), classified the way the history
// needs it:
//   answered   — the node replied (status and JSON body);
//   unsent     — no connection was made (refused, unreachable, connect timeout): the request
//                certainly did not reach the node, so it is a definite failure;
//   lost       — the request may have reached the node but no answer came (timeout, reset):
//                indeterminate.
// Each node's client opens a fresh connection per request (no keep-alive), so that a reset of a
// reused idle socket is never mistaken for an answer, and a dead node is seen as refused at once.

import { fieldOf } from '../client/errors.js';
import { type ApiRequest, type ClientTls, RaftkvClient, RaftkvConnectionError } from '../client/index.js';

/** What the runner's clients present to nodes run with TLS and auth (--secure). */
export interface ClientCredentials {
  readonly token?: string;
  readonly tls?: ClientTls;
}

export type Exchange =
  | { readonly kind: 'answered'; readonly status: number; readonly body: unknown }
  | { readonly kind: 'unsent'; readonly error: string }
  | { readonly kind: 'lost'; readonly error: string };

/** A client for the node at `url` (e.g. http://10.77.0.11:7000), as the runner needs it. */
export function nodeClient(url: string, credentials: ClientCredentials = {}): RaftkvClient {
  return new RaftkvClient(url, {
    keepAlive: false,
    ...(credentials.token !== undefined && { token: credentials.token }),
    ...(credentials.tls !== undefined && { tls: credentials.tls }),
  });
}

export async function exchange(client: RaftkvClient, req: ApiRequest, timeoutMs: number): Promise<Exchange> {
  try {
    const a = await client.send(req, { timeoutMs });
    // A body that is not JSON is kept as its text, for the report.
    return {
      kind: 'answered',
      status: a.status,
      body: a.text === '' ? null : a.body === undefined ? a.text : a.body,
    };
  } catch (e) {
    if (!(e instanceof RaftkvConnectionError)) throw e;
    if (e.timedOut) {
      return e.connected
        ? { kind: 'lost', error: `timeout after ${timeoutMs} ms` }
        : { kind: 'unsent', error: 'connect timeout' };
    }
    const error = e.code ?? (e.cause instanceof Error ? e.cause.message : e.reason);
    return e.connected ? { kind: 'lost', error } : { kind: 'unsent', error };
  }
}

/** An error answer's description for the history, e.g. "503 no_leader". */
export function describeAnswer(status: number, body: unknown): string {
  const code = fieldOf(body, 'code');
  return typeof code === 'string' ? `${status} ${code}` : String(status);
}

/** Whether an error answer says the operation certainly did not take effect. */
export function definiteFailure(status: number, body: unknown): boolean {
  if (status === 400 || status === 404 || status === 409 || status === 413) return true;
  return fieldOf(body, 'definite') === true;
}
