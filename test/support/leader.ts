// Who leads, as both cluster harnesses read it from the nodes' GET /debug.

import type { NodeStatus } from '../../src/client/index.js';
import type { Note } from './wait.js';

/** The node that says it leads in the highest term, or null. */
export function leaderIn(infos: readonly NodeStatus[]): string | null {
  let best: NodeStatus | null = null;
  for (const d of infos) {
    if (d.state === 'leader' && (best === null || d.term > best.term)) best = d;
  }
  return best?.nodeId ?? null;
}

/**
 * The leader, when exactly one of `infos` leads, in a term past `afterTerm` (a new leader: the one
 * of that term was replaced), and every one of them names it leader in the same term (a settled
 * cluster); else null. What each node said goes to `note`, for a timeout message.
 */
export function agreedLeader(infos: readonly NodeStatus[], note?: Note, afterTerm = 0): string | null {
  note?.(infos.map((d) => `${d.nodeId}: ${d.state}, term ${d.term}, leader ${d.leaderId ?? 'none'}`));
  const leaders = infos.filter((d) => d.state === 'leader');
  if (leaders.length !== 1) return null;
  const l = leaders[0]!;
  if (l.term <= afterTerm) return null;
  return infos.every((d) => d.leaderId === l.nodeId && d.term === l.term) ? l.nodeId : null;
}
