// Recovery: what a node starts from — the core and the state machine rebuilt from what storage
// recovered — and the cluster id its data dir and peers are checked against. Shared by the
// composition root (src/app/start-node.ts) and the node-level simulator, so both wire alike.

import { createHash } from 'node:crypto';
import { formatHostPort } from '../api/addresses.js';
import { KvStateMachine } from '../kv/index.js';
import {
  defaultRaftConfig,
  heldSnapshot,
  heldSnapshotData,
  initialMembership,
  MemoryLogStorage,
  type Random,
  RawNode,
  type Snapshot,
} from '../raft/index.js';
import type { RecoveredState, RestoreRecord, SnapshotStore } from '../storage/index.js';
import type { EventLog } from './logger.js';
import type { NodeOptions, ResolvedNodeOptions } from './options.js';

/** A membership as one string, `id=host:port` sorted by id: what names a cluster. */
export function clusterSpecOf(cluster: NodeOptions['cluster']): string {
  return Object.entries(cluster)
    .map(([id, a]) => `${id}=${a.host}:${a.port}`)
    .sort()
    .join(',');
}

const shortHash = (text: string): string =>
  `raftkv-${createHash('sha256').update(text).digest('hex').slice(0, 16)}`;

/**
 * The cluster id recorded in the data dir and checked in every peer handshake, so that nodes of
 * two clusters never mix: the given token; else, for a data dir built from a backup for this same
 * membership, the new cluster's id its restore recorded (restore-record.ts); else one derived from
 * the initial membership.
 */
export function clusterIdOf(options: NodeOptions, restored: RestoreRecord | null = null): string {
  if (options.clusterToken !== undefined) return options.clusterToken;
  const spec = clusterSpecOf(options.cluster);
  if (restored !== null && restored.clusterSpec === spec) return restored.clusterId;
  return shortHash(spec);
}

/**
 * The id of the new cluster restored from the backup whose SHA-256 is `sha256`, with membership
 * `cluster`: every member restored from the same file for the same membership gets the same one,
 * and it is never the id `cluster` alone derives — so no restored node can talk to the cluster
 * the backup came from, nor to a fresh one started with the same --cluster.
 */
export function restoredClusterIdOf(cluster: NodeOptions['cluster'], sha256: Uint8Array): string {
  return shortHash(`restored from ${Buffer.from(sha256).toString('hex')} as ${clusterSpecOf(cluster)}`);
}

/**
 * The core and state machine a node starts from: what storage recovered, loaded into the core's
 * log view (snapshot, then entries, then hard state), and the state machine restored from the
 * snapshot — `restored` when the caller restored it already (restoreSnapshot: from a snapshot left
 * in its file), else from the snapshot's bytes. Shared by startNode and the node-level simulator,
 * so both run the same wiring.
 */
export function recoverCore(
  o: ResolvedNodeOptions,
  recovered: RecoveredState,
  random: Random,
  logger: EventLog,
  restored?: KvStateMachine,
): { log: MemoryLogStorage; sm: KvStateMachine; raw: RawNode } {
  // The bootstrap membership; a snapshot or a configuration entry in the log takes precedence.
  const addresses = Object.fromEntries(Object.entries(o.cluster).map(([id, a]) => [id, formatHostPort(a)]));
  // A joining node knows no membership until the cluster's log (or a snapshot) gives it one.
  const log = new MemoryLogStorage(initialMembership(o.joining ? [] : addresses));
  let sm = new KvStateMachine();
  const snapshot = recovered.snapshot;
  if (snapshot !== null) {
    log.applySnapshot(snapshot);
    sm = restored ?? KvStateMachine.restore(heldSnapshot(snapshot).data);
  }
  if (recovered.entries.length > 0) log.append(recovered.entries);
  log.setHardState(recovered.hardState);

  const heartbeatTicks = 1;
  const electionTicks = Math.max(2, Math.round(o.electionTimeoutMs / o.heartbeatIntervalMs));
  const raw = new RawNode(
    {
      ...defaultRaftConfig,
      id: o.id,
      electionTimeoutTicks: electionTicks,
      heartbeatIntervalTicks: heartbeatTicks,
      readMode: o.readMode,
      // Reads may ask for the leader lease one by one (?consistency=lease, docs/read-modes.md).
      leaseReads: true,
      lastApplied: sm.lastApplied,
    },
    log,
    random,
    logger,
  );
  return { log, sm, raw };
}

/**
 * The state machine of a recovered snapshot: from its bytes, or — left in its file (openStorage's
 * snapshotData 'file') — from `files` a window at a time, so that its bytes are never held whole.
 */
export async function restoreSnapshot(snapshot: Snapshot, files: SnapshotStore): Promise<KvStateMachine> {
  const bytes = heldSnapshotData(snapshot);
  if (bytes !== null) return KvStateMachine.restore(bytes);
  const file = await files.openData(snapshot.meta.index, snapshot.meta.term);
  try {
    return await KvStateMachine.restoreFrom(file);
  } finally {
    await file.close();
  }
}
