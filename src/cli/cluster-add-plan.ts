// `raftkv cluster add`: which node to run — id, address, data dir, command line — from what the
// user asked, the running cluster's members and what the data dir holds; or why not. Pure.
//
// A new id gets a fresh node that joins. An id the cluster already lists is restarted on its data
// dir (with --join, which does not add it again). Every case in which the node would refuse to
// start, or would start wrong, is refused here first, saying what to do instead: a node that is
// not a member never rejoins with the data it had, and a member never comes back without it.

import { join } from 'node:path';
import { formatHostPort, type HostPort, parseHostPort } from '../api/addresses.js';
import type { MembersResult } from '../client/index.js';
import type { ClusterAddRequest } from './cluster-add-options.js';
import { startArgv } from './cluster-add-options.js';
import type { DataDirState } from './data-dir-state.js';
import { shellQuote } from './io.js';

export type Member = MembersResult['members'][number];

/** The node cannot be run as asked; the message says why and what to do. */
export class AdditionRefused extends Error {
  override name = 'AdditionRefused';
}

export interface AdditionPlan {
  readonly id: string;
  /** Where it listens and is reached: `host:port`. */
  readonly address: string;
  readonly url: string;
  readonly dataDir: string;
  /** Set when the id is already a member: its node is restarted, not added again. */
  readonly member?: Member;
  /** Arguments after the CLI script: `start --id ...`. */
  readonly argv: readonly string[];
}

/** `n<i>` one past the highest `n<number>` among the members (`n1` if there is none). */
export function nextFreeId(members: readonly Member[]): string {
  let highest = 0;
  for (const m of members) {
    const match = /^n(\d+)$/.exec(m.id);
    if (match) highest = Math.max(highest, Number(match[1]));
  }
  return `n${highest + 1}`;
}

/** One past the highest port of the members on `host`; undefined when none is on it. */
export function nextFreePort(members: readonly Member[], host: string): number | undefined {
  const ports = members.flatMap((m) => {
    const a = parseHostPort(m.address);
    return a !== null && a.host === host ? [a.port] : [];
  });
  return ports.length === 0 ? undefined : Math.max(...ports) + 1;
}

export function planAddition(
  req: ClusterAddRequest,
  answer: MembersResult,
  dataDirState: (dir: string) => DataDirState,
): AdditionPlan {
  const id = req.id ?? nextFreeId(answer.members);
  const dataDir = join(req.dataDir, id);
  const state = dataDirState(dataDir);
  const member = answer.members.find((m) => m.id === id);
  const at = member === undefined ? newAddress(req, answer.members) : memberAddress(req, member);
  if (member === undefined) checkFreshDataDir(id, dataDir, state, answer.clusterId);
  else checkMemberDataDir(member, dataDir, state, answer);
  const address = formatHostPort(at);
  return {
    id,
    address,
    url: `http://${address}`,
    dataDir,
    ...(member !== undefined && { member }),
    argv: startArgv(req, { id, address, dataDir }),
  };
}

function newAddress(req: ClusterAddRequest, members: readonly Member[]): HostPort {
  const port = req.port ?? nextFreePort(members, req.host);
  if (port === undefined) {
    const where = members.map((m) => m.address).join(', ');
    throw new AdditionRefused(`no member is on ${req.host} (they are at ${where}): give --port, or --host`);
  }
  if (port > 65535) throw new AdditionRefused(`port ${port} is past 65535: give --port`);
  const at = { host: req.host, port };
  const taken = members.find((m) => m.address === formatHostPort(at));
  if (taken !== undefined) {
    throw new AdditionRefused(`${taken.address} is member ${taken.id}'s address: give another --port`);
  }
  return at;
}

/** A member restarts where the cluster reaches it; asking for another address is a mistake. */
function memberAddress(req: ClusterAddRequest, member: Member): HostPort {
  const at = parseHostPort(member.address);
  if (at === null)
    throw new AdditionRefused(`member ${member.id}'s address "${member.address}" is not HOST:PORT`);
  if ((req.hostGiven && req.host !== at.host) || (req.port !== undefined && req.port !== at.port)) {
    throw new AdditionRefused(
      `${member.id} is already a member, at ${member.address}: leave out --host and --port to ` +
        'restart it there, or give another --id for a new node',
    );
  }
  return at;
}

function checkFreshDataDir(id: string, dir: string, state: DataDirState, clusterId: string): void {
  if (state.kind === 'fresh') return;
  const fix = `Remove the directory (rm -r ${shellQuote(dir)}) to add ${id} afresh, or give another --id or --data-dir.`;
  if (state.kind === 'unknown') throw new AdditionRefused(`${dir} ${state.why}. ${fix}`);
  const { nodeId, clusterId: owner } = state.identity;
  const whose = owner === clusterId ? `node ${nodeId}` : `node ${nodeId} of another cluster (${owner})`;
  throw new AdditionRefused(
    `${dir} holds the data of ${whose}, which is not a member of this cluster (removed, or never ` +
      `added); a node does not come back with the data it had. ${fix}`,
  );
}

function checkMemberDataDir(member: Member, dir: string, state: DataDirState, answer: MembersResult): void {
  const { id } = member;
  if (state.kind === 'fresh') {
    throw new AdditionRefused(
      `${id} is already a member (${member.role}), but ${dir} holds no data: a member must not ` +
        `come back without the log it acknowledged. If its data is elsewhere, give that --data-dir. ` +
        `To replace it instead: raftkv member remove ${id}, then raftkv cluster add (a new node).`,
    );
  }
  if (state.kind === 'unknown') throw new AdditionRefused(`${id} is a member, but ${dir} ${state.why}.`);
  const { nodeId, clusterId } = state.identity;
  if (nodeId !== id || clusterId !== answer.clusterId) {
    throw new AdditionRefused(
      `${dir} holds the data of node ${nodeId} of cluster ${clusterId}, not of member ${id} of ` +
        `cluster ${answer.clusterId}: give the --data-dir that holds ${id}`,
    );
  }
}
