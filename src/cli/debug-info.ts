// GET /debug answers as the CLI reads them (status table, cluster supervisor), and who leads.

import { isRecord } from './client.js';

export interface DebugInfo {
  readonly nodeId: string;
  readonly state: string;
  readonly term: number;
  readonly leaderId: string | null;
  readonly commitIndex: number;
  readonly lastApplied: number;
  /** Whether writes that grow the state are refused, and why ('ok' when not; '-' when not reported). */
  readonly space: string;
  /** The node's part in the membership in force: voter, learner, leaving (an outgoing voter), none. */
  readonly role: string;
  /** The membership in force as "voters [& outgoing voters] [+learners]" ('-' when not reported). */
  readonly members: string;
}

/** The fields the CLI shows; undefined when the body is not a /debug answer. */
export function parseDebug(body: unknown): DebugInfo | undefined {
  if (!isRecord(body)) return undefined;
  const { nodeId, state, term, leaderId, commitIndex, lastApplied, space, membership } = body;
  if (typeof nodeId !== 'string' || typeof state !== 'string' || typeof term !== 'number') return undefined;
  return {
    nodeId,
    state,
    term,
    leaderId: typeof leaderId === 'string' && leaderId !== '' ? leaderId : null,
    commitIndex: typeof commitIndex === 'number' ? commitIndex : Number.NaN,
    lastApplied: typeof lastApplied === 'number' ? lastApplied : Number.NaN,
    space: spaceOf(space),
    ...membershipOf(membership, nodeId),
  };
}

const ids = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x) => typeof x === 'string') : []);

/** The ROLE and MEMBERS columns, from /debug's membership (docs/membership.md). */
function membershipOf(m: unknown, self: string): { role: string; members: string } {
  if (!isRecord(m)) return { role: '-', members: '-' };
  const voters = ids(m.voters);
  const outgoing = ids(m.outgoingVoters);
  const learners = ids(m.learners);
  const role = voters.includes(self)
    ? 'voter'
    : learners.includes(self)
      ? 'learner'
      : outgoing.includes(self)
        ? 'leaving'
        : 'none';
  let members = voters.join(',');
  if (outgoing.length > 0) members += ` & ${outgoing.join(',')}`;
  if (learners.length > 0) members += ` +${learners.join(',+')}`;
  if (m.committed === false) members += ' (uncommitted)';
  return { role, members: members === '' ? '(none yet)' : members };
}

/** The SPACE column: the no-space alarm's nodes, a full quota, or ok (docs/space.md). */
function spaceOf(space: unknown): string {
  if (!isRecord(space)) return '-';
  const alarms = Array.isArray(space.alarms) ? space.alarms.filter((a) => typeof a === 'string') : [];
  if (alarms.length > 0) return `no_space: ${alarms.join(',')} low on disk`;
  if (space.refusing === true) return 'no_space: quota full';
  return 'ok';
}

export interface Leadership {
  readonly leaderId: string;
  readonly term: number;
}

/**
 * The leader of the highest term any node reports: a node saying it leads, else the leader the
 * nodes of that term name. Undefined when no node of the highest term knows one.
 */
export function leaderOf(infos: readonly DebugInfo[]): Leadership | undefined {
  if (infos.length === 0) return undefined;
  const term = Math.max(...infos.map((i) => i.term));
  const current = infos.filter((i) => i.term === term);
  const self = current.find((i) => i.state === 'leader');
  if (self) return { leaderId: self.nodeId, term };
  const named = current.find((i) => i.leaderId !== null);
  return named ? { leaderId: named.leaderId!, term } : undefined;
}

export function sameLeadership(a: Leadership | undefined, b: Leadership | undefined): boolean {
  return a?.leaderId === b?.leaderId && a?.term === b?.term;
}

function cell(n: number): string {
  return Number.isNaN(n) ? '-' : String(n);
}

/** A fixed-width table: one header row, then rows; the last column is not padded. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  // A row's last cell may run long (an error message) without widening its column.
  const widths = header.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => (c < r.length - 1 ? r[c]!.length : 0))),
  );
  const line = (r: readonly string[]): string =>
    r
      .map((v, c) => (c === r.length - 1 ? v : v.padEnd(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [header, ...rows].map(line).join('\n') + '\n';
}

export interface StatusRow {
  readonly endpoint: string;
  readonly info?: DebugInfo;
  readonly error?: string;
}

export function formatStatusTable(rows: readonly StatusRow[]): string {
  const header = [
    'ENDPOINT',
    'ID',
    'STATE',
    'ROLE',
    'TERM',
    'LEADER',
    'COMMIT',
    'APPLIED',
    'SPACE',
    'MEMBERS',
  ];
  return formatTable(
    header,
    rows.map((r) =>
      r.info
        ? [
            r.endpoint,
            r.info.nodeId,
            r.info.state,
            r.info.role,
            String(r.info.term),
            r.info.leaderId ?? '-',
            cell(r.info.commitIndex),
            cell(r.info.lastApplied),
            r.info.space,
            r.info.members,
          ]
        : [r.endpoint, `unreachable: ${r.error ?? 'unknown error'}`],
    ),
  );
}
