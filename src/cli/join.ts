// `raftkv start --join`: a brand-new node joins a running cluster (docs/membership.md). It asks
// any member it is given for the cluster's id and members, starts knowing no membership of its
// own (it dials the members, and never campaigns until the cluster's log makes it a voter), then
// asks to be added as a learner — promoted by the leader once caught up, unless --learner. A
// node restarted with --join on its data dir that the cluster already lists is not added again.

import { setTimeout } from 'node:timers/promises';
import { type MembersResult, RaftkvApiError, RaftkvClient, type ReadOptions } from '../client/index.js';
import type { HostPort } from '../node/options.js';
import { type Endpoint, formatHostPort, parseHostPort } from './addresses.js';
import { type Credentials, clientOptionsOf } from './connection-options.js';
import { describeError } from './io.js';

export interface JoinPlan {
  /** Members to ask, in order. */
  readonly endpoints: readonly Endpoint[];
  /** Where the other members and clients reach this node. */
  readonly advertise: HostPort;
  /** Stay a learner (no automatic promotion). */
  readonly learner: boolean;
  /** The node's own token and TLS files, for its requests to the members. */
  readonly credentials?: Credentials;
}

export interface ClusterView {
  readonly clusterId: string;
  /** Each member's id and address. */
  readonly members: Readonly<Record<string, HostPort>>;
  /** The index of the committed configuration's entry; 0 while the membership never changed. */
  readonly index: number;
}

export class JoinError extends Error {
  override readonly name = 'JoinError';
}

/**
 * The cluster's committed membership (`GET /cluster/members`: ids, addresses, roles, the
 * configuration's index and the cluster's id), from the first of `endpoints` that answers;
 * linearizable unless `read` asks for a member's own view.
 */
export async function membersFrom(
  endpoints: readonly Endpoint[],
  timeoutMs: number,
  read: ReadOptions = {},
  credentials: Credentials = {},
): Promise<MembersResult> {
  const failures: string[] = [];
  for (const endpoint of endpoints) {
    const client = new RaftkvClient(endpoint.url, {
      keepAlive: false,
      timeoutMs,
      ...clientOptionsOf(credentials),
    });
    try {
      return await client.members(read);
    } catch (e) {
      failures.push(`${endpoint.label}: ${describeError(e)}`);
    } finally {
      client.close();
    }
  }
  throw new JoinError(`no member answered with the cluster's members (${failures.join('; ')})`);
}

/**
 * The cluster's id and members, from the first of `plan.endpoints` that answers. A member
 * `restarting` on its own data takes a member's own view (`consistency=stale`) when none can
 * answer linearizably: the cluster may have no leader until this member is back (when a majority
 * restarts at once, say), and what the view is used for — who to dial, whether this node is
 * listed — is as good from a member's view as it is a moment after a linearizable read. A new
 * node has no such excuse: it waits for a leader, which must add it anyway.
 */
export async function discoverCluster(
  plan: JoinPlan,
  timeoutMs: number,
  options: { readonly restarting?: boolean } = {},
): Promise<ClusterView> {
  let answer: MembersResult;
  try {
    answer = await membersFrom(plan.endpoints, timeoutMs, {}, plan.credentials);
  } catch (e) {
    if (!options.restarting) throw e;
    answer = await membersFrom(plan.endpoints, timeoutMs, { consistency: 'stale' }, plan.credentials);
  }
  const members: Record<string, HostPort> = {};
  try {
    for (const m of answer.members) members[m.id] = parseHostPort(m.address, `member ${m.id}'s address`);
  } catch (e) {
    throw new JoinError(`the cluster's members are not understood: ${describeError(e)}`);
  }
  return { clusterId: answer.clusterId, members, index: answer.index };
}

/**
 * Asks the cluster to add `id` (at plan.advertise) as a learner, trying each endpoint, and again
 * while another change or a leader election holds the request back, until `deadlineMs`.
 */
export async function requestAddition(plan: JoinPlan, id: string, deadlineMs: number): Promise<void> {
  const address = formatHostPort(plan.advertise);
  let last = 'no member answered';
  while (Date.now() < deadlineMs) {
    for (const endpoint of plan.endpoints) {
      const client = new RaftkvClient(endpoint.url, {
        keepAlive: false,
        timeoutMs: 10_000,
        ...clientOptionsOf(plan.credentials ?? {}),
      });
      try {
        await client.addMember(id, address, { learner: plan.learner });
        return;
      } catch (e) {
        last = `${endpoint.label}: ${describeError(e)}`;
        if (e instanceof RaftkvApiError) {
          if (e.code === 'member_exists')
            throw new JoinError(`the cluster refused to add ${id}: ${e.message}`);
          if (e.code !== 'membership_change_in_progress' && e.status < 500) {
            throw new JoinError(`the cluster refused to add ${id}: ${e.message} (${e.code})`);
          }
        }
      } finally {
        client.close();
      }
    }
    await setTimeout(500);
  }
  throw new JoinError(`could not be added before the deadline: ${last}`);
}
