// Cluster membership and how it changes (thesis chapter 4). A configuration is a log entry that
// holds the whole membership after the change; a node uses the latest one in its log, committed
// or not (§4.1), so a change is in effect from the moment it is appended — and a node whose log
// loses that entry to a leader's overwrite goes back to the one before.
//
// As etcd-io/raft's automatic transition does: a change of at most one voter takes one entry
// (§4.2: every majority of the old voters meets every majority of the new ones, so the two cannot
// decide apart — provided one change is in flight at a time and the leader has committed an entry
// of its own term first, the fix for the single-server bug of 2015; leader.ts enforces both).
// A change of more voters — a replace: one in, one out — goes through joint consensus (§4.3): the
// first entry enters the joint configuration (the new voters, with the old ones as
// `outgoingVoters`: every decision needs a majority of each), and once it commits the leader
// appends the second, which leaves it; the replace is one atomic step. Learners receive the log
// but never vote, never count toward commitment and never campaign, so they change no quorum.

import { assert } from '../assert.js';
import type { ClusterMembership, MemberChange, MembershipRefusal, NodeId } from './types.js';

/** The core's name for a cluster membership (types.ts). */
export type Membership = ClusterMembership;

/** A bootstrap membership: these voters, no learners, not joint. */
export function initialMembership(
  addresses: Readonly<Record<NodeId, string>> | readonly NodeId[],
): Membership {
  if (Array.isArray(addresses))
    return { voters: [...addresses], outgoingVoters: [], learners: [], autoPromote: [], addresses: {} };
  const record = addresses as Readonly<Record<NodeId, string>>;
  return {
    voters: Object.keys(record),
    outgoingVoters: [],
    learners: [],
    autoPromote: [],
    addresses: { ...record },
  };
}

export function isJoint(m: Membership): boolean {
  return m.outgoingVoters.length > 0;
}

/** Voters of either set, each once. */
export function allVoters(m: Membership): NodeId[] {
  const out = [...m.voters];
  for (const id of m.outgoingVoters) if (!out.includes(id)) out.push(id);
  return out;
}

/** Every member: voters of either set, then learners. */
export function allMembers(m: Membership): NodeId[] {
  const out = allVoters(m);
  for (const id of m.learners) if (!out.includes(id)) out.push(id);
  return out;
}

export function isMember(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.outgoingVoters.includes(id) || m.learners.includes(id);
}

/** A voter of either set: it may campaign and its vote counts (§4.3). */
export function isVoter(m: Membership, id: NodeId): boolean {
  return m.voters.includes(id) || m.outgoingVoters.includes(id);
}

/**
 * The membership after `changes`, or why they cannot be made. The caller has checked that no
 * other change is in flight (the membership is not joint).
 */
export function changeMembership(
  current: Membership,
  changes: readonly MemberChange[],
): { readonly membership: Membership } | { readonly refused: MembershipRefusal } {
  assert(!isJoint(current), 'a change was started while another one is in flight');
  if (changes.length === 0) return { refused: { reason: 'NoChange' } };
  const voters = [...current.voters];
  const learners = [...current.learners];
  const autoPromote = [...current.autoPromote];
  const dropAutoPromote = (id: NodeId): void => {
    if (autoPromote.includes(id)) autoPromote.splice(autoPromote.indexOf(id), 1);
  };
  const addresses: Record<NodeId, string> = { ...current.addresses };
  for (const change of changes) {
    const id = change.id;
    const member = voters.includes(id) || learners.includes(id);
    switch (change.kind) {
      case 'addLearner':
      case 'addVoter': {
        if (member) return { refused: { reason: 'MemberExists', id } };
        const holder = Object.entries(addresses).find(([, a]) => a === change.address);
        if (holder) return { refused: { reason: 'AddressInUse', id: holder[0], address: change.address } };
        (change.kind === 'addVoter' ? voters : learners).push(id);
        if (change.kind === 'addLearner' && change.autoPromote === true) autoPromote.push(id);
        addresses[id] = change.address;
        break;
      }
      case 'promote': {
        if (!member) return { refused: { reason: 'MemberNotFound', id } };
        if (!learners.includes(id)) return { refused: { reason: 'NotALearner', id } };
        learners.splice(learners.indexOf(id), 1);
        dropAutoPromote(id);
        voters.push(id);
        break;
      }
      case 'remove': {
        if (!member) return { refused: { reason: 'MemberNotFound', id } };
        dropAutoPromote(id);
        if (learners.includes(id)) learners.splice(learners.indexOf(id), 1);
        else {
          if (voters.length === 1) return { refused: { reason: 'LastVoter', id } };
          voters.splice(voters.indexOf(id), 1);
        }
        // A voter being removed keeps its address until the joint phase is left: the outgoing
        // majority still needs to hear from it.
        if (!current.voters.includes(id)) delete addresses[id];
        break;
      }
    }
  }
  const differing =
    voters.filter((id) => !current.voters.includes(id)).length +
    current.voters.filter((id) => !voters.includes(id)).length;
  if (differing <= 1) {
    // Learners only, or one voter in or out: any majority of the old voters and any majority of
    // the new ones share a voter, so one step is safe (§4.2) — given one change at a time and the
    // leader's own-term commit first (leader.ts). A removed voter's address goes with it.
    for (const id of current.voters) if (!voters.includes(id)) delete addresses[id];
    return { membership: { voters, outgoingVoters: [], learners, autoPromote, addresses } };
  }
  return { membership: { voters, outgoingVoters: [...current.voters], learners, autoPromote, addresses } };
}

/** §4.3, the second step: the joint configuration committed; only the new voters decide now. */
export function leaveJoint(m: Membership): Membership {
  assert(isJoint(m), 'leaving a joint configuration that is not joint');
  const addresses: Record<NodeId, string> = {};
  for (const id of [...m.voters, ...m.learners]) {
    const a = m.addresses[id];
    if (a !== undefined) addresses[id] = a;
  }
  return {
    voters: m.voters,
    outgoingVoters: [],
    learners: m.learners,
    autoPromote: m.autoPromote,
    addresses,
  };
}

function sameMembers(a: readonly NodeId[], b: readonly NodeId[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}

export function sameMembership(a: Membership, b: Membership): boolean {
  return (
    sameMembers(a.voters, b.voters) &&
    sameMembers(a.outgoingVoters, b.outgoingVoters) &&
    sameMembers(a.learners, b.learners) &&
    sameMembers(a.autoPromote, b.autoPromote) &&
    Object.keys(a.addresses).length === Object.keys(b.addresses).length &&
    Object.entries(a.addresses).every(([id, address]) => b.addresses[id] === address)
  );
}

// --- The entry that carries a configuration -------------------------------------------------
//
// JSON, so that a hex dump of the WAL shows it and so that the core needs no codec of its own;
// `v` versions the shape.

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMembership(m: Membership): Uint8Array {
  return encoder.encode(
    JSON.stringify({
      v: 1,
      voters: m.voters,
      outgoingVoters: m.outgoingVoters,
      learners: m.learners,
      autoPromote: m.autoPromote,
      addresses: m.addresses,
    }),
  );
}

export class MembershipDecodeError extends Error {
  override readonly name = 'MembershipDecodeError';
}

function idList(value: unknown, field: string): NodeId[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new MembershipDecodeError(`configuration entry: ${field} must be a list of node ids`);
  }
  return value as NodeId[];
}

export function decodeMembership(data: Uint8Array): Membership {
  let parsed: unknown;
  try {
    parsed = JSON.parse(decoder.decode(data));
  } catch (e) {
    throw new MembershipDecodeError(`configuration entry is not JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null) {
    throw new MembershipDecodeError('configuration entry must be a JSON object');
  }
  const o = parsed as Record<string, unknown>;
  if (o.v !== 1) throw new MembershipDecodeError(`configuration entry of unknown version ${String(o.v)}`);
  const addresses = o.addresses;
  if (
    typeof addresses !== 'object' ||
    addresses === null ||
    Array.isArray(addresses) ||
    !Object.values(addresses).every((a) => typeof a === 'string')
  ) {
    throw new MembershipDecodeError('configuration entry: addresses must map node ids to strings');
  }
  return {
    voters: idList(o.voters, 'voters'),
    outgoingVoters: idList(o.outgoingVoters, 'outgoingVoters'),
    learners: idList(o.learners, 'learners'),
    autoPromote: idList(o.autoPromote, 'autoPromote'),
    addresses: addresses as Record<NodeId, string>,
  };
}
