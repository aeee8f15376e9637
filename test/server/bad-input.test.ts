// Goal: every malformed or oversized request gets a clear JSON error with the documented status, and the node keeps serving.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_KEY_BYTES, MAX_VALUE_BYTES } from '../../src/kv/limits.js';
import { maxBodyBytes } from '../../src/server/validate.js';
import { TestCluster } from '../support/cluster.js';
import type { Answer } from '../support/http.js';
import { waitFor } from '../support/wait.js';

/** An error answer: the status, JSON `{error: message, code, definite}`, and the message mentions `about`. */
function assertError(r: Answer, status: number, code: string, about?: RegExp): void {
  assert.equal(r.status, status, `expected ${status}, got ${r.status}: ${r.text}`);
  assert.match(String(r.headers['content-type']), /application\/json/);
  assert.equal(typeof r.body?.error, 'string', `no error message in ${r.text}`);
  assert.ok(r.body.error.length > 0);
  assert.equal(r.body.code, code, r.text);
  assert.equal(r.body.definite, true, 'a rejected request certainly did nothing');
  if (about) assert.match(r.body.error, about);
}

describe('bad input', () => {
  let c: TestCluster;
  let leader: string;
  let follower: string;
  let writes = 0;

  before(async () => {
    c = await TestCluster.start({ size: 3 });
    leader = await c.waitForLeader();
    follower = c.followerOf(leader);
  });
  after(() => c.cleanup());

  /** After each rejection both nodes still answer reads and writes. */
  async function stillWorks(): Promise<void> {
    writes++;
    for (const id of [leader, follower]) {
      const put = await c.put(id, `ok-${writes}-${id}`, 'fine');
      assert.equal(put.status, 200, `${id} still writes: ${put.text}`);
      const get = await c.get(id, `ok-${writes}-${id}`);
      assert.equal(get.status, 200, `${id} still reads: ${get.text}`);
    }
  }

  const post = (id: string, body: unknown, headers?: Record<string, string>) =>
    c.request(id, 'POST', '/kv', { body, ...(headers ? { headers } : {}) });

  test('invalid JSON is 400 on leader and follower', async () => {
    for (const id of [leader, follower]) {
      assertError(await post(id, '{"key": "a", "value": '), 400, 'bad_request', /JSON/);
      assertError(await post(id, 'not json at all'), 400, 'bad_request', /JSON/);
      assertError(await post(id, ''), 400, 'bad_request', /JSON/);
    }
    await stillWorks();
  });

  test('a body that is not an object is 400', async () => {
    for (const body of ['[]', '"key"', '42', 'null', '[{"key":"a","value":"b"}]']) {
      assertError(await post(follower, body), 400, 'bad_request', /object/);
    }
    await stillWorks();
  });

  test('missing or non-string key and value are 400 naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ value: 'v' }, /key/],
      [{ key: 'k' }, /value/],
      [{}, /key/],
      [{ key: 1, value: 'v' }, /key/],
      [{ key: null, value: 'v' }, /key/],
      [{ key: ['a'], value: 'v' }, /key/],
      [{ key: 'k', value: 5 }, /value/],
      [{ key: 'k', value: null }, /value/],
      [{ key: 'k', value: { nested: true } }, /value/],
      [{ key: 'k', value: 'v', prevValue: 7 }, /prevValue/],
    ];
    for (const [body, about] of cases) {
      for (const id of [leader, follower]) assertError(await post(id, body), 400, 'bad_request', about);
    }
    await stillWorks();
  });

  test('an empty key is 400, in the body and in the path', async () => {
    assertError(await post(leader, { key: '', value: 'v' }), 400, 'bad_request', /empty/);
    assertError(await c.request(follower, 'GET', '/kv/'), 400, 'bad_request', /empty/);
    assertError(await c.request(leader, 'DELETE', '/kv/'), 400, 'bad_request', /empty/);
    await stillWorks();
  });

  test('unknown fields are 400 naming the field', async () => {
    assertError(await post(leader, { key: 'k', value: 'v', ttl: 5 }), 400, 'bad_request', /ttl/);
    assertError(
      await post(follower, { key: 'k', value: 'v', prev_value: 'x' }),
      400,
      'bad_request',
      /prev_value/,
    );
    assert.equal((await c.get(leader, 'k')).status, 404, 'nothing was written');
    await stillWorks();
  });

  test('a lone surrogate (not UTF-8) is 400', async () => {
    // JSON.stringify keeps a lone surrogate as the escape \udc00, which JSON.parse turns back into one.
    assertError(await post(leader, { key: 'k\udc00', value: 'v' }), 400, 'bad_request', /UTF-8/);
    assertError(await post(leader, { key: 'k', value: '\ud800' }), 400, 'bad_request', /UTF-8/);
    assertError(await c.request(leader, 'GET', '/kv/%E0%A4%A'), 400, 'bad_request', /URL-encoded/);
    await stillWorks();
  });

  test('a key over 4096 bytes is 413; exactly 4096 is fine', async () => {
    const limitKey = 'k'.repeat(MAX_KEY_BYTES);
    const put = await post(follower, { key: limitKey, value: 'max' });
    assert.equal(put.status, 200, put.text);
    assert.equal((await c.get(leader, limitKey)).body.value, 'max');

    const long = 'k'.repeat(MAX_KEY_BYTES + 1);
    assertError(await post(leader, { key: long, value: 'v' }), 413, 'too_large', /4096/);
    assertError(await post(follower, { key: long, value: 'v' }), 413, 'too_large', /4096/);
    // Multi-byte: 1366 × 3 bytes = 4098 bytes in 1366 characters.
    assertError(await post(leader, { key: '€'.repeat(1366), value: 'v' }), 413, 'too_large', /bytes/);
    assertError(await c.request(leader, 'GET', `/kv/${long}`), 413, 'too_large');
    assertError(await c.request(follower, 'DELETE', `/kv/${long}`), 413, 'too_large');
    await stillWorks();
  });

  test('a value over 1 MiB is 413; exactly 1 MiB is fine', async () => {
    const max = 'v'.repeat(MAX_VALUE_BYTES);
    const put = await post(follower, { key: 'big', value: max });
    assert.equal(put.status, 200, put.text);
    const got = await c.get(leader, 'big');
    assert.equal(got.body.value.length, MAX_VALUE_BYTES);

    assertError(await post(leader, { key: 'big', value: `${max}v` }), 413, 'too_large', /value/);
    assertError(
      await post(follower, { key: 'big', value: 'x', prevValue: `${max}v` }),
      413,
      'too_large',
      /prevValue/,
    );
    assert.equal((await c.get(leader, 'big')).body.value.length, MAX_VALUE_BYTES, 'unchanged');
    await stillWorks();
  });

  test('a body over the limit is 413, with Content-Length and chunked', async () => {
    const huge = Buffer.alloc(maxBodyBytes + 1, 0x20);
    assertError(await post(leader, huge), 413, 'too_large', /limit/);
    assertError(await post(follower, huge), 413, 'too_large', /limit/);
    const chunked = await c.request(leader, 'POST', '/kv', { body: huge, chunked: true });
    assertError(chunked, 413, 'too_large', /limit/);
    await stillWorks();
  });

  test('a bad ?consistency is 400', async () => {
    assertError(
      await c.request(leader, 'GET', '/kv/alpha?consistency=eventual'),
      400,
      'bad_request',
      /consistency/,
    );
    assertError(await c.request(follower, 'GET', '/kv?consistency=STALE'), 400, 'bad_request', /consistency/);
    assertError(await c.request(follower, 'GET', '/kv?consistency='), 400, 'bad_request', /consistency/);
    await stillWorks();
  });

  test('a bad ?limit is 400', async () => {
    for (const limit of ['0', '-1', '1.5', 'ten', '', '10001', '1e400']) {
      assertError(
        await c.request(follower, 'GET', `/kv?prefix=a&limit=${encodeURIComponent(limit)}`),
        400,
        'bad_request',
        /limit/,
      );
    }
    await stillWorks();
  });

  test('a bad Idempotency-Key is 400 on every write route, leader and follower', async () => {
    const bad = ['x'.repeat(257), '', 'caf\u00e9'];
    for (const id of [leader, follower]) {
      for (const key of bad) {
        const headers = { 'Idempotency-Key': key };
        assertError(await post(id, { key: 'k', value: 'v' }, headers), 400, 'bad_request', /Idempotency-Key/);
        assertError(
          await post(id, { key: 'k', value: 'v', prevValue: null }, headers),
          400,
          'bad_request',
          /Idempotency-Key/,
        );
        // Once a 500 "internal" with definite: false for the empty key.
        assertError(
          await c.request(id, 'DELETE', '/kv/k', { headers }),
          400,
          'bad_request',
          /Idempotency-Key/,
        );
      }
    }
    await stillWorks();
  });

  test('unknown routes and methods are 404 not_found', async () => {
    const cases: [string, string][] = [
      ['GET', '/'],
      ['GET', '/nope'],
      ['PUT', '/kv'],
      ['PUT', '/kv/a'],
      ['PATCH', '/kv/a'],
      ['POST', '/debug'],
      ['DELETE', '/kv'],
      ['GET', '/kvx/a'],
    ];
    for (const [method, p] of cases) {
      assertError(await c.request(follower, method, p, { body: '{}' }), 404, 'not_found', /no route/);
    }
    await stillWorks();
  });

  test('no node crashed or stopped on any of it', async () => {
    for (const id of c.ids) {
      assert.equal(c.node(id)?.fatalError, null);
      // Healthy = knows the leader and has applied everything committed (a moment after a write).
      await waitFor(`${id} healthy`, async () => (await c.request(id, 'GET', '/health')).status === 200, {
        timeoutMs: 10_000,
      });
    }
  });
});
