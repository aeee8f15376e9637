// Node ids and `host:port` addresses as every layer writes them — the CLI, the HTTP API, the
// membership the core carries, the node that dials its peers — so that what one accepts, the
// others can use. Pure.

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** host:port, with an IPv6 host in brackets. */
export function formatHostPort(a: HostPort): string {
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** A host as formatHostPort writes it: no space, `/`, `,`, `=` or brackets (IPv6 goes inside them). */
const plainHost = /^[^\s/,=[\]:]+$/;
const bracketed = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/;

/** `host:port` or `[ipv6]:port` with a port in 1..65535, as formatHostPort writes it; else null. */
export function parseHostPort(address: string): HostPort | null {
  let host: string;
  let portText: string;
  const v6 = bracketed.exec(address);
  if (v6 !== null) {
    host = v6[1] as string;
    portText = v6[2] as string;
  } else {
    const colon = address.lastIndexOf(':');
    if (colon < 0) return null;
    host = address.slice(0, colon);
    portText = address.slice(colon + 1);
    if (!plainHost.test(host) || !/^\d{1,5}$/.test(portText)) return null;
  }
  const port = Number(portText);
  return port >= 1 && port <= 65535 ? { host, port } : null;
}

/** Node ids name data directories and log lines: letters, digits, `.`, `_`, `-`, at most 128. */
const nodeIdPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function isNodeId(id: string): boolean {
  return nodeIdPattern.test(id);
}

/**
 * Whether a bind host reaches only this machine: 127.0.0.0/8, ::1 or localhost. An empty host,
 * 0.0.0.0 and :: bind every interface.
 */
export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1').toLowerCase();
  return bare === 'localhost' || bare === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare);
}
