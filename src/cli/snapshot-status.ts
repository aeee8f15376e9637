// `raftkv snapshot status FILE`: what a backup file holds and whether it is intact — read whole
// and checked, in constant memory. A damaged file still shows what its header says (marked as
// not to be trusted) and exits 1.

import { type BackupCheck, BackupFileError, checkBackupFile } from '../backup/index.js';
import type { ClusterMembership } from '../raft/index.js';
import { describeError, type Io } from './io.js';
import { exitCodes } from './kv-commands.js';
import type { StatusInvocation } from './snapshot-options.js';
import { printSnapshotResult } from './snapshot-output.js';

interface MemberRow {
  readonly id: string;
  readonly address: string | null;
  readonly role: 'voter' | 'learner';
}

function membersOf(m: ClusterMembership): MemberRow[] {
  const voters = [...new Set([...m.voters, ...m.outgoingVoters])];
  return [
    ...voters.map((id) => ({ id, address: m.addresses[id] ?? null, role: 'voter' as const })),
    ...m.learners.map((id) => ({ id, address: m.addresses[id] ?? null, role: 'learner' as const })),
  ];
}

/** The status as one JSON object (`ok` false and `problem`, `error` for a damaged file). */
export function statusJson(file: string, c: BackupCheck): Record<string, unknown> {
  const h = c.header;
  return {
    file,
    ok: c.problem === null,
    ...(c.problem !== null && { problem: c.problem.problem, error: c.problem.message }),
    formatVersion: c.formatVersion,
    clusterId: h?.clusterId ?? null,
    nodeId: h?.nodeId ?? null,
    index: h?.index ?? null,
    term: h?.term ?? null,
    keys: h?.keyCount ?? null,
    bytes: c.bytes,
    createdAt: h === null ? null : new Date(h.createdAtMs).toISOString(),
    members: h === null ? null : membersOf(h.membership),
    sha256: c.sha256,
  };
}

/** The status as aligned `name value` lines. */
export function statusText(file: string, c: BackupCheck): string {
  const h = c.header;
  const unknown = '?';
  const members =
    h === null
      ? unknown
      : membersOf(h.membership)
          .map((m) => `${m.id}=${m.address ?? unknown}${m.role === 'learner' ? ' (learner)' : ''}`)
          .join(', ');
  const rows: [string, string][] = [
    ['file', file],
    ['format', String(c.formatVersion ?? unknown)],
    ['cluster', h?.clusterId ?? unknown],
    ['index', String(h?.index ?? unknown)],
    ['term', String(h?.term ?? unknown)],
    ['keys', String(h?.keyCount ?? unknown)],
    ['bytes', String(c.bytes)],
    ['created', h === null ? unknown : `${new Date(h.createdAtMs).toISOString()} by ${h.nodeId}`],
    ['members', members],
    ['sha256', c.sha256 ?? unknown],
    ['checksum', c.problem === null ? 'ok' : `FAILED: ${c.problem.message}`],
  ];
  const lines = rows.map(([name, value]) => `${name.padEnd(9)} ${value}`);
  if (c.problem !== null && h !== null)
    lines.push('(the header above comes from a damaged file: do not trust it)');
  return `${lines.join('\n')}\n`;
}

export async function runSnapshotStatus(inv: StatusInvocation, io: Io): Promise<number> {
  let check: BackupCheck;
  try {
    check = await checkBackupFile(inv.file);
  } catch (e) {
    const message = e instanceof BackupFileError ? e.message : `cannot read it: ${describeError(e)}`;
    if (inv.json) {
      const problem = e instanceof BackupFileError ? e.problem : 'unreadable';
      io.out(`${JSON.stringify({ file: inv.file, ok: false, problem, error: message })}\n`);
    }
    io.err(`raftkv: ${inv.file}: ${message}\n`);
    return exitCodes.failed;
  }
  printSnapshotResult(io, inv.json, statusJson(inv.file, check), statusText(inv.file, check));
  if (check.problem !== null) {
    io.err(`raftkv: ${inv.file}: ${check.problem.message}\n`);
    return exitCodes.failed;
  }
  return exitCodes.ok;
}
