// The node's own calls to another node's HTTP API, made as any client makes them: its no-space
// alarm handed to the leader (a follower does not propose). They carry the node's own credentials
// (NodeOptions.ownCalls): with an auth file on the nodes, an admin's token — without one the
// leader answers 401 and the alarm never reaches the log — and for https, the CA and client
// certificate to use (docs/security.md, "Nodes' own calls").

import { RaftkvClient } from '../client/index.js';
import type { NodeOptions } from '../node/options.js';

/**
 * The scheme of the other nodes' HTTP API, whose addresses carry none: https when the node was
 * given TLS credentials for its own calls (a cluster's nodes all serve the same scheme).
 */
export function ownCallScheme(options: NodeOptions): 'http' | 'https' {
  return options.ownCalls?.tls !== undefined ? 'https' : 'http';
}

/** A client of the node at `address` (`host:port`) carrying this node's credentials. */
export function ownCallClient(options: NodeOptions, address: string, timeoutMs: number): RaftkvClient {
  const own = options.ownCalls ?? {};
  return new RaftkvClient(`${ownCallScheme(options)}://${address}`, {
    keepAlive: false,
    timeoutMs,
    ...(own.token !== undefined && { token: own.token }),
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
  await ownCallClient(options, leader, timeoutMs).setAlarm(alarm.node, alarm.active);
}
