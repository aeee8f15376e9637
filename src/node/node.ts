// A running raftkv node: storage recovered, the core built on it, the peer transport and the HTTP
// server on one port, the tick timer. The Ready loop lives in driver.ts, client requests in
// kv-service.ts; this file wires them and runs the lifecycle (start, graceful stop, fatal stop).

import { createHash, randomInt } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { KvStateMachine } from '../kv/index.js';
import { defaultRaftConfig, MemoryLogStorage, type Random, RawNode } from '../raft/index.js';
import { KvHttpServer } from '../server/http-server.js';
import { openStorage, RealDisk, type RecoveredState } from '../storage/index.js';
import { PeerTransport } from '../transport/index.js';
import { realClock } from './clock.js';
import { Driver } from './driver.js';
import { NoLeaderError, ShuttingDownError } from './errors.js';
import { NodeKvService } from './kv-service.js';
import { type EventLog, NodeLogger } from './logger.js';
import { type HostPort, type NodeOptions, type ResolvedNodeOptions, resolveNodeOptions } from './options.js';
import { SpaceGuard } from './space-guard.js';

export interface RaftkvNode {
  readonly id: string;
  /** Where the node listens (after binding: the real port if 0 was asked for). */
  readonly address: HostPort;
  /** Graceful stop: stop accepting requests, fail or finish in-flight ones, sync, close. */
  stop(): Promise<void>;
  /** Resolves when the node has stopped (by stop() or a fatal storage error). */
  readonly stopped: Promise<void>;
  /** Set when the node stopped because it could not go on safely (e.g. an fsync failed). */
  readonly fatalError: Error | null;
}

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

/** A graceful stop waits at most this long for requests still arriving. */
const drainTimeoutMs = 2000;

export async function startNode(options: NodeOptions): Promise<RaftkvNode> {
  const o = resolveNodeOptions(options);
  const logger = new NodeLogger(o.id, o.logFormat, o.logLevel, o.logSink);
  const clusterId = clusterIdOf(options);
  const storage = await openStorage(new RealDisk(), o.dataDir, { clusterId, nodeId: o.id }, { logger });
  const recovered = storage.state;
  if (recovered.tornTail !== null) {
    logger.log('warn', 'WAL had a torn tail from a crash; truncated it', {
      file: recovered.tornTail.file,
      offset: recovered.tornTail.offset,
    });
  }

  const { log, sm, raw } = recoverCore(o, recovered, { nextInt: (n) => randomInt(n) }, logger);

  const peers: Record<string, { host: string; port: number; via: 'http-upgrade' }> = {};
  for (const [id, a] of Object.entries(o.cluster)) {
    if (id !== o.id) peers[id] = { host: a.host, port: a.port, via: 'http-upgrade' };
  }
  // Reconnect to a restarted peer within about an election timeout, not the transport's 5 s cap.
  const transport = new PeerTransport({
    nodeId: o.id,
    clusterId,
    peers,
    backoff: { maxMs: Math.min(5000, o.electionTimeoutMs) },
    // A connection that lost packets in a partition is replaced soon after it heals, not at
    // TCP's next retransmission (which backs off to minutes).
    livenessTimeoutMs: 2 * o.electionTimeoutMs,
    connectTimeoutMs: Math.min(5000, 2 * o.electionTimeoutMs),
  });
  const driver = new Driver({ options: o, raw, log, storage, sm, transport, logger, clock: realClock });
  const service = new NodeKvService(driver, o);
  const http = new KvHttpServer(service, {
    requestTimeoutMs: o.requestTimeoutMs,
    maxInflight: o.maxInflightRequests,
    onPeerUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => {
      transport.handleUpgrade(req, socket, head);
    },
  });

  logger.log('info', 'starting', {
    dataDir: o.dataDir,
    term: recovered.hardState.term,
    commit: recovered.hardState.commit,
    snapshot: recovered.snapshot?.meta.index ?? 0,
    entries: recovered.entries.length,
    bootstrapped: recovered.bootstrapped,
  });

  try {
    await transport.start();
    await http.listen(o.listen.host, o.listen.port);
  } catch (e) {
    await transport.stop();
    await storage.close();
    throw e;
  }
  const bound = http.server.address();
  const address =
    bound !== null && typeof bound === 'object' ? { host: o.listen.host, port: bound.port } : o.listen;
  driver.start();
  const spaceGuard = new SpaceGuard({
    nodeId: o.id,
    minFreeBytes: o.minFreeBytes,
    quotaBytes: o.quotaBytes,
    clock: realClock,
    logger,
    freeBytes: async () => {
      const s = await statfs(o.dataDir);
      return s.bavail * s.bsize;
    },
    view: () => ({
      quotaBytes: driver.sm.quotaBytes,
      alarms: driver.sm.noSpaceAlarms,
      leader: driver.isLeader(),
    }),
    submit: async (cmd) => {
      const deadline = realClock.now() + o.requestTimeoutMs;
      if (driver.isLeader()) {
        await service.applySpace(cmd, deadline);
        return;
      }
      // Only the leader proposes; a follower's own alarm goes to it like a forwarded write.
      if (cmd.op !== 'alarm') return;
      const leader = driver.leaderAddress();
      if (leader === null) throw new NoLeaderError('no leader to take the alarm');
      const res = await fetch(`http://${leader}/admin/alarms`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ node: cmd.node, alarm: 'no_space', active: cmd.active }),
        signal: AbortSignal.timeout(o.requestTimeoutMs),
      });
      if (!res.ok) throw new Error(`the leader answered ${res.status}: ${await res.text()}`);
    },
  });
  service.diskSpace = () => spaceGuard.debugState();
  spaceGuard.start();
  logger.log('info', 'listening', { address: `${address.host}:${address.port}` });

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => {
    resolveStopped = r;
  });
  let stopping: Promise<void> | null = null;
  const node = {
    id: o.id,
    address,
    stopped,
    fatalError: null as Error | null,
    stop(): Promise<void> {
      stopping ??= (async () => {
        logger.log('info', 'stopping');
        spaceGuard.stop();
        const closingHttp = http.close();
        await driver.handOffLeadership();
        await driver.stop(() => new ShuttingDownError('the node is shutting down'));
        // Requests still arriving (a body on the way) get their 503 before connections close.
        logger.log('info', 'draining client requests');
        await http.drained(drainTimeoutMs);
        // Every request has been answered now; idle keep-alive connections would hold close() open.
        http.server.closeAllConnections();
        // Peer connections arrived as HTTP upgrades: the server's close waits for them too.
        await transport.stop();
        await closingHttp;
        await storage.close();
        logger.log('info', 'stopped');
        resolveStopped();
      })();
      return stopping;
    },
  };
  driver.onFatal((err) => {
    node.fatalError = err;
    logger.log('error', 'stopping: storage failed, the node cannot go on safely', { error: err.message });
    void node.stop();
  });
  return node;
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
  const voters = Object.keys(o.cluster);
  const log = new MemoryLogStorage({ voters });
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
      applied: sm.lastApplied,
    },
    log,
    random,
    logger,
  );
  return { log, sm, raw };
}
