// Goal: the files raftkv certs makes are what docs/security.md says: a CA (basicConstraints CA,
// keyCertSign/cRLSign, ten years) that signed every node certificate (CN the node id, SANs its
// hosts and 127.0.0.1, ::1, localhost, EKU serverAuth and clientAuth, the days asked for) and the
// client certificate (CN the user, EKU clientAuth only); keys are P-256, PKCS#8 PEM, mode 0600;
// nothing is overwritten without force, and a CA made before (by raftkv or by openssl) signs more.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { addNodeCert, CertsError, createClusterCerts } from '../../src/certs/index.js';
import { makeTestCerts, opensslMissing } from '../support/tls-certs.js';

const run = promisify(execFile);
const serverAuth = '1.3.6.1.5.5.7.3.1';
const clientAuth = '1.3.6.1.5.5.7.3.2';
const dayMs = 24 * 60 * 60 * 1000;

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-certs-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function cert(file: string): Promise<X509Certificate> {
  return new X509Certificate(await readFile(file));
}

/** The certificate as `openssl x509 -text` shows it, or null without openssl. */
async function opensslText(file: string): Promise<string | null> {
  if ((await opensslMissing()) !== null) return null;
  return (await run('openssl', ['x509', '-in', file, '-noout', '-text'])).stdout;
}

/** Within a minute of `expected` (the files are made during the test). */
function near(actual: string, expected: number, what: string): void {
  const t = Date.parse(actual);
  assert.ok(Math.abs(t - expected) < 60_000, `${what}: ${actual}`);
}

async function checkKey(keyFile: string, certificate: X509Certificate): Promise<void> {
  const pem = await readFile(keyFile, 'utf8');
  assert.match(pem, /^-----BEGIN PRIVATE KEY-----\n/, `${keyFile} is PKCS#8 PEM`);
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600, `${keyFile} is 0600`);
  const key = createPrivateKey(pem);
  assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1', 'P-256');
  assert.ok(certificate.checkPrivateKey(key), `${keyFile} belongs to its certificate`);
}

test('a cluster: the CA, three node certificates and a client certificate, all checked', async (t) => {
  const dir = path.join(await tempDir(t), 'certs');
  const now = Date.now();
  const made = await createClusterCerts({
    nodes: [
      { id: 'n1', hosts: ['10.0.0.1'] },
      { id: 'n2', hosts: ['node2.example.com'] },
      { id: 'n3', hosts: ['[fd00::3]', '127.0.0.1'] },
    ],
    outDir: dir,
    days: 30,
    clientName: 'app',
  });
  assert.deepEqual((await readdir(dir)).sort(), [
    'ca-key.pem',
    'ca.pem',
    'client-key.pem',
    'client.pem',
    'n1-key.pem',
    'n1.pem',
    'n2-key.pem',
    'n2.pem',
    'n3-key.pem',
    'n3.pem',
  ]);
  assert.equal((await stat(dir)).mode & 0o777, 0o700, 'the directory holds keys: 0700');
  assert.equal(made.ca, path.join(dir, 'ca.pem'));
  assert.deepEqual(made.nodes[2], {
    id: 'n3',
    cert: path.join(dir, 'n3.pem'),
    key: path.join(dir, 'n3-key.pem'),
    hosts: ['fd00::3', '127.0.0.1', '::1', 'localhost'],
  });

  const ca = await cert(made.ca);
  assert.ok(ca.ca, 'basicConstraints CA:TRUE');
  assert.ok(ca.checkIssued(ca) && ca.verify(ca.publicKey), 'self-signed');
  assert.match(ca.subject, /^O=raftkv\nCN=raftkv CA [0-9a-f]{8}$/);
  near(ca.validTo, now + 3650 * dayMs, 'the CA lasts ten years');
  assert.ok(Date.parse(ca.validFrom) <= now);
  await checkKey(made.caKey, ca);
  const caText = await opensslText(made.ca);
  if (caText !== null) {
    assert.match(caText, /Basic Constraints: critical\s+CA:TRUE/);
    assert.match(caText, /Key Usage: critical\s+Certificate Sign, CRL Sign\n/);
  }

  const hostsOf: Record<string, { ips: string[]; dns: string[] }> = {
    n1: { ips: ['10.0.0.1'], dns: [] },
    n2: { ips: [], dns: ['node2.example.com'] },
    n3: { ips: ['fd00::3'], dns: [] },
  };
  for (const node of made.nodes) {
    const c = await cert(node.cert);
    assert.equal(c.subject, `CN=${node.id}`);
    assert.equal(c.issuer, ca.subject);
    assert.ok(c.checkIssued(ca), `${node.id} issued by the CA`);
    assert.ok(c.verify(ca.publicKey), `${node.id} signed by the CA`);
    assert.ok(!c.ca, 'not a CA');
    assert.deepEqual([...(c.keyUsage ?? [])].sort(), [serverAuth, clientAuth], 'EKU serverAuth, clientAuth');
    const { ips, dns } = hostsOf[node.id]!;
    for (const ip of [...ips, '127.0.0.1', '::1']) assert.equal(c.checkIP(ip), ip, `${node.id} names ${ip}`);
    for (const name of [...dns, 'localhost'])
      assert.equal(c.checkHost(name), name, `${node.id} names ${name}`);
    assert.equal(c.checkIP('10.9.9.9'), undefined, 'and nothing else');
    assert.equal(c.checkHost('other.example.com'), undefined);
    near(c.validTo, now + 30 * dayMs, `${node.id} lasts the days asked for`);
    assert.ok(Date.parse(c.validFrom) <= now, 'valid already');
    await checkKey(node.key, c);
    const text = await opensslText(node.cert);
    if (text !== null) {
      assert.match(
        text,
        /Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
      );
      assert.match(text, /Key Usage: critical\s+Digital Signature\n/);
      assert.match(text, /Basic Constraints: critical\s+CA:FALSE/);
    }
  }

  const client = await cert(made.client.cert);
  assert.equal(client.subject, 'CN=app');
  assert.ok(client.checkIssued(ca) && client.verify(ca.publicKey));
  assert.deepEqual(client.keyUsage, [clientAuth], 'EKU clientAuth only');
  assert.equal(client.subjectAltName, undefined);
  await checkKey(made.client.key, client);
});

test('defaults: 365 days and the client named "client"; every certificate has its own serial; at most as long as the CA', async (t) => {
  const dir = await tempDir(t);
  const now = Date.now();
  const made = await createClusterCerts({ nodes: [{ id: 'a', hosts: ['127.0.0.1'] }], outDir: dir });
  const a = await cert(made.nodes[0]!.cert);
  const client = await cert(made.client.cert);
  near(a.validTo, now + 365 * dayMs, 'a year');
  assert.equal(client.subject, 'CN=client');
  const serials = new Set([(await cert(made.ca)).serialNumber, a.serialNumber, client.serialNumber]);
  assert.equal(serials.size, 3);

  // As long as the CA: they end together, and the CA is not taken to end first.
  const longest = await createClusterCerts({
    nodes: [{ id: 'a', hosts: [] }],
    outDir: dir,
    days: 3650,
    force: true,
  });
  assert.equal((await cert(longest.nodes[0]!.cert)).validTo, (await cert(longest.ca)).validTo);
});

test('files already there: refused, naming them, writing nothing; force overwrites', async (t) => {
  const dir = await tempDir(t);
  await writeFile(path.join(dir, 'n2-key.pem'), 'mine');
  const nodes = [
    { id: 'n1', hosts: ['127.0.0.1'] },
    { id: 'n2', hosts: ['127.0.0.1'] },
  ];
  await assert.rejects(
    createClusterCerts({ nodes, outDir: dir }),
    (e: unknown) => e instanceof CertsError && /n2-key\.pem already exists: not overwriting/.test(e.message),
  );
  assert.deepEqual(await readdir(dir), ['n2-key.pem'], 'nothing written');
  assert.equal(await readFile(path.join(dir, 'n2-key.pem'), 'utf8'), 'mine');

  const first = await createClusterCerts({ nodes, outDir: dir, force: true });
  const firstCa = await readFile(first.ca, 'utf8');
  await checkKey(first.nodes[1]!.key, await cert(first.nodes[1]!.cert));
  await assert.rejects(
    createClusterCerts({ nodes, outDir: dir }),
    /ca\.pem, .*client-key\.pem already exist:/,
  );
  assert.equal(await readFile(first.ca, 'utf8'), firstCa, 'the CA is kept');
  await createClusterCerts({ nodes, outDir: dir, force: true });
  assert.notEqual(await readFile(first.ca, 'utf8'), firstCa, 'a new CA');
});

test('what cannot be made is refused before anything is written', async (t) => {
  const dir = await tempDir(t);
  const outDir = path.join(dir, 'out');
  const cases: [Parameters<typeof createClusterCerts>[0], RegExp][] = [
    [{ nodes: [], outDir }, /no nodes/],
    [{ nodes: [{ id: 'ca', hosts: [] }], outDir }, /node id "ca" would overwrite the CA's files/],
    [{ nodes: [{ id: 'client', hosts: [] }], outDir }, /would overwrite the client's files/],
    [{ nodes: [{ id: 'a/b', hosts: [] }], outDir }, /"a\/b" is not a valid node id/],
    [
      { nodes: [{ id: 'n1', hosts: ['host:7001'] }], outDir },
      /node n1: "host:7001" is neither .* without a port/,
    ],
    [{ nodes: [{ id: 'n1', hosts: ['bad host'] }], outDir }, /"bad host" is not a host name/],
    [{ nodes: [{ id: 'n1', hosts: ['-x.example'] }], outDir }, /is not a host name/],
    [
      {
        nodes: [
          { id: 'n1', hosts: [] },
          { id: 'n1', hosts: [] },
        ],
        outDir,
      },
      /node n1 is given twice/,
    ],
    [
      { nodes: [{ id: 'n1', hosts: [] }], outDir, days: 0 },
      /days must be a whole number from 1 to 3650, got 0/,
    ],
    [{ nodes: [{ id: 'n1', hosts: [] }], outDir, days: 3651 }, /got 3651/],
    [{ nodes: [{ id: 'n1', hosts: [] }], outDir, clientName: '' }, /client name "" must be 1-64 characters/],
  ];
  for (const [options, message] of cases) {
    await assert.rejects(createClusterCerts(options), (e: unknown) => {
      assert.ok(e instanceof CertsError, String(e));
      assert.match(e.message, message);
      return true;
    });
  }
  assert.deepEqual(await readdir(dir), [], 'no directory made');
});

test('addNodeCert: one more node signed by the same CA; refusals name what is wrong', async (t) => {
  const dir = await tempDir(t);
  const made = await createClusterCerts({ nodes: [{ id: 'n1', hosts: ['127.0.0.1'] }], outDir: dir });
  const ca = await cert(made.ca);
  const n4 = await addNodeCert({ caDir: dir, id: 'n4', hosts: ['10.0.0.4', 'n4.internal'], days: 10 });
  assert.deepEqual(n4.hosts, ['10.0.0.4', '127.0.0.1', '::1', 'n4.internal', 'localhost']);
  const c = await cert(n4.cert);
  assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey));
  assert.equal(c.subject, 'CN=n4');
  assert.equal(c.checkIP('10.0.0.4'), '10.0.0.4');
  assert.equal(c.checkHost('n4.internal'), 'n4.internal');
  assert.deepEqual([...(c.keyUsage ?? [])].sort(), [serverAuth, clientAuth]);
  await checkKey(n4.key, c);

  await assert.rejects(
    addNodeCert({ caDir: dir, id: 'n4', hosts: ['x'] }),
    /n4\.pem, .*n4-key\.pem already exist/,
  );
  await addNodeCert({ caDir: dir, id: 'n4', hosts: ['x'], force: true });
  assert.equal((await cert(n4.cert)).checkHost('x'), 'x', 'replaced');

  const elsewhere = path.join(dir, 'elsewhere');
  const n5 = await addNodeCert({ caDir: dir, outDir: elsewhere, id: 'n5', hosts: ['127.0.0.1'] });
  assert.equal(n5.cert, path.join(elsewhere, 'n5.pem'));
  assert.ok((await cert(n5.cert)).verify(ca.publicKey));

  await assert.rejects(
    addNodeCert({ caDir: path.join(dir, 'none'), id: 'n6', hosts: ['h'] }),
    /cannot read the CA certificate .*none\/ca\.pem/,
  );
  await assert.rejects(
    addNodeCert({ caDir: dir, id: 'n6', hosts: ['h'], days: 3650, now: new Date(Date.now() + 86_400_000) }),
    /would outlive the CA/,
  );
  const other = await tempDir(t);
  await createClusterCerts({ nodes: [{ id: 'n1', hosts: [] }], outDir: other });
  await copyFile(path.join(other, 'ca-key.pem'), path.join(dir, 'ca-key.pem'));
  await assert.rejects(
    addNodeCert({ caDir: dir, id: 'n6', hosts: ['h'] }),
    /the CA key does not belong to the CA certificate/,
  );
  await copyFile(path.join(other, 'n1.pem'), path.join(other, 'ca.pem'));
  await assert.rejects(addNodeCert({ caDir: other, id: 'n6', hosts: ['h'] }), /is not a CA/);
  await writeFile(path.join(other, 'ca.pem'), 'not a certificate');
  await assert.rejects(addNodeCert({ caDir: other, id: 'n6', hosts: ['h'] }), /not a PEM certificate/);
});

test('addNodeCert with a CA made by openssl', async (t) => {
  const missing = await opensslMissing();
  if (missing !== null) {
    t.skip(missing);
    return;
  }
  const certs = await makeTestCerts(t, []);
  const n9 = await addNodeCert({
    caDir: certs.dir,
    outDir: path.join(certs.dir, 'more'),
    id: 'n9',
    hosts: ['::1'],
    days: 10,
  });
  const ca = await cert(certs.ca);
  const c = await cert(n9.cert);
  assert.ok(c.checkIssued(ca) && c.verify(ca.publicKey));
  await run('openssl', ['verify', '-CAfile', certs.ca, '-purpose', 'sslserver', n9.cert]);
  await run('openssl', ['verify', '-CAfile', certs.ca, '-purpose', 'sslclient', n9.cert]);
});
