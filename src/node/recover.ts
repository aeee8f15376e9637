// Recovery: what a node starts from — the core and the state machine rebuilt from what storage
// recovered — and the cluster id its data dir and peers are checked against. Shared by the
// composition root (src/app/start-node.ts) and the node-level simulator, so both wire alike.

import { createHash } from 'node:crypto';
import { formatHostPort } from '../api/addresses.js';
import { KvStateMachine } from '../kv/index.js';
import {
  defaultRaftConfig,
  initialMembership,
  MemoryLogStorage,
  type Random,
  RawNode,
} from '../raft/index.js';
import type { RecoveredState } from '../storage/index.js';
import type { EventLog } from './logger.js';
import type { NodeOptions, ResolvedNodeOptions } from './options.js';

/**
 * The cluster id recorded in the data dir and checked in every peer handshake: the given token,
 * or one derived from the initial membership, so that nodes of two clusters never mix.
 */
export function clusterIdOf(options: NodeOptions): string {
  if (options.clusterToken !== undefined) return options.clusterToken;
  const spec = Object.entries(options.cluster)
    .map(([id, a]) => `${id}=${a.host}:${a.port}`)
    .sort()
    .join(',');
  return `raftkv-${createHash('sha256').update(spec).digest('hex').slice(0, 16)}`;
}

/**
 * The core and state machine a node starts from: what storage recovered, loaded into the core's
 * log view (snapshot, then entries, then hard state), and the state machine restored from the
 * snapshot. Shared by startNode and the node-level simulator, so both run the same wiring.
 */
export function recoverCore(
  o: ResolvedNodeOptions,
  recovered: RecoveredState,
  random: Random,
  logger: EventLog,
): { log: MemoryLogStorage; sm: KvStateMachine; raw: RawNode } {
  // The bootstrap membership; a snapshot or a configuration entry in the log takes precedence.
  const addresses = Object.fromEntries(Object.entries(o.cluster).map(([id, a]) => [id, formatHostPort(a)]));
  // A joining node knows no membership until the cluster's log (or a snapshot) gives it one.
  const log = new MemoryLogStorage(initialMembership(o.joining ? [] : addresses));
  let sm = new KvStateMachine();
  if (recovered.snapshot !== null) {
    log.applySnapshot(recovered.snapshot);
    sm = KvStateMachine.restore(recovered.snapshot.data);
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
      lastApplied: sm.lastApplied,
    },
    log,
    random,
    logger,
  );
  return { log, sm, raw };
}
