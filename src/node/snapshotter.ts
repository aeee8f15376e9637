// Automatic snapshots, without stalling writes: the state machine hands out a copy-on-write view
// in O(1), which is serialised here in chunks (yielding to the event loop between them) and written
// to its file (fsync, rename, directory fsync) off the Ready loop. Only the last step — the WAL
// marker, the in-memory log compaction and the removal of WAL segments the snapshot covers — runs in
// the loop, between two Readies.
//
// When: after `every` applied entries, and — once the last snapshot is larger than
// `sizeRuleFromBytes` — only when the entries applied since then are at least as many bytes as that
// snapshot (thesis §5.1.1, "when to snapshot", expansion factor 1). The count alone would make a
// large state (10^6 keys, hundreds of MB) be re-serialised every few seconds under write load; with
// the size rule the snapshot work per byte written stays constant, and the log replayed at restart
// is never much larger than the snapshot. A small snapshot costs tens of milliseconds, so below the
// threshold the count alone decides. The bytes waited for are capped (maxLogBytes, 64 MiB): the log
// since the last snapshot is held in memory, and at 10^6 keys of 256 bytes a 300 MB snapshot would
// otherwise let some 900,000 entries pile up there between two snapshots — more memory than the
// store itself. Past the cap a large state is re-serialised every 64 MiB of writes: the price of a
// bounded log, in CPU and disk writes, paid only by states larger than the cap.

import type { KvStateMachine } from '../kv/index.js';
import type { ClusterMembership, HeldSnapshot, MemoryLogStorage, Snapshot } from '../raft/index.js';
import type { Storage } from '../storage/index.js';
import type { NodeClock } from './clock.js';
import type { EventLog } from './logger.js';

export interface SnapshotterParts {
  readonly every: number;
  readonly catchUpEntries: number;
  readonly storage: Storage;
  readonly log: MemoryLogStorage;
  readonly logger: EventLog;
  /** The membership a snapshot at `index` records: the log's configuration at that point. */
  readonly membershipAt: (index: number) => ClusterMembership;
  /** Asks the driver to run its loop (where takeReady() is called). */
  readonly schedule: () => void;
  /** A snapshot could not be written (it is retried later by the usual rules). */
  readonly failed?: (e: Error) => void;
  readonly clock: NodeClock;
  /**
   * The node keeps a snapshot's bytes in its file only (the transport streams them from there):
   * once written, the snapshot is handed on with a reference to its file, and the bytes let go.
   */
  readonly dataInFiles?: boolean;
  /** The cap on the bytes the size rule waits for (default maxLogBytesBetweenSnapshots). */
  readonly maxLogBytes?: number;
}

/** A serialised snapshot, its file written, waiting to be recorded, with what it cost. */
export interface ReadySnapshot {
  /** With its bytes, or a reference to its file (dataInFiles). */
  readonly snapshot: Snapshot;
  /** Milliseconds from the view to the file on disk (serialising and writing). */
  readonly ms: number;
  readonly keys: number;
}

/** Snapshots up to this size are taken by count alone (see the top of this file). */
export const sizeRuleFromBytes = 8 * 1024 * 1024;

/** Past this many bytes of entries applied since the last snapshot, the size rule waits no longer. */
export const maxLogBytesBetweenSnapshots = 64 * 1024 * 1024;

/** Chunks serialised between two yields to the event loop. */
const chunksPerTurn = 4;
const chunkBytes = 256 * 1024;

export class Snapshotter {
  /** Index of the newest snapshot taken or installed. */
  private lastIndex = 0;
  /** After a failed snapshot at this index, the count rule waits a whole interval past it. */
  private backoffIndex = 0;
  /** Size of the newest snapshot taken or installed (0 before the first). */
  private lastBytes = 0;
  /** Bytes of entry data applied since the newest snapshot was started or installed. */
  private appliedBytes = 0;
  private ready: ReadySnapshot | null = null;
  /** The next maybeStart ignores the count and size rules (an operator asked for a snapshot). */
  private forced = false;
  private running: Promise<void> | null = null;

  constructor(private readonly p: SnapshotterParts) {}

  get busy(): boolean {
    return this.running !== null;
  }

  /** A snapshot of `bytes` was restored or installed from the leader at `index`. */
  noteRestored(index: number, bytes: number): void {
    if (index <= this.lastIndex) return;
    this.lastIndex = index;
    this.lastBytes = bytes;
    this.appliedBytes = 0;
  }

  /** The next maybeStart() starts a snapshot if anything was applied since the last one. */
  force(): void {
    this.forced = true;
  }

  /**
   * Called after applying entries holding `bytes` of data: starts a snapshot if enough was applied
   * since the last one (see the top of this file).
   */
  maybeStart(sm: KvStateMachine, termOf: (index: number) => number | null, bytes: number): void {
    this.appliedBytes += bytes;
    if (this.running !== null || this.ready !== null) return;
    if (this.forced) {
      if (sm.lastApplied <= this.lastIndex) {
        this.forced = false; // nothing new to snapshot
        return;
      }
    } else {
      if (sm.lastApplied - Math.max(this.lastIndex, this.backoffIndex) < this.p.every) return;
      const waitFor = Math.min(this.lastBytes, this.p.maxLogBytes ?? maxLogBytesBetweenSnapshots);
      if (this.lastBytes > sizeRuleFromBytes && this.appliedBytes < waitFor) return;
    }
    this.forced = false;
    const view = sm.snapshotView();
    const index = view.lastApplied;
    const term = termOf(index);
    if (term === null) return;
    const membership = this.p.membershipAt(index);
    // A node that joined holds the log from index 1 but not the bootstrap configuration (no log
    // entry holds it): before the first configuration entry it knows no membership, and a
    // snapshot there would record none. It takes one once past that entry (its own addition).
    if (membership.voters.length === 0) return;
    const started = this.p.clock.now();
    const keys = view.size;
    // Bytes applied from here on count toward the next snapshot.
    this.appliedBytes = 0;
    this.running = (async () => {
      const parts: Uint8Array[] = [];
      let size = 0;
      let n = 0;
      for (const chunk of view.chunks(chunkBytes)) {
        parts.push(chunk);
        size += chunk.byteLength;
        if (++n % chunksPerTurn === 0) await new Promise<void>((r) => this.p.clock.soon(r));
      }
      const meta = { index, term, membership };
      let snapshot: Snapshot;
      if (this.p.dataInFiles === true) {
        // Written from the chunks: the node keeps no bytes of it, so none are ever joined.
        await this.p.storage.snapshots.saveParts(meta, parts);
        snapshot = { meta, data: { stored: true, byteLength: size } };
      } else {
        const held: HeldSnapshot = { meta, data: Buffer.concat(parts, size) };
        await this.p.storage.snapshots.save(held);
        snapshot = held;
      }
      parts.length = 0;
      this.ready = { snapshot, ms: this.p.clock.now() - started, keys };
      this.p.schedule();
    })()
      .catch((e: unknown) => {
        this.p.logger.emit('snapshot.failed', {
          index,
          error: e instanceof Error ? e.message : String(e),
        });
        // Back off a whole interval before trying again (an operator's request is not held back:
        // it compares with the last snapshot actually taken).
        this.backoffIndex = Math.max(this.backoffIndex, index);
        this.forced = false;
        this.p.failed?.(e instanceof Error ? e : new Error(String(e)));
      })
      .finally(() => {
        this.running = null;
      });
  }

  /** The serialised snapshot, if one is ready to be recorded; the driver records it in its loop. */
  takeReady(): ReadySnapshot | null {
    const r = this.ready;
    this.ready = null;
    if (r !== null && r.snapshot.meta.index > this.lastIndex) {
      this.lastIndex = r.snapshot.meta.index;
      this.lastBytes = r.snapshot.data.byteLength;
    }
    return r;
  }

  idle(): Promise<void> {
    return this.running ?? Promise.resolve();
  }
}
