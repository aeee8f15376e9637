// Everything a node is started with, and its defaults (etcd's where they exist).

import type { HostPort } from '../api/addresses.js';
import type { ClientTls } from '../client/index.js';
import type { ReadMode } from '../raft/index.js';

export type { HostPort } from '../api/addresses.js';

export type LogFormat = 'text' | 'json';

export interface NodeOptions {
  /** This node's id; must be a key of `cluster`. */
  readonly id: string;
  /** The initial membership: every node's id and the address clients and peers reach it at. */
  readonly cluster: Readonly<Record<string, HostPort>>;
  /** Holds everything the node must not lose. */
  readonly dataDir: string;
  /** Names the cluster (checked in the data dir and in peer handshakes). Default: derived from `cluster`. */
  readonly clusterToken?: string;
  /**
   * This node joins a running cluster (docs/membership.md): it starts with no membership and
   * never campaigns until the cluster's log makes it a voter; `cluster` names only itself, and
   * `clusterToken` must be the running cluster's id. Ignored once the data dir holds a membership.
   */
  readonly joining?: boolean;
  /** Bind address; defaults to this node's own entry in `cluster`. */
  readonly listen?: HostPort;
  /** Milliseconds between leader heartbeats; one core tick. Default 100 (etcd's). */
  readonly heartbeatIntervalMs?: number;
  /** Milliseconds without a leader before an election. Default 1000 (etcd's). */
  readonly electionTimeoutMs?: number;
  /** Every client request is answered within this many milliseconds (504 otherwise). Default 5000. */
  readonly requestTimeoutMs?: number;
  /**
   * Take a snapshot after this many applied entries (for snapshots past 8 MiB, also not before as
   * many bytes were applied since; see snapshotter.ts). Default 100000 (etcd 3.4's snapshot-count).
   */
  readonly snapshotEvery?: number;
  /** Entries kept in the log behind a snapshot, for slow followers. Default 5000 (etcd's). */
  readonly snapshotCatchUpEntries?: number;
  /**
   * Client KV requests one node handles at once; past it a request is answered at once with 503
   * busy (and Retry-After), so memory stays bounded however many clients pile on. Default 512.
   */
  readonly maxInflightRequests?: number;
  /**
   * Connections one client address may hold open; the next gets 429 too_many_connections and is
   * closed. 0: no limit. Default 1024.
   */
  readonly maxConnectionsPerClient?: number;
  /** A connection whose client has not read an answer this long after it was written is closed. Default 30 s. */
  readonly slowReaderMs?: number;
  /** 'safe' (ReadIndex, default) or 'lease' (§6.4.1; its assumptions: docs/read-modes.md). */
  readonly readMode?: ReadMode;
  /** A leader whose fsync runs longer than this hands leadership over. Default: the election timeout. */
  readonly diskStallMs?: number;
  /**
   * Writes that would grow the replicated state past this many bytes (as the state machine
   * counts them, docs/space.md) are refused with no_space; 0 means no quota. Default 1 GiB.
   */
  readonly quotaBytes?: number;
  /**
   * Below this much free space in the data dir the node raises its no-space alarm and the cluster
   * refuses growing writes until it clears. 0 turns the guard off. Default 256 MiB (4 WAL segments).
   */
  readonly minFreeBytes?: number;
  readonly logFormat?: LogFormat;
  /** Where log lines go; default stderr. */
  readonly logSink?: (line: string) => void;
  /** Minimum level logged. Default 'info'. */
  readonly logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /**
   * Users, roles and tokens (docs/security.md); re-read by reloadAuth() (SIGHUP). Without it every
   * route is open to anyone who reaches the port.
   */
  readonly authFile?: string;
  /** With authFile: GET /metrics needs an admin's token too (default: open, like the probes). */
  readonly metricsAuth?: boolean;
  /**
   * What the node presents when it calls another node's HTTP API itself — its no-space alarm sent
   * to the leader: the token of an admin user (needed when the nodes run with an auth file), and
   * for https the CA to trust and a client certificate (docs/security.md, "Nodes' own calls").
   */
  readonly ownCalls?: { readonly token?: string; readonly tls?: ClientTls };
  /** HTTPS and peer TLS (docs/security.md); the files are re-read by reloadTls() (SIGHUP). */
  readonly tls?: NodeTlsFiles;
  /**
   * Accept fault injection through /admin/faults (docs/faults.md): cut links, pause the node,
   * slow its disk and its messages. For test clusters only. Default off (403 faults_disabled).
   */
  readonly enableFaults?: boolean;
  /**
   * The supervisor that runs this node (`raftkv cluster`): its control API on loopback and the
   * token it takes. The dashboard's kill and restart buttons go through it
   * (POST /ui/nodes/{id}/process); without it they answer 404 not_supervised.
   */
  readonly supervisor?: SupervisorSetting;
}

/** Where the supervisor's control API is (docs/cli.md, "Killing and restarting nodes"). */
export interface SupervisorSetting {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly token: string;
}

/** The TLS flags of `raftkv start`, as file paths. */
export interface NodeTlsFiles {
  /** Serve HTTPS with this certificate (chain) and key. */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The CA of client certificates (with clientCertAuth); members' HTTPS is checked against it too. */
  readonly trustedCaFile?: string;
  /** Clients must present a certificate signed by trustedCaFile. */
  readonly clientCertAuth?: boolean;
  /** Peer connections are mutually authenticated with these, whatever the port serves clients. */
  readonly peerCertFile?: string;
  readonly peerKeyFile?: string;
  readonly peerTrustedCaFile?: string;
}

export interface ResolvedNodeOptions {
  readonly id: string;
  readonly cluster: Readonly<Record<string, HostPort>>;
  readonly joining: boolean;
  readonly dataDir: string;
  readonly listen: HostPort;
  readonly heartbeatIntervalMs: number;
  readonly electionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly snapshotEvery: number;
  readonly snapshotCatchUpEntries: number;
  readonly maxInflightRequests: number;
  readonly maxConnectionsPerClient: number;
  readonly slowReaderMs: number;
  readonly readMode: ReadMode;
  readonly diskStallMs: number;
  readonly quotaBytes: number;
  readonly minFreeBytes: number;
  readonly logFormat: LogFormat;
  readonly logSink: (line: string) => void;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** etcd's default backend quota is 2 GiB of disk; ours counts memory, which is about 2x that. */
export const defaultQuotaBytes = 1024 * 1024 * 1024;
/** Four WAL segments: room for the writes already in flight and a snapshot's worth of work. */
export const defaultMinFreeBytes = 256 * 1024 * 1024;

export class NodeOptionsError extends Error {
  override name = 'NodeOptionsError';
}

export function resolveNodeOptions(o: NodeOptions): ResolvedNodeOptions {
  const self = o.cluster[o.id];
  if (!self) throw new NodeOptionsError(`node id "${o.id}" is not in the cluster list`);
  if (o.joining === true && o.clusterToken === undefined) {
    throw new NodeOptionsError('a joining node must be given the running cluster’s id');
  }
  const heartbeatIntervalMs = o.heartbeatIntervalMs ?? 100;
  const electionTimeoutMs = o.electionTimeoutMs ?? 1000;
  if (!(heartbeatIntervalMs >= 1)) throw new NodeOptionsError('heartbeat interval must be at least 1 ms');
  if (!(electionTimeoutMs >= 5 * heartbeatIntervalMs)) {
    throw new NodeOptionsError(
      `election timeout (${electionTimeoutMs} ms) must be at least 5 heartbeat intervals (${5 * heartbeatIntervalMs} ms)`,
    );
  }
  const snapshotEvery = o.snapshotEvery ?? 100_000;
  if (!(snapshotEvery >= 1)) throw new NodeOptionsError('snapshot interval must be at least 1 entry');
  const maxInflightRequests = o.maxInflightRequests ?? 512;
  if (!(Number.isInteger(maxInflightRequests) && maxInflightRequests >= 1)) {
    throw new NodeOptionsError('max in-flight requests must be a whole number of at least 1');
  }
  const maxConnectionsPerClient = o.maxConnectionsPerClient ?? 1024;
  if (!(Number.isSafeInteger(maxConnectionsPerClient) && maxConnectionsPerClient >= 0)) {
    throw new NodeOptionsError('max connections per client must be a whole number ≥ 0');
  }
  const slowReaderMs = o.slowReaderMs ?? 30_000;
  if (!(Number.isSafeInteger(slowReaderMs) && slowReaderMs >= 1)) {
    throw new NodeOptionsError('the slow reader timeout must be a whole number of ms ≥ 1');
  }
  const quotaBytes = o.quotaBytes ?? defaultQuotaBytes;
  const minFreeBytes = o.minFreeBytes ?? defaultMinFreeBytes;
  for (const [what, v] of [
    ['quota bytes', quotaBytes],
    ['min free bytes', minFreeBytes],
  ] as const) {
    if (!(Number.isSafeInteger(v) && v >= 0))
      throw new NodeOptionsError(`${what} must be a whole number ≥ 0`);
  }
  return {
    id: o.id,
    cluster: o.cluster,
    joining: o.joining === true,
    dataDir: o.dataDir,
    listen: o.listen ?? self,
    heartbeatIntervalMs,
    electionTimeoutMs,
    requestTimeoutMs: o.requestTimeoutMs ?? 5000,
    snapshotEvery,
    snapshotCatchUpEntries: o.snapshotCatchUpEntries ?? 5000,
    maxInflightRequests,
    maxConnectionsPerClient,
    slowReaderMs,
    readMode: o.readMode ?? 'safe',
    diskStallMs: o.diskStallMs ?? electionTimeoutMs,
    quotaBytes,
    minFreeBytes,
    logFormat: o.logFormat ?? 'text',
    logSink: o.logSink ?? ((line) => process.stderr.write(`${line}\n`)),
    logLevel: o.logLevel ?? 'info',
  };
}
