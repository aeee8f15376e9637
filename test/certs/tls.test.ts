// Goal: the certificates raftkv certs makes work for mutual TLS as the nodes use it. A node:tls
// server with a node certificate that requires client certificates from the CA accepts a client
// with the client certificate, and another node with its node certificate (nodes dial each other
// with it); it refuses a client without a certificate and one whose certificate another CA
// signed. Clients check the server against the CA and the host they dial (IP and DNS SANs), and
// refuse a server with a certificate made for clients only.

import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
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
import { mutualTlsHandshake } from '../support/tls-handshake.js';

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

test('a node accepts the client certificate and other nodes, and refuses another CA and no certificate', {
  timeout: 30_000,
}, async (t) => {
  const a = await cluster(t);
  const b = await cluster(t);
  const ca = await readFile(a.ca);
  const n1 = await pem(a.nodes[0]!);
  const server = { ...n1, ca };

  const client = await mutualTlsHandshake(server, { ...(await pem(a.client)), ca });
  assert.deepEqual(client, { accepted: true, peer: 'client' });

  const peer = await mutualTlsHandshake(server, { ...(await pem(a.nodes[1]!)), ca });
  assert.deepEqual(peer, { accepted: true, peer: 'n2' }, 'a node certificate serves as a client certificate');

  const added = await addNodeCert({ caDir: path.dirname(a.ca), id: 'n3', hosts: ['127.0.0.1'] });
  assert.deepEqual(await mutualTlsHandshake(server, { ...(await pem(added)), ca }), {
    accepted: true,
    peer: 'n3',
  });

  const stranger = await mutualTlsHandshake(server, { ...(await pem(b.client)), ca });
  assert.equal(stranger.accepted, false, 'a client certificate from another CA is refused');

  const intruder = await mutualTlsHandshake(server, { ...(await pem(b.nodes[0]!)), ca });
  assert.equal(intruder.accepted, false, "another cluster's node is refused");

  const anonymous = await mutualTlsHandshake(server, { ca });
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
  assert.equal((await mutualTlsHandshake(server, { ...client, ca, servername: 'localhost' })).accepted, true);

  const wrongCa = await mutualTlsHandshake(server, { ...client, ca: await readFile(b.ca) });
  assert.equal(wrongCa.accepted, false, 'a server the client CA did not sign is refused');
  if (!wrongCa.accepted)
    assert.match(wrongCa.client, /SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE/);

  const wrongHost = await mutualTlsHandshake(server, {
    ...client,
    ca,
    checkServerIdentity: (_host, cert) => tls.checkServerIdentity('10.9.9.9', cert),
  });
  assert.equal(wrongHost.accepted, false, 'a host the certificate does not name is refused');
  if (!wrongHost.accepted) assert.match(wrongHost.client, /ERR_TLS_CERT_ALTNAME_INVALID/);

  const clientOnly = await mutualTlsHandshake({ ...client, ca }, { ...client, ca });
  assert.equal(clientOnly.accepted, false, 'a client certificate (no serverAuth) cannot serve');
  if (!clientOnly.accepted) assert.match(clientOnly.client, /purpose/i);
});
