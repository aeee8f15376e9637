// The node's own calls to another node's HTTP API, made as any client makes them: its no-space
// alarm handed to the leader (a follower does not propose). They carry the node's own credentials
// (NodeOptions.ownCalls): with an auth file on the nodes, an admin's token — without one the
// leader answers 401 and the alarm never reaches the log — and for https, the CA and client
// certificate to use (docs/security.md, "Nodes' own calls"). The dashboard's questions to the
// other members (cluster-view.ts) go the same way, but with their caller's Authorization instead
// of the node's token.

import { RaftkvClient } from '../client/index.js';
import type { NodeOptions } from '../node/options.js';

/**
 * The scheme of the other nodes' HTTP API, whose addresses carry none: https when the node was
 * given TLS credentials for its own calls (a cluster's nodes all serve the same scheme).
 */
export function ownCallScheme(options: NodeOptions): 'http' | 'https' {
  return options.ownCalls?.tls !== undefined ? 'https' : 'http';
}

export interface OwnCallClientOptions {
  /** Bound on each call that sets none of its own (default: the client's). */
  readonly timeoutMs?: number;
  /** Reuse connections (the caller close()s the client); default false: a fresh one per call. */
  readonly keepAlive?: boolean;
  /**
   * Send the node's own token (default true). False for calls made on a caller's behalf, each
   * carrying the caller's Authorization, so that they can do no more than the caller may.
   */
  readonly ownToken?: boolean;
}

/** A client of the node at `address` (`host:port`), reached as this node reaches the others. */
export function ownCallClient(
  options: NodeOptions,
  address: string,
  call: OwnCallClientOptions = {},
): RaftkvClient {
  const own = options.ownCalls ?? {};
  const token = call.ownToken === false ? undefined : own.token;
  return new RaftkvClient(`${ownCallScheme(options)}://${address}`, {
    keepAlive: call.keepAlive ?? false,
    ...(call.timeoutMs !== undefined && { timeoutMs: call.timeoutMs }),
    ...(token !== undefined && { token }),
    ...(own.tls !== undefined && { tls: own.tls }),
  });
}

/** Asks the leader at `leader` to raise or clear `node`'s no-space alarm; throws its refusal. */
export async function alarmToLeader(
  options: NodeOptions,
  leader: string,
  alarm: { readonly node: string; readonly active: boolean },
  timeoutMs: number,
): Promise<void> {
  await ownCallClient(options, leader, { timeoutMs }).setAlarm(alarm.node, alarm.active);
}
