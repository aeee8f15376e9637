// One node's data dir: identity check, WAL recovery, choice of snapshot, and the operations the
// node driver performs for each Ready (snapshot, then entries + hard state, then one sync).
//
//   <dir>/IDENTITY   cluster id, node id, layout version (identity.ts)
//   <dir>/RESTORED   only in a dir built from a backup: its new cluster and source (restore-record.ts)
//   <dir>/wal/       WAL segments (wal.ts)
//   <dir>/snap/      snapshot files (snapshot-store.ts)

import { assert } from '../assert.js';
import type { Logger } from '../raft/config.js';
import { silentLogger } from '../raft/config.js';
import type { Entry, HardState, HeldSnapshot, Snapshot } from '../raft/types.js';
import type { Disk } from './disk.js';
import { isNotFound, joinPath, listOrCreateDir } from './disk.js';
import { CorruptionError, StorageError } from './errors.js';
import type { StorageIdentity } from './identity.js';
import { checkIdentity, decodeIdentity, IDENTITY_FILE, writeIdentity } from './identity.js';
import { RESTORE_FILE } from './restore-record.js';
import type { SnapshotFile } from './snapshot-store.js';
import { parseSnapshotName, SnapshotStore } from './snapshot-store.js';
import { Wal, type WalRecovery } from './wal.js';
import { parseSegmentName, type TornTail } from './wal-replay.js';

export interface StorageOptions {
  /** WAL segment size in bytes (default 64 MiB). */
  readonly segmentSize?: number;
  /** Snapshots kept by compact() (default 2, at least 1); the WAL is kept back to the oldest. */
  readonly keepSnapshots?: number;
  readonly logger?: Logger;
  /**
   * What the recovered snapshot carries: `memory` (the default) its bytes; `file` a reference to
   * its file (StoredSnapshotData), checked a window at a time and never read whole — the node
   * restores its state machine from the file (SnapshotStore.openData), so that a snapshot of
   * hundreds of MB is never held in memory at once.
   */
  readonly snapshotData?: 'memory' | 'file';
  /**
   * A monotonic clock in milliseconds, to time recovery's steps with (RecoveredState.times); the
   * storage reads no clock of its own, so without one they are 0.
   */
  readonly now?: () => number;
}

/** How long each step of recovery took, in milliseconds (the node logs them). */
export interface RecoveryTimes {
  /** Reading and checking the WAL. */
  readonly walMs: number;
  /** Choosing the snapshot: reading and checking it (its data too). */
  readonly snapshotMs: number;
}

/** A snapshot file recovery did not use, and what it did about it. */
export interface DiscardedSnapshot {
  readonly name: string;
  readonly reason: string;
  /** quarantined: damaged, renamed to *.broken; removed: a save never acknowledged. */
  readonly action: 'quarantined' | 'removed';
}

/**
 * What the node starts from. Load it into MemoryLogStorage: snapshot, then entries, then hard
 * state. `S` is what the snapshot carries (StorageOptions.snapshotData).
 */
export interface RecoveredState<S extends Snapshot = Snapshot> {
  readonly hardState: HardState;
  /** The newest usable snapshot, or null to start from an empty state machine. */
  readonly snapshot: S | null;
  /** Entries after the snapshot (from index 1 without one). */
  readonly entries: readonly Entry[];
  /** The data dir was created by this open. */
  readonly bootstrapped: boolean;
  /** A torn tail recovery cut off the WAL (also logged). */
  readonly tornTail: TornTail | null;
  readonly discardedSnapshots: readonly DiscardedSnapshot[];
  readonly times: RecoveryTimes;
}

export class Storage<S extends Snapshot = Snapshot> {
  private recovered: RecoveredState<S> | null;

  constructor(
    readonly dir: string,
    state: RecoveredState<S>,
    readonly wal: Wal,
    readonly snapshots: SnapshotStore,
    private readonly keepSnapshots: number,
  ) {
    this.recovered = state;
  }

  /** What the node starts from; not to be asked once released (releaseRecovered). */
  get state(): RecoveredState<S> {
    assert(this.recovered !== null, 'the recovered state was asked for after it was released');
    return this.recovered;
  }

  /**
   * The node has loaded what it recovered into its log and state machine: the storage lets go of
   * it, so that the snapshot's bytes are not kept in memory (they stay in the snapshot file).
   */
  releaseRecovered(): void {
    this.recovered = null;
  }

  /**
   * Step one of persisting a Ready: writes the snapshot file durably and buffers its WAL marker,
   * which becomes durable with the next sync(). Await it before save() for the same Ready.
   */
  async saveSnapshot(snapshot: HeldSnapshot): Promise<void> {
    const prev = this.wal.lastSnapshot?.index ?? 0;
    assert(snapshot.meta.index >= prev, `snapshot ${snapshot.meta.index} is older than the saved ${prev}`);
    await this.snapshots.save(snapshot);
    this.wal.saveSnapshot({ index: snapshot.meta.index, term: snapshot.meta.term });
  }

  /** Step two: buffers entries (replacing the stored suffix from entries[0].index) and hard state. */
  save(entries: readonly Entry[], hardState: HardState | null): void {
    this.wal.save(entries, hardState);
  }

  /** Step three: one fdatasync for everything saved so far. */
  sync(): Promise<void> {
    return this.wal.sync();
  }

  /**
   * Deletes snapshots beyond the newest `keepSnapshots` and the WAL segments the oldest kept one
   * covers. Only snapshots whose WAL marker is durable count, so a crash at any point leaves a
   * snapshot the WAL can resume from.
   */
  async compact(): Promise<{ removedSnapshots: string[]; removedSegments: string[] }> {
    const durable = this.wal.durableSnapshot;
    if (durable === null) return { removedSnapshots: [], removedSegments: [] };
    const removedSnapshots = await this.snapshots.prune(this.keepSnapshots, durable.index);
    const kept = this.snapshots.list().filter((f) => f.index <= durable.index);
    const oldest = kept[kept.length - 1];
    const removedSegments = oldest === undefined ? [] : await this.wal.release(oldest.index);
    return { removedSnapshots, removedSegments };
  }

  close(): Promise<void> {
    return this.wal.close();
  }
}

/**
 * Opens the data dir `dir`, bootstrapping it for `identity` if it is new. Refuses (throws) when
 * it belongs to another node or cluster, when the WAL is corrupt, or when no snapshot it holds
 * can be combined with the WAL.
 */
export function openStorage(
  disk: Disk,
  dir: string,
  identity: StorageIdentity,
  options?: StorageOptions & { readonly snapshotData?: 'memory' },
): Promise<Storage<HeldSnapshot>>;
export function openStorage(
  disk: Disk,
  dir: string,
  identity: StorageIdentity,
  options: StorageOptions,
): Promise<Storage<Snapshot>>;
export async function openStorage(
  disk: Disk,
  dir: string,
  identity: StorageIdentity,
  options: StorageOptions = {},
): Promise<Storage<Snapshot>> {
  const logger = options.logger ?? silentLogger;
  const keep = options.keepSnapshots ?? 2;
  assert(Number.isInteger(keep) && keep >= 1, 'keepSnapshots must be at least 1');
  const walDir = joinPath(dir, 'wal');
  const idPath = joinPath(dir, IDENTITY_FILE);

  const names = await listOrCreateDir(disk, dir);
  const hasIdentity = names.includes(IDENTITY_FILE);
  if (!hasIdentity && names.includes(RESTORE_FILE)) {
    throw new StorageError(
      `data dir ${dir} holds an unfinished restore (${RESTORE_FILE} but no ${IDENTITY_FILE}): empty it and restore again`,
    );
  }
  if (hasIdentity) {
    checkIdentity(decodeIdentity(await disk.readFile(idPath), idPath), identity, dir);
    // The identity is written only after the WAL's first segment is durable.
    if (!(await hasSegments(disk, walDir))) {
      throw new CorruptionError(walDir, null, 'the data dir has an identity but no WAL segments');
    }
  }

  const snapDir = joinPath(dir, 'snap');
  const now = options.now ?? (() => 0);
  const started = now();
  // The entries the newest snapshot covers are checked but not kept (entriesAfter below reads
  // them again if that snapshot cannot be used).
  const { wal, recovery } = await Wal.open(disk, walDir, {
    segmentSize: options.segmentSize,
    logger,
    keepEntriesAfter: await newestSnapshotIndex(disk, snapDir),
  });
  const walDone = now();
  try {
    const snapshots = await SnapshotStore.open(disk, snapDir, logger);
    if (!hasIdentity) {
      if (!recovery.empty || snapshots.list().length > 0) {
        throw new StorageError(
          `data dir ${dir} holds a WAL or snapshots but no ${IDENTITY_FILE} file: refusing to guess whose data it is`,
        );
      }
      await writeIdentity(disk, idPath, identity);
      logger.log('info', 'storage bootstrapped', {
        dir,
        clusterId: identity.clusterId,
        nodeId: identity.nodeId,
      });
    }
    const choice = await chooseSnapshot(snapshots, recovery, options.snapshotData ?? 'memory');
    const snapshotDone = now();
    for (const d of choice.discarded) {
      if (d.action === 'quarantined') await snapshots.quarantine(d.file);
      else await snapshots.remove(d.file);
      logger.log('warn', `snapshot ${d.action}`, { file: snapshots.pathOf(d.file), reason: d.reason });
    }
    const snap = choice.snapshot;
    // The log after the snapshot (without one the WAL starts at index 1: chooseSnapshot saw to it).
    const from = snap?.meta.index ?? 0;
    const { entries, entriesFrom } = recovery.log;
    const state: RecoveredState<Snapshot> = {
      hardState: recovery.hardState,
      snapshot: snap,
      entries: from + 1 >= entriesFrom ? entries.slice(from + 1 - entriesFrom) : await wal.entriesAfter(from),
      bootstrapped: !hasIdentity,
      tornTail: recovery.tornTail,
      discardedSnapshots: choice.discarded.map((d) => ({
        name: d.file.name,
        reason: d.reason,
        action: d.action,
      })),
      times: { walMs: walDone - started, snapshotMs: snapshotDone - walDone },
    };
    return new Storage(dir, state, wal, snapshots, keep);
  } catch (e) {
    await wal.close();
    throw e;
  }
}

async function hasSegments(disk: Disk, walDir: string): Promise<boolean> {
  try {
    return (await disk.list(walDir)).some((n) => parseSegmentName(n) !== null);
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** The index of the newest snapshot file in `snapDir` (by its name), 0 if there is none. */
async function newestSnapshotIndex(disk: Disk, snapDir: string): Promise<number> {
  try {
    let newest = 0;
    for (const name of await disk.list(snapDir))
      newest = Math.max(newest, parseSnapshotName(name)?.index ?? 0);
    return newest;
  } catch (e) {
    if (isNotFound(e)) return 0;
    throw e;
  }
}

interface Choice {
  readonly snapshot: Snapshot | null;
  readonly discarded: { file: SnapshotFile; reason: string; action: 'quarantined' | 'removed' }[];
}

/**
 * The newest snapshot that loads intact and that the WAL's log agrees with (the log holds its
 * index with the same term, so the entries after it continue it). Decides without changing the
 * disk, so that a refusal leaves everything in place for the operator.
 */
async function chooseSnapshot(
  snapshots: SnapshotStore,
  recovery: WalRecovery,
  data: 'memory' | 'file',
): Promise<Choice> {
  const { base, lastIndex: last, termAt } = recovery.log;
  const markerIndex = recovery.snapshot?.index ?? 0;
  const discarded: Choice['discarded'] = [];
  const skipped: string[] = [];
  for (const f of snapshots.list()) {
    if (termAt(f.index) !== f.term) {
      if (f.index > markerIndex) {
        // Saved, but the batch with its marker never became durable: never acknowledged.
        discarded.push({
          file: f,
          action: 'removed',
          reason: 'the WAL never recorded it and disagrees with it',
        });
      } else {
        skipped.push(`${f.name}: the WAL no longer covers it (it holds ${base.index + 1}..${last})`);
      }
      continue;
    }
    try {
      return { snapshot: data === 'memory' ? await snapshots.load(f) : await snapshots.verify(f), discarded };
    } catch (e) {
      if (!(e instanceof CorruptionError)) throw e;
      discarded.push({ file: f, action: 'quarantined', reason: e.message });
    }
  }
  if (base.index === 0) return { snapshot: null, discarded };
  const why = [
    ...discarded.map(
      (d) => `${d.file.name}: ${d.action === 'quarantined' ? d.reason : 'never acknowledged'}`,
    ),
    ...skipped,
  ];
  throw new StorageError(
    `no usable snapshot in ${snapshots.dir}: the WAL starts after index ${base.index}, so it needs a ` +
      `snapshot it covers at or after that index; ${why.length > 0 ? why.join('; ') : 'there is none'}`,
  );
}
