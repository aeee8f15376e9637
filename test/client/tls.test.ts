// Goal: the API client talks to https:// endpoints with the CA it is given, and presents a client
// certificate when given one, kept-alive connections or fresh ones alike; every way the handshake
// can fail — a certificate of another CA, one not for this host, a node that requires a client
// certificate, or one that does not trust the one shown — is a RaftkvConnectionError whose message
// names the TLS cause, and says the request never arrived. TLS options that cannot work are refused
// when the client is made. Certificates are made by openssl in a temp dir.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { test } from 'node:test';
import {
  type ClientTls,
  RaftkvClient,
  RaftkvConnectionError,
  TlsOptionsError,
} from '../../src/client/index.js';
import { httpsStub } from '../support/https-stub.js';
import { makeTestCerts, opensslMissing } from '../support/tls-certs.js';

const skip = (await opensslMissing()) ?? false;

/** A TLS failure: no answer, nothing sent, the message naming the cause. */
function tlsFailure(cause: RegExp) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof RaftkvConnectionError, String(e));
    assert.match(e.message, /TLS: /);
    assert.match(e.message, cause);
    assert.equal(e.connected, false, 'a failed handshake sent no request');
    return true;
  };
}

test('https with the CA given: kept-alive and fresh connections; the client certificate presented when given', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'optional' });
  const ca = await readFile(certs.ca);
  const withCert: ClientTls = {
    ca: certs.caPem,
    cert: await readFile(certs.client.cert, 'utf8'),
    key: await readFile(certs.client.key),
  };
  for (const keepAlive of [true, false]) {
    const anonymous = new RaftkvClient(stub.url, { keepAlive, tls: { ca } });
    const named = new RaftkvClient(stub.url, { keepAlive, tls: withCert, token: 't0123456789abcdef' });
    try {
      assert.equal(
        (await anonymous.get('k')).value,
        'anonymous',
        `keepAlive ${keepAlive}: no certificate shown`,
      );
      assert.equal((await named.get('k')).value, 'client', `keepAlive ${keepAlive}: the client certificate`);
      assert.equal((await named.get('k2')).value, 'client', 'again (a kept-alive connection reused)');
    } finally {
      anonymous.close();
      named.close();
    }
  }
  assert.equal(stub.seen.at(-1)?.authorization, 'Bearer t0123456789abcdef', 'the token goes over TLS too');
});

test('a node certificate of an unknown CA, or none given: a TLS error naming it; the download too', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs);
  const untrusted = /not signed by a trusted CA/;
  await assert.rejects(new RaftkvClient(stub.url, { keepAlive: false }).get('k'), tlsFailure(untrusted));
  const other = new RaftkvClient(stub.url, { tls: { ca: await readFile(certs.other.ca) } });
  await assert.rejects(other.get('k'), tlsFailure(untrusted));
  await assert.rejects(
    other.backup(() => {}),
    tlsFailure(untrusted),
  );
  other.close();
  assert.equal(stub.seen.length, 0, 'no request reached the node');
});

test('a certificate not for the host connected to: a TLS error naming the host', { skip }, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  // 127.0.0.2 is loopback too, but not among the certificate's names (127.0.0.1, ::1, localhost).
  const stub = await httpsStub(t, certs, { host: '127.0.0.2' }).catch(() => null);
  if (stub === null) {
    t.skip('cannot listen on 127.0.0.2');
    return;
  }
  const client = new RaftkvClient(stub.url, { keepAlive: false, tls: { ca: certs.caPem } });
  await assert.rejects(client.get('k'), tlsFailure(/not for this host: .*127\.0\.0\.2/));
});

test('a node that requires a client certificate: none shown, or one it does not trust, is refused by name', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const stub = await httpsStub(t, certs, { clientCerts: 'required' });
  const ca = certs.caPem;
  await assert.rejects(
    new RaftkvClient(stub.url, { keepAlive: false, tls: { ca } }).get('k'),
    tlsFailure(/requires a client certificate/),
  );
  // A certificate of another CA: TLS 1.3 may close the connection with no alert first; either way
  // the message points at the client certificate.
  const intruder = new RaftkvClient(stub.url, {
    keepAlive: false,
    tls: {
      ca,
      cert: await readFile(certs.other.intruder.cert),
      key: await readFile(certs.other.intruder.key),
    },
  });
  await assert.rejects(intruder.get('k'), (e: unknown) => {
    assert.ok(e instanceof RaftkvConnectionError, String(e));
    assert.match(e.message, /TLS: (the node refused the handshake|.*may not trust the client certificate)/);
    return true;
  });
  const client = new RaftkvClient(stub.url, {
    keepAlive: false,
    tls: { ca, cert: await readFile(certs.client.cert), key: await readFile(certs.client.key) },
  });
  assert.equal((await client.get('k')).value, 'client');
});

test('a connection closed after a handshake that presented a client certificate, before any answer: said to be a refusal of the certificate, on a fresh connection only', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const n1 = certs.node('n1');
  // Asks for a client certificate and takes any; /kv/cut reads the request and closes the
  // connection, noting whether the request was the first on it (the handshake was its own).
  const served = new WeakMap<Socket, number>();
  const cuts: boolean[] = [];
  const server = https.createServer(
    {
      cert: await readFile(n1.cert),
      key: await readFile(n1.key),
      ca: await readFile(certs.ca),
      requestCert: true,
      rejectUnauthorized: false,
    },
    (req, res) => {
      const n = (served.get(req.socket) ?? 0) + 1;
      served.set(req.socket, n);
      if (req.url === '/kv/cut') {
        cuts.push(n === 1);
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ key: 'k', value: 'v', index: 1, version: 1, createIndex: 1, modIndex: 1 }));
    },
  );
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const withCert: ClientTls = {
    ca: certs.caPem,
    cert: await readFile(certs.client.cert),
    key: await readFile(certs.client.key),
  };
  const note =
    /^TLS: the node closed the connection right after the handshake: it may not trust the client certificate/;
  /** The reason a cut request failed with, and whether the node saw it first on its connection. */
  const cut = async (client: RaftkvClient): Promise<{ reason: string; first: boolean }> => {
    const before = cuts.length;
    const e = await client.get('cut').then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(e instanceof RaftkvConnectionError, String(e));
    assert.equal(cuts.length, before + 1, 'the node read the request');
    return { reason: e.reason, first: cuts.at(-1) === true };
  };

  const fresh = new RaftkvClient(url, { keepAlive: false, tls: withCert });
  assert.match((await cut(fresh)).reason, note, 'a fresh connection per request');

  const pooled = new RaftkvClient(url, { tls: withCert });
  t.after(() => pooled.close());
  assert.match((await cut(pooled)).reason, note, 'the first request on a pooled connection');
  // On a kept-alive connection that has answered before, a cut is not about the certificate.
  // (undici rests a connection for a turn of the event loop after an answer: let it.)
  let reused = 0;
  for (let i = 0; i < 10 && reused < 2; i++) {
    assert.equal((await pooled.get('k')).value, 'v');
    await new Promise((resolve) => setImmediate(resolve));
    const { reason, first } = await cut(pooled);
    if (first) assert.match(reason, note, 'a connection made for it');
    else {
      reused++;
      assert.doesNotMatch(reason, /TLS/, 'a connection that answered before');
    }
  }
  assert.equal(reused, 2, 'cut requests on reused connections');

  const anonymous = new RaftkvClient(url, { tls: { ca: certs.caPem } });
  t.after(() => anonymous.close());
  assert.doesNotMatch((await cut(anonymous)).reason, /TLS/, 'no certificate presented');
});

test('TLS options that cannot work are refused when the client is made; http:// ignores them', {
  skip,
}, async (t) => {
  const certs = await makeTestCerts(t, ['n1']);
  const cert = await readFile(certs.client.cert);
  const key = await readFile(certs.client.key);
  const make = (tls: ClientTls) => () => new RaftkvClient('https://127.0.0.1:1', { tls });
  const refused = (field: string, message: RegExp) => (e: unknown) =>
    e instanceof TlsOptionsError && e.field === field && message.test(e.message);
  assert.throws(make({ cert }), refused('key', /needs its key/));
  assert.throws(make({ key }), refused('cert', /needs its client certificate/));
  assert.throws(make({ ca: 'not a certificate' }), refused('ca', /no PEM certificate/));
  assert.throws(make({ ca: key }), refused('ca', /no PEM certificate/));
  assert.throws(make({ cert: key, key }), refused('cert', /no PEM certificate/));
  assert.throws(
    make({ cert, key: await readFile(certs.other.intruder.key) }),
    refused('key', /not the client certificate/),
  );
  assert.doesNotThrow(make({ ca: [certs.caPem, await readFile(certs.other.ca)], cert, key }));
  assert.doesNotThrow(() => new RaftkvClient('http://127.0.0.1:1', { tls: { cert } }), 'ignored for http');
});
