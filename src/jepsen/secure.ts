// --secure: the run with TLS and auth on, as a careful operator would deploy it — HTTPS with client
// certificates required, mutual peer TLS, and an auth file whose admin token the runner's clients
// and the nodes' own calls (joins, alarms) carry. One node certificate names every node's address,
// so a member that replaces another (membership nemesis) runs with the same files.

import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { ClientCredentials } from './client.js';

export interface Security {
  /** Flags for every node's `raftkv start`. */
  readonly nodeArgs: readonly string[];
  /** What the runner's clients present. */
  readonly client: ClientCredentials;
}

/** Makes the CA, certificates and auth file in `<out>/tls` for nodes at `addresses`. */
export async function prepareSecurity(outDir: string, addresses: readonly string[]): Promise<Security> {
  const dir = path.join(outDir, 'tls');
  // Loaded only for --secure: the X.509 library is not needed otherwise.
  const { createClusterCerts } = await import('../certs/index.js');
  const certs = await createClusterCerts({
    nodes: [{ id: 'node', hosts: addresses }],
    outDir: dir,
    force: true,
  });
  const node = certs.nodes[0]!;
  const token = randomBytes(24).toString('hex');
  const authFile = path.join(dir, 'auth.json');
  writeFileSync(authFile, JSON.stringify({ users: [{ name: 'jepsen', token, role: 'admin' }] }), {
    mode: 0o600,
  });
  const nodeArgs = [
    '--cert-file',
    node.cert,
    '--key-file',
    node.key,
    '--trusted-ca-file',
    certs.ca,
    '--client-cert-auth',
    '--peer-cert-file',
    node.cert,
    '--peer-key-file',
    node.key,
    '--peer-trusted-ca-file',
    certs.ca,
    '--auth-file',
    authFile,
    // The nodes' own calls (a joining member's reads, a follower's alarm) with the admin token.
    '--token',
    token,
    '--cacert',
    certs.ca,
    '--cert',
    node.cert,
    '--key',
    node.key,
  ];
  return {
    nodeArgs,
    client: {
      token,
      tls: {
        ca: readFileSync(certs.ca),
        cert: readFileSync(certs.client.cert),
        key: readFileSync(certs.client.key),
      },
    },
  };
}
