// Goal: the openssl recipe in docs/security.md ("The same with openssl") works as written: run
// as it stands, it makes a CA, three node certificates (serverAuth and clientAuth, loopback SANs)
// and a client certificate (clientAuth) that verify against the CA, with keys 0600, and a node
// certificate serves mutual TLS to the client and to another node. Skipped without openssl.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { addNodeCert } from '../../src/certs/index.js';
import { opensslMissing } from '../support/tls-certs.js';
import { mutualTlsHandshake } from '../support/tls-handshake.js';

const run = promisify(execFile);
const doc = new URL('../../../docs/security.md', import.meta.url);

/** The first sh block after the heading. */
function recipe(markdown: string, heading: string): string {
  const at = markdown.indexOf(`\n${heading}\n`);
  assert.ok(at >= 0, `docs/security.md has "${heading}"`);
  const block = /```sh\n([\s\S]*?)\n```/.exec(markdown.slice(at));
  assert.ok(block, `a sh block under "${heading}"`);
  return block[1]!;
}

test('the openssl recipe of docs/security.md makes certificates that work', {
  timeout: 60_000,
}, async (t) => {
  const missing = await opensslMissing();
  if (missing !== null) {
    t.skip(missing);
    return;
  }
  const script = recipe(await readFile(doc, 'utf8'), '### The same with openssl');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'raftkv-openssl-recipe-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', script], { cwd: dir });
  assert.match(stdout, /n1\.pem: OK\nn2\.pem: OK\nn3\.pem: OK\nclient\.pem: OK/);

  const certs = path.join(dir, 'certs');
  const names = ['ca', 'n1', 'n2', 'n3', 'client'];
  assert.deepEqual((await readdir(certs)).sort(), names.flatMap((n) => [`${n}-key.pem`, `${n}.pem`]).sort());
  const file = (name: string): string => path.join(certs, name);
  const load = async (name: string): Promise<X509Certificate> =>
    new X509Certificate(await readFile(file(name)));
  const ca = await load('ca.pem');
  assert.ok(ca.ca && ca.checkIssued(ca));
  for (const id of ['n1', 'n2', 'n3']) {
    const c = await load(`${id}.pem`);
    assert.equal(c.subject, `CN=${id}`);
    assert.ok(c.verify(ca.publicKey), `${id} signed by the CA`);
    assert.deepEqual([...(c.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
    assert.equal(c.checkIP('127.0.0.1'), '127.0.0.1');
    assert.equal(c.checkIP('::1'), '::1');
    assert.equal(c.checkHost('localhost'), 'localhost');
  }
  const client = await load('client.pem');
  assert.ok(client.verify(ca.publicKey));
  assert.deepEqual(client.keyUsage, ['1.3.6.1.5.5.7.3.2']);
  for (const n of names) assert.equal((await stat(file(`${n}-key.pem`))).mode & 0o777, 0o600, `${n}-key.pem`);

  const caPem = await readFile(file('ca.pem'));
  const server = { cert: await readFile(file('n1.pem')), key: await readFile(file('n1-key.pem')), ca: caPem };
  const pair = async (n: string) => ({
    cert: await readFile(file(`${n}.pem`)),
    key: await readFile(file(`${n}-key.pem`)),
  });
  assert.deepEqual(await mutualTlsHandshake(server, { ...(await pair('client')), ca: caPem }), {
    accepted: true,
    peer: 'client',
  });
  assert.deepEqual(
    await mutualTlsHandshake(server, { ...(await pair('n2')), ca: caPem, servername: 'localhost' }),
    {
      accepted: true,
      peer: 'n2',
    },
  );

  // raftkv certs add signs with the CA the recipe made.
  const n4 = await addNodeCert({ caDir: certs, id: 'n4', hosts: ['127.0.0.1'], days: 30 });
  assert.ok((await load('n4.pem')).verify(ca.publicKey));
  assert.deepEqual(await mutualTlsHandshake(server, { ...(await pair('n4')), ca: caPem }), {
    accepted: true,
    peer: 'n4',
  });
  assert.equal(n4.cert, file('n4.pem'));
});
