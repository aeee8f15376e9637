// Goal: the certificates raftkv certs makes work for mutual TLS as the nodes use it. A node:tls
// server with a node certificate that requires client certificates from the CA accepts a client
// with the client certificate, and another node with its node certificate (nodes dial each other
// with it); it refuses a client without a certificate and one whose certificate another CA
// signed. Clients check the server against the CA and the host they dial (IP and DNS SANs), and
// refuse a server with a certificate made for clients only.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import tls from 'node:tls';
import {
  addNodeCert,
  type CertAndKey,
  type ClusterCerts,
  createClusterCerts,
} from '../../src/certs/index.js';

interface Pem {
  readonly cert: Buffer;
  readonly key: Buffer;
}

async function pem(files: CertAndKey): Promise<Pem> {
  return { cert: await readFile(files.cert), key: await readFile(files.key) };
}

async function cluster(t: { after: (fn: () => Promise<void>) => void }): Promise<ClusterCerts> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-certs-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return createClusterCerts({
    nodes: [
      { id: 'n1', hosts: ['127.0.0.1'] },
      { id: 'n2', hosts: ['127.0.0.1'] },
    ],
    outDir: dir,
  });
}

type Outcome =
  | { readonly accepted: true; readonly peer: string }
  | { readonly accepted: false; readonly client: string };

/**
 * One connection from a client to a mutual-TLS server that answers with the common name of the
 * client's certificate. The connection's close settles it, so nothing waits on time: an accepted
 * client has read the answer; a refused one has not (the server destroys a connection whose
 * certificate fails without saying why, so the client's error, if any, is all there is to see).
 */
async function connect(server: tls.TlsOptions, client: tls.ConnectionOptions): Promise<Outcome> {
  const srv = tls.createServer({ ...server, requestCert: true, rejectUnauthorized: true }, (socket) => {
    socket.end(`hello ${String(socket.getPeerCertificate().subject?.CN)}`);
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  try {
    return await new Promise<Outcome>((resolve) => {
      let data = '';
      let clientError = '';
      const socket = tls.connect({ host: '127.0.0.1', port, ...client });
      socket.setEncoding('utf8');
      socket.on('data', (d: string) => {
        data += d;
      });
      socket.on('error', (e: NodeJS.ErrnoException) => {
        clientError = `${e.code ?? ''} ${e.message}`;
      });
      socket.on('close', () => {
        resolve(
          data.startsWith('hello ')
            ? { accepted: true, peer: data.slice('hello '.length) }
            : { accepted: false, client: clientError },
        );
      });
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

test('a node accepts the client certificate and other nodes, and refuses another CA and no certificate', {
  timeout: 30_000,
}, async (t) => {
  const a = await cluster(t);
  const b = await cluster(t);
  const ca = await readFile(a.ca);
  const n1 = await pem(a.nodes[0]!);
  const server = { ...n1, ca };

  const client = await connect(server, { ...(await pem(a.client)), ca });
  assert.deepEqual(client, { accepted: true, peer: 'client' });

  const peer = await connect(server, { ...(await pem(a.nodes[1]!)), ca });
  assert.deepEqual(peer, { accepted: true, peer: 'n2' }, 'a node certificate serves as a client certificate');

  const added = await addNodeCert({ caDir: path.dirname(a.ca), id: 'n3', hosts: ['127.0.0.1'] });
  assert.deepEqual(await connect(server, { ...(await pem(added)), ca }), { accepted: true, peer: 'n3' });

  const stranger = await connect(server, { ...(await pem(b.client)), ca });
  assert.equal(stranger.accepted, false, 'a client certificate from another CA is refused');

  const intruder = await connect(server, { ...(await pem(b.nodes[0]!)), ca });
  assert.equal(intruder.accepted, false, "another cluster's node is refused");

  const anonymous = await connect(server, { ca });
  assert.equal(anonymous.accepted, false, 'no certificate is refused');
});

test('clients check the server: the CA, the host dialled, and that the certificate may serve', {
  timeout: 30_000,
}, async (t) => {
  const a = await cluster(t);
  const b = await cluster(t);
  const ca = await readFile(a.ca);
  const server = { ...(await pem(a.nodes[0]!)), ca };
  const client = await pem(a.client);

  // Dialled as localhost: the DNS SAN; as 127.0.0.1 (above and here by default): the IP SAN.
  assert.equal((await connect(server, { ...client, ca, servername: 'localhost' })).accepted, true);

  const wrongCa = await connect(server, { ...client, ca: await readFile(b.ca) });
  assert.equal(wrongCa.accepted, false, 'a server the client CA did not sign is refused');
  if (!wrongCa.accepted)
    assert.match(wrongCa.client, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);

  const wrongHost = await connect(server, {
    ...client,
    ca,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity('10.9.9.9', cert),
  });
  assert.equal(wrongHost.accepted, false, 'a host the certificate does not name is refused');
  if (!wrongHost.accepted) assert.match(wrongHost.client, /ERR_TLS_CERT_ALTNAME_INVALID/);

  const clientOnly = await connect({ ...client, ca }, { ...client, ca });
  assert.equal(clientOnly.accepted, false, 'a client certificate (no serverAuth) cannot serve');
  if (!clientOnly.accepted) assert.match(clientOnly.client, /purpose/i);
});
