// The hosts a node certificate names. A peer checks the server's certificate against the host it
// dials (an IP SAN for an address, a DNS SAN for a name), and clients on the node's own machine use
// loopback, so every node certificate also names 127.0.0.1, ::1 and localhost. Pure.

import { isIP } from 'node:net';

/** Named by every node certificate, whatever hosts it is given. */
export const loopbackHosts: readonly string[] = ['127.0.0.1', '::1', 'localhost'];

/** What the subjectAltName extension holds: addresses and DNS names, each once, in order. */
export interface SanHosts {
  readonly ips: readonly string[];
  readonly dns: readonly string[];
}

// RFC 1123 labels; "_" is let through because container and compose service names use it, and
// TLS clients compare DNS SANs as strings.
const dnsLabel = /^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$/;

/** `[v6]` as `v6`, a name in lower case (DNS names compare without case); an IP as written. */
export function normalizeHost(host: string): string {
  const bracketed = /^\[(.+)\]$/.exec(host);
  const bare = bracketed ? bracketed[1]! : host;
  return isIP(bare) === 0 ? bare.toLowerCase() : bare;
}

/** Why `host` cannot be named in a certificate, or null when it can. */
export function hostProblem(host: string): string | null {
  const h = normalizeHost(host);
  if (h === '') return 'an empty host';
  if (isIP(h) !== 0) return null;
  if (h.includes(':'))
    return `"${host}" is neither an IP address nor a host name (give the host without a port)`;
  if (h.length > 253 || !h.split('.').every((label) => dnsLabel.test(label))) {
    return `"${host}" is not a host name (letters, digits, "-" and "_" in dot-separated labels) or an IP address`;
  }
  return null;
}

/** The SANs of a node certificate for `hosts`: the hosts given, then the loopback ones. */
export function sanHosts(hosts: readonly string[]): SanHosts {
  const ips: string[] = [];
  const dns: string[] = [];
  for (const raw of [...hosts, ...loopbackHosts]) {
    const h = normalizeHost(raw);
    const list = isIP(h) === 0 ? dns : ips;
    if (!list.includes(h)) list.push(h);
  }
  return { ips, dns };
}
