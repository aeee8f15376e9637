// GET /admin/snapshot on this node: a backup of the whole state at a linearizable point. The
// service confirms the point first, as for a linearizable read (§6.4: the leader's commit index,
// confirmed by a heartbeat round, relayed when this node follows), so the state machine then
// holds every write acknowledged before the request; the copy-on-write view taken at once is at
// that index or later. The view is serialised only as the HTTP server pulls chunks, exactly as
// the snapshotter serialises its own (snapshotter.ts): writes go on, and the state is never
// copied whole.

import { BusyError } from '../api/errors.js';
import type { BackupOutcome, BackupStream } from '../api/service.js';
import { assert } from '../assert.js';
import { backupFileChunks } from '../backup/index.js';
import type { Driver } from './driver.js';

/**
 * Backups streaming from one node at once. Each holds a view that the writes made while it
 * streams copy pages away from (copy-on-write): a few are useful, many only cost memory.
 */
export const maxBackupStreams = 4;

/** Body chunk size: the snapshotter's, small enough to keep the event loop turning between chunks. */
const chunkBytes = 256 * 1024;

export interface BackupCounts {
  readonly streaming: number;
  readonly sent: number;
  readonly abandoned: number;
}

export class BackupSource {
  private streaming = 0;
  private sent = 0;
  private abandoned = 0;

  constructor(
    private readonly driver: Driver,
    private readonly clusterId: string,
    /** Stamps the file's createdAt: the wall clock, not the node's monotonic one. */
    private readonly wallClockMs: () => number = Date.now,
  ) {}

  /** Refuses (BusyError) when this node streams as many backups as it may. */
  admit(): void {
    if (this.streaming >= maxBackupStreams) {
      throw new BusyError(
        `${this.streaming} backups are streaming from this node, its limit; retry when one has finished`,
      );
    }
  }

  /**
   * The backup of the state applied now. Call it once the read point is confirmed, in the same
   * turn of the event loop as the confirmation, so the view covers everything committed before
   * the request.
   */
  open(): BackupStream {
    this.admit();
    const view = this.driver.sm.snapshotView();
    const index = view.lastApplied;
    const term = this.driver.termOf(index);
    // The log holds every applied index from its snapshot's on (a snapshot installed or taken
    // moves both together).
    assert(term !== null, `the log holds no term for the applied index ${index}`);
    const keys = view.size;
    const header = {
      clusterId: this.clusterId,
      nodeId: this.driver.options.id,
      index,
      term,
      membership: this.driver.raw.membershipAt(index),
      keyCount: keys,
      createdAtMs: this.wallClockMs(),
    };
    const logger = this.driver.logger;
    const started = this.driver.clock.now();
    this.streaming++;
    logger.emit('backup.streaming', { index, term, keys });
    let over = false;
    return {
      clusterId: this.clusterId,
      index,
      term,
      keys,
      chunks: backupFileChunks(header, view.chunks(chunkBytes)),
      finished: (outcome: BackupOutcome) => {
        if (over) return;
        over = true;
        this.streaming--;
        const ms = Math.round(this.driver.clock.now() - started);
        if (outcome.sent) {
          this.sent++;
          logger.emit('backup.sent', { index, bytes: outcome.bytes, ms });
        } else {
          this.abandoned++;
          logger.emit('backup.abandoned', { index, bytes: outcome.bytes, ms, reason: outcome.reason });
        }
      },
    };
  }

  /** For GET /debug. */
  counts(): BackupCounts {
    return { streaming: this.streaming, sent: this.sent, abandoned: this.abandoned };
  }
}
