// Automatic snapshots every N applied entries, without stalling writes: the state machine hands
// out a copy-on-write view in O(1), which is serialised here in chunks (yielding to the event loop
// between them) and written to its file (fsync, rename, directory fsync) off the Ready loop. Only
// the last step — the WAL marker, the in-memory log compaction and the removal of WAL segments the
// snapshot covers — runs in the loop, between two Readies.

import type { KvStateMachine } from '../kv/index.js';
import type { MemoryLogStorage, NodeId, Snapshot } from '../raft/index.js';
import type { Storage } from '../storage/index.js';
import type { NodeClock } from './clock.js';
import type { EventLog } from './logger.js';

export interface SnapshotterParts {
  readonly every: number;
  readonly catchUpEntries: number;
  readonly storage: Storage;
  readonly log: MemoryLogStorage;
  readonly logger: EventLog;
  readonly voters: () => readonly NodeId[];
  /** Asks the driver to run its loop (where takeReady() is called). */
  readonly schedule: () => void;
  readonly clock: NodeClock;
}

/** Chunks serialised between two yields to the event loop. */
const chunksPerTurn = 4;
const chunkBytes = 256 * 1024;

export class Snapshotter {
  /** Index of the newest snapshot taken or installed. */
  private lastIndex = 0;
  private ready: Snapshot | null = null;
  private running: Promise<void> | null = null;

  constructor(private readonly p: SnapshotterParts) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** A snapshot was restored or installed from the leader at `index`. */
  noteRestored(index: number): void {
    if (index > this.lastIndex) this.lastIndex = index;
  }

  /** Called after applying: starts a snapshot if enough entries were applied since the last one. */
  maybeStart(sm: KvStateMachine, termOf: (index: number) => number | null): void {
    if (this.running !== null || this.ready !== null) return;
    if (sm.lastApplied - this.lastIndex < this.p.every) return;
    const view = sm.snapshotView();
    const index = view.lastApplied;
    const term = termOf(index);
    if (term === null) return;
    const membership = { voters: [...this.p.voters()] };
    const started = this.p.clock.now();
    this.running = (async () => {
      const parts: Uint8Array[] = [];
      let size = 0;
      let n = 0;
      for (const chunk of view.chunks(chunkBytes)) {
        parts.push(chunk);
        size += chunk.byteLength;
        if (++n % chunksPerTurn === 0) await new Promise<void>((r) => this.p.clock.soon(r));
      }
      const data = Buffer.concat(parts, size);
      const snap: Snapshot = { meta: { index, term, membership }, data };
      await this.p.storage.snapshots.save(snap);
      this.ready = snap;
      this.p.logger.log('debug', 'snapshot serialised', {
        index,
        bytes: size,
        ms: this.p.clock.now() - started,
      });
      this.p.schedule();
    })()
      .catch((e: unknown) => {
        this.p.logger.log('error', 'snapshot failed; will retry later', {
          index,
          error: e instanceof Error ? e.message : String(e),
        });
        // Back off a whole interval before trying again.
        this.lastIndex = index;
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** The serialised snapshot, if one is ready to be recorded; the driver records it in its loop. */
  takeReady(): Snapshot | null {
    const snap = this.ready;
    this.ready = null;
    if (snap !== null && snap.meta.index > this.lastIndex) this.lastIndex = snap.meta.index;
    return snap;
  }

  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
