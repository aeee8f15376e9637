// The node's fault injection (docs/faults.md): the faults in force, changed by /admin/faults, and
// carried out by the parts they concern — the link faults by the transport's FaultFilter, the disk
// delay by the DelayingDisk, the pause by the driver (and the HTTP server, which holds client
// requests back while paused). Only a node started with --enable-faults accepts changes (the HTTP
// server refuses the faults routes of any other: faults_disabled). Nothing here is persisted: a
// restarted node starts with no faults.

import { BadRequestError, ShuttingDownError, TimeoutError } from '../api/errors.js';
import { type FaultControl, type Faults, type FaultsPatch, noFaults } from '../api/faults.js';
import type { NodeClock } from './clock.js';
import type { EventLog } from './logger.js';

/** What the faults act on, wired by the node's composition root (src/app/start-node.ts). */
export interface FaultTargets {
  /** This node's id: a link to itself cannot be cut. */
  readonly self: string;
  /** Whether `id` is a member of the configuration in force. */
  isMember(id: string): boolean;
  /** The leader this node knows, or null. */
  leaderId(): string | null;
  /** The driver's pause and resume. */
  pause(): void;
  resume(): void;
  /** The faults now in force, after every change: for the link filter and the disk. */
  applied(faults: Faults): void;
  /** More for GET /debug: what the faults did so far (messages dropped, held, ...). */
  report(): Record<string, unknown>;
}

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (e: Error) => void;
  readonly cancel: () => void;
}

export class NodeFaults implements FaultControl {
  private faults: Faults = noFaults;
  /** Client requests held back while paused. */
  private readonly waiters = new Set<Waiter>();
  private closed = false;

  constructor(
    readonly enabled: boolean,
    private readonly targets: FaultTargets,
    private readonly clock: NodeClock,
    private readonly logger: EventLog,
  ) {}

  current(): Faults {
    return this.faults;
  }

  set(patch: FaultsPatch): Faults {
    this.refuseIfClosed();
    const next: Faults = {
      ...this.faults,
      ...patch,
      ...(patch.dropTo !== undefined && { dropTo: this.members(patch.dropTo, 'dropTo') }),
      ...(patch.dropFrom !== undefined && { dropFrom: this.members(patch.dropFrom, 'dropFrom') }),
    };
    this.change(next);
    const f = this.faults;
    this.logger.emit('faults.set', {
      dropTo: f.dropTo.join(','),
      dropFrom: f.dropFrom.join(','),
      isolate: f.isolate,
      paused: f.paused,
      diskDelayMs: f.diskDelayMs,
      messageDelayMs: f.messageDelayMs,
    });
    return f;
  }

  heal(): Faults {
    this.refuseIfClosed();
    this.change(noFaults);
    this.logger.emit('faults.healed', {});
    return this.faults;
  }

  untilRunning(deadline: number): Promise<void> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the node is shutting down'));
    if (!this.faults.paused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        cancel: this.clock.after(Math.max(0, deadline - this.clock.now()), () => {
          this.waiters.delete(waiter);
          reject(
            new TimeoutError(
              'the node is paused (fault injection: POST /admin/faults) and did not resume before the deadline',
            ),
          );
        }),
      };
      this.waiters.add(waiter);
    });
  }

  leaderCutOff(): boolean {
    const leader = this.targets.leaderId();
    if (leader === null || leader === this.targets.self) return false;
    const f = this.faults;
    // A forwarded write needs both ways: the request out, the answer back.
    return f.isolate || f.dropTo.includes(leader) || f.dropFrom.includes(leader);
  }

  report(): Record<string, unknown> {
    const base = { enabled: this.enabled, ...this.faults };
    return this.enabled ? { ...base, ...this.targets.report() } : base;
  }

  /**
   * The node is stopping: a paused one resumes (a stopped process gets its SIGTERM only once it
   * is continued), the links and the disk are mended, and the requests held back are answered
   * shutting_down.
   */
  close(): void {
    this.closed = true;
    if (this.faults.paused) this.targets.resume();
    // Nor does a slow disk or a delay hold the stop up: the faults end with the node.
    this.targets.applied(noFaults);
    for (const w of this.waiters) {
      w.cancel();
      w.reject(new ShuttingDownError('the node is shutting down'));
    }
    this.waiters.clear();
  }

  private refuseIfClosed(): void {
    if (this.closed) throw new ShuttingDownError('the node is shutting down');
  }

  /** The ids, each once, checked to be other members of the cluster (400 naming the first that is not). */
  private members(ids: readonly string[], field: string): string[] {
    const out: string[] = [];
    for (const id of ids) {
      if (id === this.targets.self) {
        throw new BadRequestError(`${field}: "${id}" is this node; name other members`, { field, id });
      }
      if (!this.targets.isMember(id)) {
        throw new BadRequestError(`${field}: "${id}" is not a member of the cluster`, { field, id });
      }
      if (!out.includes(id)) out.push(id);
    }
    return out;
  }

  /**
   * Puts `next` in force. A pause stops the driver before anything else changes; a resume comes
   * after the links and the disk have their new settings, and releases the held client requests
   * last, so that the core has caught up with the time that passed before any of them reaches it.
   */
  private change(next: Faults): void {
    const wasPaused = this.faults.paused;
    this.faults = next;
    if (next.paused && !wasPaused) this.targets.pause();
    this.targets.applied(next);
    if (!next.paused && wasPaused) {
      this.targets.resume();
      for (const w of this.waiters) {
        w.cancel();
        w.resolve();
      }
      this.waiters.clear();
    }
  }
}
