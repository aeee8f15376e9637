// A stand-in for a node's HTTP API over TLS, for the client side of TLS: an https server with node
// n1's test certificate (tls-certs.ts) that answers GET /kv/{key} with the name (CN) of the client
// certificate it was shown as the value ("anonymous" without one), GET /debug and
// GET /cluster/members with minimal answers of the API's shape, and notes every request's
// Authorization header. Closed after the test.

import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { AfterHook } from './node-process.js';
import { LOOPBACK } from './ports.js';
import type { TestCerts } from './tls-certs.js';

export interface HttpsStub {
  /** `https://host:port` */
  readonly url: string;
  /** `host:port` */
  readonly address: string;
  /** Each request's method and path, its Authorization header, and the client certificate's CN. */
  readonly seen: { method: string; path: string; authorization?: string; clientName?: string }[];
}

export interface HttpsStubOptions {
  /** none: no client certificate asked for; optional: asked for, not required; required. */
  readonly clientCerts?: 'none' | 'optional' | 'required';
  /** Where it listens (default 127.0.0.1): another loopback address is outside the cert's names. */
  readonly host?: string;
}

export async function httpsStub(t: AfterHook, certs: TestCerts, options: HttpsStubOptions = {}) {
  const mode = options.clientCerts ?? 'none';
  const n1 = certs.node('n1');
  const server = https.createServer({
    cert: await readFile(n1.cert),
    key: await readFile(n1.key),
    ca: await readFile(certs.ca),
    requestCert: mode !== 'none',
    rejectUnauthorized: mode === 'required',
  });
  const seen: HttpsStub['seen'] = [];
  server.on('request', (req, res) => {
    const peer = (req.socket as TLSSocket).getPeerCertificate();
    const cn = peer?.subject?.CN;
    const clientName = typeof cn === 'string' ? cn : undefined;
    const path = req.url ?? '/';
    seen.push({
      method: req.method ?? '',
      path,
      ...(req.headers.authorization !== undefined && { authorization: req.headers.authorization }),
      ...(clientName !== undefined && { clientName }),
    });
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const key = /^\/kv\/([^?]+)/.exec(path)?.[1];
    if (req.method === 'GET' && key !== undefined) {
      json(200, {
        key: decodeURIComponent(key),
        value: clientName ?? 'anonymous',
        index: 1,
        version: 1,
        createIndex: 1,
        modIndex: 1,
      });
    } else if (req.method === 'GET' && path === '/debug') {
      json(200, {
        nodeId: 'n1',
        state: 'leader',
        term: 1,
        leaderId: 'n1',
        commitIndex: 1,
        lastApplied: 1,
        logLength: 1,
      });
    } else if (req.method === 'GET' && path.startsWith('/cluster/members')) {
      json(200, {
        members: [{ id: 'n1', address: server.address() === null ? '' : address(), role: 'voter' }],
        leaderId: 'n1',
        index: 0,
        clusterId: 'stub-cluster',
      });
    } else {
      json(404, { error: `no route ${path}`, code: 'not_found', definite: true });
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, options.host ?? LOOPBACK, () => resolve());
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const address = (): string => {
    const a = server.address() as AddressInfo;
    return `${a.address}:${a.port}`;
  };
  const stub: HttpsStub = { url: `https://${address()}`, address: address(), seen };
  return stub;
}
