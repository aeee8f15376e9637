// The composition root of a running raftkv node: storage recovered, the core built on it, the
// peer transport and the HTTP server on one port, the tick timer, the free-disk guard. The only
// place that sees both the node runtime (src/node/) and the HTTP server (src/server/), which know
// each other only through the service port (src/api/service.ts). The Ready loop lives in
// src/node/driver.ts, client requests in src/node/kv-service.ts; this file wires them and runs the
// lifecycle (start, graceful stop, fatal stop).

import { randomInt } from 'node:crypto';
import { statfs } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { isLoopbackHost } from '../api/addresses.js';
import { NoLeaderError, ShuttingDownError } from '../api/errors.js';
import { readAuthFile, type UserTable } from '../auth/index.js';
import { NodeMetrics } from '../metrics/index.js';
import { realClock } from '../node/clock.js';
import { Driver } from '../node/driver.js';
import { NodeFaults } from '../node/faults.js';
import { NodeKvService } from '../node/kv-service.js';
import { NodeLogger } from '../node/logger.js';
import { readNode } from '../node/node-reading.js';
import { type HostPort, type NodeOptions, resolveNodeOptions } from '../node/options.js';
import { clusterIdOf, recoverCore, restoreSnapshot } from '../node/recover.js';
import { SpaceGuard } from '../node/space-guard.js';
import { isMember } from '../raft/index.js';
import { AccessControl } from '../server/access.js';
import { KvHttpServer } from '../server/http-server.js';
import {
  CorruptionError,
  DelayingDisk,
  type Disk,
  IdentityMismatchError,
  openStorage,
  RealDisk,
  type RecoveredState,
  readRestoreRecord,
  type Storage,
  StorageError,
  WalFailedError,
} from '../storage/index.js';
import { FaultFilter, ForwardTunnel, PeerTls, PeerTransport } from '../transport/index.js';
import { ClusterView } from './cluster-view.js';
import { type NodeTls, readNodeTls, tlsConfigured } from './node-tls.js';
import { alarmToLeader } from './own-calls.js';

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
  /** Set when the node stopped because a committed configuration removed it from the cluster. */
  readonly removed: boolean;
  /**
   * Reads the auth file again (SIGHUP): its users are in force from the next request; requests
   * already admitted go on. A file that cannot be read or is not valid is logged and changes
   * nothing. Resolves true when the new users are in force; false without --auth-file or on failure.
   */
  reloadAuth(): Promise<boolean>;
  /**
   * Reads the TLS files again (SIGHUP): connections made from now on use the new certificates,
   * keys and CAs; open ones keep their sessions. Files that cannot be used are logged and change
   * nothing. Resolves true when the new files are in force; false without TLS or on failure.
   */
  reloadTls(): Promise<boolean>;
}

/** The data dir belongs to a node the cluster removed: it may not rejoin with it. */
export class RemovedNodeError extends Error {
  override readonly name = 'RemovedNodeError';
}

/** A graceful stop waits at most this long for requests still arriving. */
const drainTimeoutMs = 2000;

/** What a data dir the node refuses to start on is: a `cause` of the datadir.refused event. */
function refusalCause(e: unknown): string | null {
  if (e instanceof RemovedNodeError) return 'removed';
  if (e instanceof IdentityMismatchError) return 'identity';
  if (e instanceof CorruptionError) return 'corrupt';
  // An I/O failure says nothing about the data dir; any other storage error is about its files.
  if (e instanceof StorageError && !(e instanceof WalFailedError)) return 'invalid';
  return null;
}

/** Test seams: the disk the node's storage is on (default: the real file system). */
export interface NodeSeams {
  readonly disk?: Disk;
  /**
   * The newest peer protocol version the node speaks (default the newest there is): 3 makes it
   * talk to its peers as a node of the release before, which forwards writes only over HTTP.
   */
  readonly peerProtocolVersion?: number;
  /** false: writes go to the leader as HTTP requests even where the peer connection could take them. */
  readonly forwardOverPeer?: boolean;
}

export async function startNode(options: NodeOptions, seams: NodeSeams = {}): Promise<RaftkvNode> {
  const o = resolveNodeOptions(options);
  const logger = NodeLogger.of(options);
  // A bad auth file stops the start before anything is opened (AuthFileError names what is wrong).
  const authFile = options.authFile;
  let users: UserTable | null = authFile === undefined ? null : await readAuthFile(authFile);
  // Bad TLS files stop it too (TlsFileError names the file).
  const tlsFiles = options.tls ?? {};
  let tls: NodeTls | null = tlsConfigured(tlsFiles) ? await readNodeTls(tlsFiles) : null;
  const peerTls = tls?.peer == null ? undefined : new PeerTls(tls.peer);
  // Fault injection (docs/faults.md) wraps the disk and the transport only when it is enabled: a
  // node without --enable-faults runs exactly as before.
  const faultsEnabled = options.enableFaults === true;
  let diskDelayMs = 0;
  const baseDisk = seams.disk ?? new RealDisk();
  const disk = faultsEnabled ? new DelayingDisk(baseDisk, () => diskDelayMs) : baseDisk;
  // A data dir built from a backup names the new cluster it belongs to (docs/backup.md).
  const restored = await readRestoreRecord(disk, o.dataDir);
  const clusterId = clusterIdOf(options, restored);
  let storage: Storage | null = null;
  let recovered: RecoveredState;
  let core: ReturnType<typeof recoverCore>;
  let restoreMs = 0;
  try {
    // The snapshot's data stays in its file: the state machine is restored from it a window at a
    // time, and the node keeps only a reference to it (the transport streams it from the file).
    storage = await openStorage(
      disk,
      o.dataDir,
      { clusterId, nodeId: o.id },
      { logger, snapshotData: 'file', now: () => performance.now() },
    );
    recovered = storage.state;
    const restoring = performance.now();
    const restored =
      recovered.snapshot === null ? undefined : await restoreSnapshot(recovered.snapshot, storage.snapshots);
    restoreMs = performance.now() - restoring;
    core = recoverCore(o, recovered, { nextInt: (n) => randomInt(n) }, logger, restored);
    const { committed } = core.raw.membership();
    if (committed.voters.length > 0 && !isMember(committed, o.id)) {
      throw new RemovedNodeError(
        `node ${o.id} was removed from the cluster (its data dir says so): to join again, start a new member: an empty data dir, a new id and --join (docs/membership.md)`,
      );
    }
  } catch (e) {
    // The reason the node cannot start is what matters; a failure to close on the way is not.
    await storage?.close().catch(() => {});
    const cause = refusalCause(e);
    if (cause !== null) {
      logger.emit('datadir.refused', { dataDir: o.dataDir, cause, error: (e as Error).message });
    }
    throw e;
  }
  const { log, sm, raw } = core;

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
    ...(peerTls !== undefined && { peerTls }),
    // Read at each connection, so a reload takes effect at the next one.
    ...(tls?.upgrade != null && { upgradeTls: () => tls?.upgrade ?? {} }),
    ...(seams.peerProtocolVersion !== undefined && { protocolVersion: seams.peerProtocolVersion }),
    // Snapshots are streamed to followers from their files: no node keeps its snapshot's bytes.
    snapshotFiles: storage.snapshots,
  });
  // With peer TLS, writes forwarded to the leader go through tunnels that only members with a
  // certificate from the peer CA can open (the same protection as peer connections).
  const forwardTunnel =
    tls?.peer == null
      ? undefined
      : new ForwardTunnel({
          material: tls.peer,
          upgradeTls: () => tls?.upgrade ?? null,
          connectTimeoutMs: Math.min(5000, 2 * o.electionTimeoutMs),
          refused: (remote, reason) => logger.emit('peer.refused', { remote, reason }),
        });
  const metrics = new NodeMetrics();
  const faultFilter = faultsEnabled ? new FaultFilter(transport, realClock) : null;
  const driver = new Driver({
    options: o,
    raw,
    log,
    storage,
    sm,
    transport: faultFilter ?? transport,
    // A follower hands a client's write to the leader over the peer connection, unless access
    // control is on: then the leader must see the request, to check the caller's token itself.
    forwardOverPeer: users === null && seams.forwardOverPeer !== false,
    logger,
    clock: realClock,
    observer: metrics,
  });
  metrics.watch(() => readNode(driver));
  const faults = new NodeFaults(
    faultsEnabled,
    {
      self: o.id,
      isMember: (id) => isMember(driver.raw.membership().current, id),
      leaderId: () => driver.raw.status().leaderId,
      pause: () => driver.pause(),
      resume: () => driver.resume(),
      applied: (f) => {
        diskDelayMs = f.diskDelayMs;
        faultFilter?.set(f);
      },
      report: () => ({ ...driver.pauseState(), links: faultFilter?.filterStats() ?? null }),
    },
    realClock,
    logger,
  );
  metrics.watchFaults(() => ({ enabled: faultsEnabled, faults: faults.current() }));
  if (tls !== null) metrics.watchCertificates(() => tls?.expiresAt ?? null);
  const service = new NodeKvService(driver, o, clusterId);
  const dashboard = new ClusterView(service, options, realClock.now);
  const http = new KvHttpServer(service, {
    now: realClock.now,
    metrics,
    requestTimeoutMs: o.requestTimeoutMs,
    maxInflight: o.maxInflightRequests,
    ...(users !== null && {
      access: new AccessControl({
        // Read per request, so a reload takes effect at the next one.
        users: () => users as UserTable,
        metricsAuth: options.metricsAuth === true,
      }),
    }),
    maxConnectionsPerClient: o.maxConnectionsPerClient,
    slowReaderMs: o.slowReaderMs,
    faults,
    ...(tls?.https != null && { tls: tls.https }),
    ...(forwardTunnel !== undefined && { forwardTunnel }),
    peerForwardTarget: () => driver.peerForwardTarget(),
    dashboard,
    onPeerUpgrade: (req: IncomingMessage, socket: Socket, head: Buffer) => {
      transport.handleUpgrade(req, socket, head);
    },
  });

  logger.emit('node.starting', {
    dataDir: o.dataDir,
    clusterId,
    term: recovered.hardState.term,
    commitIndex: recovered.hardState.commitIndex,
    snapshot: recovered.snapshot?.meta.index ?? 0,
    entries: recovered.entries.length,
    bootstrapped: recovered.bootstrapped,
    walMs: Math.round(recovered.times.walMs),
    snapshotMs: Math.round(recovered.times.snapshotMs),
    restoreMs: Math.round(restoreMs),
  });
  // The first start on a data dir built from a backup (its log has not moved past the backup yet).
  if (
    restored !== null &&
    recovered.hardState.commitIndex <= restored.index &&
    recovered.entries.length === 0
  ) {
    logger.emit('restore.completed', {
      dataDir: o.dataDir,
      clusterId,
      sourceClusterId: restored.sourceClusterId,
      index: restored.index,
      term: restored.term,
    });
  }

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
      // A paused node (fault injection) does nothing of its own, as a stopped process would.
      if (driver.isPaused) return;
      const deadline = realClock.now() + o.requestTimeoutMs;
      if (driver.isLeader()) {
        await service.applySpace(cmd, deadline);
        return;
      }
      // Only the leader proposes; a follower's own alarm goes to it like a forwarded write.
      if (cmd.op !== 'alarm') return;
      const leader = driver.leaderAddress();
      if (leader === null) throw new NoLeaderError('no leader to take the alarm');
      // With the node's own credentials: an auth file on the leader refuses a call without a token.
      // A node serving HTTPS reaches the leader's HTTPS as it forwards writes, unless given
      // credentials of its own for these calls.
      await alarmToLeader(withOwnTls(options, tls), leader, cmd, o.requestTimeoutMs);
    },
  });
  service.diskSpace = () => spaceGuard.debugState();
  spaceGuard.start();
  logger.emit('node.listening', { address: `${address.host}:${address.port}` });
  if (faultsEnabled) logger.emit('faults.enabled', {});
  if (authFile !== undefined && users !== null) {
    logger.emit('auth.enabled', {
      file: authFile,
      users: users.users.length,
      metricsAuth: options.metricsAuth === true,
    });
    // The node's own calls (own-calls.ts) would be refused by the other nodes: say so at once.
    if (options.ownCalls?.token === undefined) logger.emit('auth.no_own_token', { file: authFile });
  } else if (!isLoopbackHost(o.listen.host)) {
    logger.emit('auth.open_network', { address: `${address.host}:${address.port}` });
  }
  if (tls !== null) {
    logger.emit('tls.enabled', {
      https: tls.https !== null,
      clientCertAuth: tlsFiles.clientCertAuth === true,
      peerTls: tls.peer !== null,
      expires: new Date(tls.expiresAt ?? 0).toISOString(),
    });
  }
  if (!isLoopbackHost(o.listen.host) && (tls?.https == null || tls.peer === null)) {
    logger.emit('tls.open_network', {
      address: `${address.host}:${address.port}`,
      https: tls?.https != null,
      peerTls: tls?.peer != null,
    });
  }
  const reloadTls = async (): Promise<boolean> => {
    if (tls === null) return false;
    let next: NodeTls;
    try {
      next = await readNodeTls(tlsFiles);
      if (next.peer !== null) {
        peerTls?.update(next.peer);
        forwardTunnel?.update(next.peer);
      }
      if (next.https !== null) http.setTls(next.https);
    } catch (e) {
      logger.emit('tls.reload_failed', { error: (e as Error).message });
      return false;
    }
    tls = next;
    logger.emit('tls.reloaded', { expires: new Date(next.expiresAt ?? 0).toISOString() });
    return true;
  };
  const reloadAuth = async (): Promise<boolean> => {
    if (authFile === undefined) return false;
    try {
      users = await readAuthFile(authFile);
    } catch (e) {
      logger.emit('auth.reload_failed', { file: authFile, error: (e as Error).message });
      return false;
    }
    logger.emit('auth.reloaded', { file: authFile, users: users.users.length });
    return true;
  };

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
    removed: false,
    reloadAuth,
    reloadTls,
    stop(): Promise<void> {
      stopping ??= (async () => {
        logger.emit('node.stopping', {});
        // A paused node resumes first: a stopped process gets its SIGTERM once continued.
        faults.close();
        spaceGuard.stop();
        const closingHttp = http.close();
        await driver.handOffLeadership();
        await driver.stop(() => new ShuttingDownError('the node is shutting down'));
        // Messages still waiting out a delay are dropped with their timers.
        faultFilter?.close();
        // Requests still arriving (a body on the way) get their 503 before connections close.
        logger.emit('node.draining', {});
        await http.drained(drainTimeoutMs);
        // Every request has been answered now; idle keep-alive connections would hold close() open.
        http.closeAllConnections();
        // Peer connections arrived as HTTP upgrades: the server's close waits for them too.
        await transport.stop();
        await closingHttp;
        // The dashboard's connections to the other members and the supervisor.
        dashboard.close();
        await storage.close();
        logger.emit('node.stopped', {});
        resolveStopped();
      })();
      return stopping;
    },
  };
  driver.onRemoved(() => {
    node.removed = true;
    void node.stop();
  });
  driver.onFatal((err) => {
    node.fatalError = err;
    logger.emit('node.fatal', { error: err.message });
    void node.stop();
  });
  return node;
}

/** The options with the node's HTTPS client identity for its own calls when none was given. */
function withOwnTls(options: NodeOptions, tls: NodeTls | null): NodeOptions {
  const own = tls?.ownCalls ?? null;
  if (own === null || options.ownCalls?.tls !== undefined) return options;
  return { ...options, ownCalls: { ...options.ownCalls, tls: own } };
}
