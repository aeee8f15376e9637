// The free-disk guard and the quota's keeper (docs/space.md). Once a second it compares what this
// node sees with the replicated space rules and asks the log to change them where they differ:
//  - free space in the data dir below --min-free-bytes: this node's no-space alarm must be raised,
//    so the whole cluster refuses growing writes while this node still has room for the entries
//    already in flight, deletes, and the snapshots and compactions that give space back; once
//    free space is back above 1.5 × the threshold (hysteresis, so the alarm does not flap) it must
//    be cleared, and writes resume without a restart;
//  - a leader whose --quota-bytes differs from the replicated quota proposes its own.
// The rules change only through log entries, so every replica refuses the same writes. Nothing
// is kept here between checks but what this node sees: a lost or refused submission is simply
// made again at the next check, and a node that restarts picks up where the log says.
//
// Why an alarm in the log and not a follower that stops appending: a follower that refuses
// entries cannot tell the leader why, the leader could still commit on the others, and the
// follower would fall behind into a snapshot it has no room for. Raising the alarm while there is
// still room (the threshold) stops the growth everywhere first; no entry is ever acknowledged
// without being persisted. A disk that fills faster than the threshold allows still ends in the
// WAL's ENOSPC, which stops the node as before (nothing acknowledged is lost).

import type { SpaceCommand } from '../kv/index.js';
import type { NodeClock } from './clock.js';
import type { EventLog } from './logger.js';

/** Free space must come back to this multiple of the threshold before the alarm clears. */
const clearFactor = 1.5;
const checkIntervalMs = 1000;

export interface SpaceGuardParts {
  readonly nodeId: string;
  /** 0: the disk guard is off. */
  readonly minFreeBytes: number;
  /** 0: no quota. */
  readonly quotaBytes: number;
  readonly clock: NodeClock;
  readonly logger: EventLog;
  /** Free bytes available to this process in the data dir's file system. */
  readonly freeBytes: () => Promise<number>;
  /** The replicated rules as this node has applied them, and whether it leads. */
  readonly view: () => {
    readonly quotaBytes: number | null;
    readonly alarms: readonly string[];
    readonly leader: boolean;
  };
  /** Gets a space command into the log: proposed here if leading, else handed to the leader. */
  readonly submit: (cmd: SpaceCommand) => Promise<void>;
}

export class SpaceGuard {
  private low = false;
  private lastFree: number | null = null;
  private statfsFailing = false;
  private checking = false;
  private stopTimer: (() => void) | null = null;

  constructor(private readonly p: SpaceGuardParts) {}

  start(): void {
    this.stopTimer = this.p.clock.every(checkIntervalMs, () => void this.check());
    void this.check();
  }

  stop(): void {
    this.stopTimer?.();
    this.stopTimer = null;
  }

  debugState(): { freeBytes: number | null; minFreeBytes: number; low: boolean } {
    return { freeBytes: this.lastFree, minFreeBytes: this.p.minFreeBytes, low: this.low };
  }

  /** One round: measure, then bring the replicated rules in line with it. */
  async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.measure();
      const view = this.p.view();
      const raised = view.alarms.includes(this.p.nodeId);
      if (raised !== this.low) {
        await this.submit({ op: 'alarm', node: this.p.nodeId, active: this.low });
      }
      const quota = this.p.quotaBytes === 0 ? null : this.p.quotaBytes;
      if (view.leader && view.quotaBytes !== quota) {
        await this.submit({ op: 'quota', bytes: this.p.quotaBytes });
      }
    } finally {
      this.checking = false;
    }
  }

  private async measure(): Promise<void> {
    const threshold = this.p.minFreeBytes;
    if (threshold === 0) {
      this.low = false;
      return;
    }
    let free: number;
    try {
      free = await this.p.freeBytes();
    } catch (e) {
      // Keep the last verdict: a failing statfs says nothing about the space.
      if (!this.statfsFailing) {
        this.p.logger.emit('disk.unreadable', { error: String(e) });
        this.statfsFailing = true;
      }
      return;
    }
    this.statfsFailing = false;
    this.lastFree = free;
    if (!this.low && free < threshold) {
      this.low = true;
      this.p.logger.emit('disk.low', {
        freeBytes: free,
        minFreeBytes: threshold,
      });
    } else if (this.low && free >= clearFactor * threshold) {
      this.low = false;
      this.p.logger.emit('disk.recovered', {
        freeBytes: free,
        minFreeBytes: threshold,
      });
    }
  }

  private async submit(cmd: SpaceCommand): Promise<void> {
    try {
      await this.p.submit(cmd);
    } catch (e) {
      // No leader, a leader change, a timeout: the next check asks again.
      this.p.logger.emit('space.retry', {
        op: cmd.op,
        error: e instanceof Error ? e.message : String(e),
      });
    }
  }
}
