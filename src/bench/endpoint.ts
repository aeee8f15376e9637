// A load target as the bench's own HTTP requests reach it: host, port and a keep-alive agent of
// its own (https with the bench's TLS options). Shared by the raw request path and the scraper.

import http from 'node:http';
import https from 'node:https';
import type { ClientTls } from '../client/index.js';
import { httpsOptionsOf } from '../client/tls.js';

export interface AgentEndpoint {
  readonly secure: boolean;
  readonly host: string;
  readonly port: number;
  readonly agent: http.Agent;
}

/** `endpoint` (`host:port` or a URL) with a keep-alive agent of at most `maxSockets` connections. */
export function agentEndpoint(
  endpoint: string,
  maxSockets: number,
  tls: ClientTls | undefined,
): AgentEndpoint {
  const url = new URL(/^https?:\/\//.test(endpoint) ? endpoint : `http://${endpoint}`);
  const secure = url.protocol === 'https:';
  const agentOptions = { keepAlive: true, maxSockets };
  return {
    secure,
    // URL keeps an IPv6 address in brackets; the socket wants it bare.
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: Number(url.port || (secure ? 443 : 80)),
    agent: secure
      ? new https.Agent({ ...agentOptions, ...(tls !== undefined && httpsOptionsOf(tls)) })
      : new http.Agent(agentOptions),
  };
}
