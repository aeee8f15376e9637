// The bench's requests through the package's client (`--via client`): each request is one typed
// call of a ClusterClient — put, or get with the bench's consistency — so that what it costs over
// the raw path (load.ts) can be measured: the Idempotency-Key made for every write, parsing and
// checking the answer, the failover loop. Nothing of the client's semantics is turned off.
//
// One ClusterClient per endpoint, with that endpoint first in its list, and bench client c uses
// the (c mod N)th. Reads fall on the nodes as on the raw path: the client keeps reading from the
// node that answered last, so each stays on its endpoint while it answers. Writes do not: once a
// client knows the leader (a relayed answer names it) it sends its writes there itself, saving
// the follower's relay hop the raw path pays. Each keeps its connections alive, at most as many
// per node as the raw path opens.

import {
  ClusterClient,
  OutcomeUnknownError,
  RaftkvApiError,
  RaftkvConnectionError,
  type ReadOptions,
} from '../client/index.js';
import type { BenchOptions, RequestPath, Send } from './options.js';

export function clientPath(o: BenchOptions, perEndpoint: number): RequestPath {
  const clients = o.endpoints.map(
    (_, i) =>
      new ClusterClient([...o.endpoints.slice(i), ...o.endpoints.slice(0, i)], {
        // The raw path's per-request bound; here it bounds a call's attempts together.
        timeoutMs: o.timeoutMs ?? 10_000,
        keepAlive: true,
        maxSockets: perEndpoint,
        ...(o.token !== undefined && { token: o.token }),
        ...(o.tls !== undefined && { tls: o.tls }),
      }),
  );
  // Linearizable is the default: left out, the get's URL is the raw path's.
  const read: ReadOptions = o.consistency === 'stale' ? { consistency: 'stale' } : {};
  return {
    sender: (c): Send => {
      const client = clients[c % clients.length]!;
      return async (isRead, key, value) => {
        try {
          if (isRead) await client.get(key, read);
          else await client.put(key, value);
          return 'ok';
        } catch (e) {
          return errorKind(e);
        }
      };
    },
    close: () => {
      for (const client of clients) client.close();
    },
  };
}

/**
 * The kind a failed call is counted under, named as the raw path names it (`http 503`,
 * `ECONNREFUSED`, `timeout`), so the two reports' errors compare. A call fails only after the
 * client's retries: a write whose outcome stayed unknown until its time ran out counts under the
 * last failure it saw (OutcomeUnknownError keeps only that one) — which is `timeout` when the
 * deadline cut the last attempt short, whatever the attempts before it saw.
 */
export function errorKind(e: unknown): string {
  if (e instanceof OutcomeUnknownError) return errorKind(e.cause);
  if (e instanceof RaftkvApiError) {
    // A 200 the client could not read as the API's answer: the raw path would have counted it ok.
    return e.status === 200 ? 'unexpected answer' : `http ${e.status}`;
  }
  if (e instanceof RaftkvConnectionError) return e.timedOut ? 'timeout' : (e.code ?? e.reason);
  if (e instanceof Error) return (e as NodeJS.ErrnoException).code ?? e.message;
  return String(e);
}
