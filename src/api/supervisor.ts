// The shapes of `raftkv cluster`'s control API (docs/cli.md, "Killing and restarting nodes"),
// shared by the supervisor that serves it (src/cli/supervisor-control.ts), the exercises that
// call it (src/exercise/) and the node that passes the dashboard's buttons on to it.

/** What can be done to a node: SIGKILL (a crash), SIGTERM (a graceful stop), or stop-then-start. */
export const nodeActions = ['kill', 'stop', 'restart'] as const;
export type NodeAction = (typeof nodeActions)[number];

export function isNodeAction(x: unknown): x is NodeAction {
  return typeof x === 'string' && (nodeActions as readonly string[]).includes(x);
}

/** One node as GET /nodes shows it. */
export interface SupervisedNode {
  readonly id: string;
  /** The running process's PID; null while it is down. */
  readonly pid: number | null;
  readonly running: boolean;
  /** How many times a process of this node has exited since the supervisor started. */
  readonly exits: number;
  /** Its client URL. */
  readonly url: string;
}
