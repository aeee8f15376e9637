// Goal: an auth file is taken whole or refused whole with a message naming what is wrong, and a
// token finds its user — in the clear or as a salted hash — and nothing else does.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AuthFileError, hashToken, parseAuthFile, parseTokenHash } from '../../src/auth/index.js';

const readerToken = 'reader-token-0123456789';
const adminToken = 'admin-token-0123456789ab';

test('users with tokens in the clear or hashed are found by their bearer token, and only by it', () => {
  const table = parseAuthFile(
    JSON.stringify({
      users: [
        { name: 'reader', token: readerToken, role: 'read', prefixes: ['app/'] },
        { name: 'admin', tokenHash: hashToken(adminToken), role: 'admin' },
      ],
    }),
  );
  assert.deepEqual(
    { ...table.byAuthorization(`Bearer ${readerToken}`) },
    { ...table.users[0]!, name: 'reader', role: 'read', prefixes: ['app/'] },
  );
  assert.equal(table.byAuthorization(`bearer ${adminToken}`)?.name, 'admin');
  assert.equal(table.byAuthorization(undefined), null);
  assert.equal(table.byAuthorization(`Bearer ${readerToken}x`), null);
  assert.equal(table.byAuthorization(`Basic ${readerToken}`), null);
  assert.equal(table.byAuthorization(readerToken), null);
  assert.equal(table.byAuthorization('Bearer '), null);
  assert.equal(table.users[1]!.prefixes, null, 'no prefixes: every key');
});

test('a token hash carries its salt: the same token hashes differently each time, and both match', () => {
  const a = hashToken(adminToken);
  const b = hashToken(adminToken);
  assert.notEqual(a, b);
  assert.match(a, /^sha256\$[0-9a-f]{32}\$[0-9a-f]{64}$/);
  for (const h of [a, b]) {
    const table = parseAuthFile(JSON.stringify({ users: [{ name: 'x', tokenHash: h, role: 'read' }] }));
    assert.equal(table.byToken(adminToken)?.name, 'x');
    assert.equal(table.byToken(readerToken), null);
  }
  assert.equal(parseTokenHash('sha256$00$' + '0'.repeat(64)), null, 'a salt shorter than 8 bytes');
  assert.equal(parseTokenHash('md5$0011223344556677$' + '0'.repeat(32)), null);
});

test('a file that is wrong is refused with a message naming what is wrong', () => {
  const user = { name: 'u', token: readerToken, role: 'read' };
  const cases: [unknown, RegExp][] = [
    ['{"users": [', /not valid JSON/],
    [[], /must be a JSON object \{"users": \[\.\.\.\]\}/],
    [{ users: [] }, /users is empty/],
    [{ users: [user], extra: 1 }, /unknown field "extra"/],
    [
      { users: [{ ...user, role: 'root' }] },
      /user "u": role must be "read", "readwrite", "admin"; got "root"/,
    ],
    [{ users: [{ ...user, role: undefined }] }, /user "u": role must be/],
    [{ users: [{ ...user, name: '' }] }, /users\[0\]\.name must be a non-empty string/],
    [{ users: [{ ...user, token: 'short' }] }, /user "u": token must be 16 to 512 printable ASCII/],
    [{ users: [{ ...user, tokenHash: hashToken('x'.repeat(16)) }] }, /exactly one of token and tokenHash/],
    [{ users: [{ name: 'u', role: 'read' }] }, /exactly one of token and tokenHash/],
    [{ users: [{ name: 'u', role: 'read', tokenHash: 'sha256$zz$00' }] }, /tokenHash must be "sha256\$/],
    [{ users: [{ ...user, prefixes: 'app/' }] }, /user "u": prefixes must be a list of non-empty/],
    [{ users: [{ ...user, prefixes: [''] }] }, /prefixes must be a list of non-empty/],
    [{ users: [{ ...user, password: 'x' }] }, /users\[0\]: unknown field "password"/],
    [{ users: [user, { ...user, token: adminToken }] }, /user "u" is named twice/],
    [{ users: [user, { ...user, name: 'v' }] }, /user "v" has the token of another user/],
  ];
  for (const [file, message] of cases) {
    const text = typeof file === 'string' ? file : JSON.stringify(file);
    assert.throws(
      () => parseAuthFile(text),
      (e: unknown) => e instanceof AuthFileError && message.test(e.message),
      text,
    );
  }
});
