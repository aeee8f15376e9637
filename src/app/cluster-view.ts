// GET /ui/state (docs/dashboard.md): the node that serves the dashboard asks every member for its
// GET /debug with the tail of its log, and answers with all of them at once — so the page talks to
// one origin, and a member that does not answer shows as unreachable instead of stalling the page.
// The caller's Authorization goes with each question (each member checks it itself, as for a
// forwarded write); the transport is the node's own calls' (scheme, CA, client certificate).
// Nothing runs while no one asks: the view is built per request.

import type { KvService, Member } from '../api/service.js';
import { RaftkvClient } from '../client/index.js';
import type { NodeOptions } from '../node/options.js';
import { ownCallScheme } from './own-calls.js';

/** Entries of each member's log the dashboard shows. */
export const viewLogTail = 24;
/** A member that has not answered in this long is shown as unreachable. */
const memberTimeoutMs = 800;

export interface MemberView {
  readonly id: string;
  readonly address: string;
  readonly role: Member['role'];
  /** It answered GET /debug (whatever it said). */
  readonly reachable: boolean;
  /** Why there is no status: no answer, or the answer's error. */
  readonly error: string | null;
  /** Its GET /debug?logTail=…, or null. */
  readonly status: unknown;
}

export interface ClusterView {
  readonly servedBy: string;
  /** Wall-clock milliseconds when the view was put together (for the page's timeline). */
  readonly at: number;
  /** The leader as the serving node knows it, and the membership's configuration index. */
  readonly leaderId: string | null;
  readonly membershipIndex: number;
  readonly members: readonly MemberView[];
}

export function clusterView(
  service: KvService,
  options: NodeOptions,
  now: () => number,
): (authorization: string | undefined) => Promise<ClusterView> {
  return async (authorization) => {
    const m = await service.members('stale', now() + memberTimeoutMs);
    const members = await Promise.all(
      m.members.map((member) =>
        member.id === service.nodeId
          ? { ...member, reachable: true, error: null, status: service.debug({ logTail: viewLogTail }) }
          : askMember(member, options, authorization),
      ),
    );
    return {
      servedBy: service.nodeId,
      at: Date.now(),
      leaderId: m.leaderId,
      membershipIndex: m.index,
      members,
    };
  };
}

async function askMember(
  member: Member,
  options: NodeOptions,
  authorization: string | undefined,
): Promise<MemberView> {
  const tls = options.ownCalls?.tls;
  const client = new RaftkvClient(`${ownCallScheme(options)}://${member.address}`, {
    keepAlive: false,
    timeoutMs: memberTimeoutMs,
    ...(tls !== undefined && { tls }),
  });
  try {
    const a = await client.send({
      method: 'GET',
      path: `/debug?logTail=${viewLogTail}`,
      ...(authorization !== undefined && { headers: { authorization } }),
    });
    if (a.status === 200) return { ...member, reachable: true, error: null, status: a.body ?? null };
    const body = a.body as { error?: unknown } | undefined;
    const why = typeof body?.error === 'string' ? body.error : a.text.slice(0, 200);
    return { ...member, reachable: true, error: `HTTP ${a.status}: ${why}`, status: null };
  } catch (e) {
    return { ...member, reachable: false, error: e instanceof Error ? e.message : String(e), status: null };
  }
}
