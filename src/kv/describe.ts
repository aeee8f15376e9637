// One line per log entry for people watching the log (GET /debug?logTail, the dashboard): what
// the command does and to which key, never its value (values may be large or secret).

import { type Command, decodeCommand } from './command.js';

const MAX_KEY_CHARS = 48;

function short(key: string): string {
  return key.length <= MAX_KEY_CHARS ? key : `${key.slice(0, MAX_KEY_CHARS - 1)}…`;
}

export function describeCommand(cmd: Command): string {
  switch (cmd.op) {
    case 'put':
      return `put ${short(cmd.key)}${cmd.lease ? ` (lease ${cmd.lease})` : ''}`;
    case 'cas':
      return `compare-and-set ${short(cmd.key)}`;
    case 'delete':
      return `delete ${short(cmd.key)}`;
    case 'txn': {
      const ops = Math.max(cmd.success.length, cmd.failure.length);
      return `transaction: ${cmd.compare.length} compares, ${ops} ops`;
    }
    case 'leaseGrant':
      return `grant a lease of ${cmd.ttl} s`;
    case 'leaseKeepalive':
      return `keep lease ${cmd.id} alive`;
    case 'leaseRevoke':
      return `revoke lease ${cmd.id}`;
    case 'leaseExpire':
      return `expire lease ${cmd.id}`;
    case 'quota':
      return `quota ${cmd.bytes} bytes`;
    case 'alarm':
      return `${cmd.active ? 'raise' : 'clear'} ${cmd.node}'s no-space alarm`;
  }
}

/** The entry's command described, or why it could not be read. */
export function describeCommandBytes(data: Uint8Array): string {
  try {
    return describeCommand(decodeCommand(data));
  } catch {
    return `unreadable command (${data.length} bytes)`;
  }
}
