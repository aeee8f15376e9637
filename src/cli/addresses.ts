// Parsing of the address forms the CLI accepts: `host:port`, `[v6]:port`, `id=host:port,...`
// cluster lists, the seed's `PEER_IDS` and client endpoint lists. Pure.

import { formatHostPort, type HostPort, isNodeId } from '../api/addresses.js';
import { UsageError } from './args.js';

export function checkNodeId(id: string, what: string): string {
  if (!isNodeId(id)) {
    throw new UsageError(
      `${what} "${id}" is not a valid node id (letters, digits, ".", "_", "-"; at most 128)`,
    );
  }
  return id;
}

/**
 * `host:port` or `[ipv6]:port`; `:port` alone means every interface when `allowEmptyHost`.
 * Without a port, `defaultPort` is used if given.
 */
export function parseHostPort(
  raw: string,
  what: string,
  opts: { allowEmptyHost?: boolean; defaultPort?: number } = {},
): HostPort {
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(raw);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else {
    const colon = raw.lastIndexOf(':');
    if (colon >= 0 && raw.indexOf(':') !== colon) {
      throw new UsageError(`${what}: write an IPv6 address in brackets, as [${raw}]:PORT`);
    }
    host = colon < 0 ? raw : raw.slice(0, colon);
    portText = colon < 0 ? undefined : raw.slice(colon + 1);
  }
  if (host === '') {
    if (!opts.allowEmptyHost) throw new UsageError(`${what}: "${raw}" has no host (expected HOST:PORT)`);
    host = '0.0.0.0';
  }
  if (/[\s/,=]/.test(host)) throw new UsageError(`${what}: "${host}" is not a host name or address`);
  let port: number;
  if (portText === undefined) {
    if (opts.defaultPort === undefined)
      throw new UsageError(`${what}: "${raw}" has no port (expected HOST:PORT)`);
    port = opts.defaultPort;
  } else {
    if (!/^\d+$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      throw new UsageError(`${what}: "${portText}" in "${raw}" is not a port (1-65535)`);
    }
    port = Number(portText);
  }
  return { host, port };
}

export { formatHostPort };

function addMember(cluster: Record<string, HostPort>, id: string, addr: HostPort, what: string): void {
  const existing = cluster[id];
  if (existing) {
    if (existing.host === addr.host && existing.port === addr.port) return;
    throw new UsageError(`${what}: node id "${id}" appears twice with different addresses`);
  }
  for (const [other, a] of Object.entries(cluster)) {
    if (a.host === addr.host && a.port === addr.port) {
      throw new UsageError(`${what}: nodes "${other}" and "${id}" share the address ${formatHostPort(a)}`);
    }
  }
  cluster[id] = addr;
}

/** `n1=127.0.0.1:7001,n2=127.0.0.1:7002,...` */
export function parseCluster(raw: string, what = '--cluster'): Record<string, HostPort> {
  const cluster: Record<string, HostPort> = {};
  const entries = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (entries.length === 0) throw new UsageError(`${what} is empty (expected ID=HOST:PORT,...)`);
  for (const entry of entries) {
    const eq = entry.indexOf('=');
    if (eq < 0) throw new UsageError(`${what}: "${entry}" is not ID=HOST:PORT`);
    const id = checkNodeId(entry.slice(0, eq).trim(), what);
    addMember(cluster, id, parseHostPort(entry.slice(eq + 1).trim(), what), what);
  }
  return cluster;
}

/**
 * The seed's form: this node is `selfId` at `selfId:port`, and every `PEER_IDS` entry
 * `host[:port]` is a node whose id is its host (as in the seed's docker-compose file).
 */
export function clusterFromPeerIds(selfId: string, port: number, peerIds: string): Record<string, HostPort> {
  const cluster: Record<string, HostPort> = {};
  addMember(cluster, selfId, { host: selfId, port }, 'PEER_IDS');
  for (const entry of peerIds.split(',')) {
    const e = entry.trim();
    if (e === '') continue;
    const addr = parseHostPort(e, 'PEER_IDS', { defaultPort: port });
    addMember(cluster, checkNodeId(addr.host, 'PEER_IDS host'), addr, 'PEER_IDS');
  }
  return cluster;
}

/** A server the client commands talk to. */
export interface Endpoint {
  /** As the user wrote it, for messages: `127.0.0.1:7001`. */
  readonly label: string;
  /** Base URL without a trailing slash: `http://127.0.0.1:7001`. */
  readonly url: string;
}

/** `host:port,...`, each optionally with `http://` or `https://`. */
export function parseEndpoints(
  raw: string,
  what = '--endpoints',
  defaultScheme: 'http' | 'https' = 'http',
): Endpoint[] {
  const out: Endpoint[] = [];
  for (const entry of raw.split(',')) {
    const e = entry.trim().replace(/\/+$/, '');
    if (e === '') continue;
    const scheme = /^(https?):\/\//.exec(e);
    const rest = scheme ? e.slice(scheme[0].length) : e;
    const addr = parseHostPort(rest, what);
    const label = formatHostPort(addr);
    out.push({ label, url: `${scheme ? scheme[1] : defaultScheme}://${label}` });
  }
  if (out.length === 0) throw new UsageError(`${what} is empty (expected HOST:PORT,...)`);
  return out;
}
