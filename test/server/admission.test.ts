// Goal: a node handles at most --max-inflight client requests at once; one more gets an immediate
// 503 busy with Retry-After (nothing proposed), operators' /health and /debug stay open, the held
// requests finish normally once they can, and the metrics count the refusals.
//
// Requests are held deterministically by sending their headers and only part of their body: the
// node counts a request from its first byte, so each one occupies a slot until its body ends.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster } from '../support/cluster.js';
import { holdPut } from '../support/http.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

test('past --max-inflight a request gets 503 busy at once; held requests then complete', async (t) => {
  const limit = 3;
  const c = await startCluster(t, { size: 1, maxInflightRequests: limit });
  const id = await c.waitForLeader();
  const port = c.port(id);

  const held = Array.from({ length: limit }, (_, i) => holdPut(port, `held-${i}`, `v${i}`));
  // The node counts each held request once it has parsed its headers.
  await waitFor(
    `${limit} requests in flight`,
    async () => ((await c.debug(id)).admission as { inflight: number }).inflight === limit,
    { timeoutMs: 10_000 },
  );

  // One more of any /kv kind is refused at once, definitely (nothing was done), with Retry-After.
  for (const refused of [
    await c.put(id, 'one-too-many', 'x'),
    await c.get(id, 'held-0'),
    await c.request(id, 'GET', '/kv?prefix=held'),
    await c.request(id, 'DELETE', '/kv/held-0'),
  ]) {
    assert.equal(refused.status, 503, refused.text);
    assert.equal(refused.body.code, 'busy', refused.text);
    assert.equal(refused.body.definite, true, refused.text);
    assert.match(refused.body.error, /limit/);
    assert.equal(refused.headers['retry-after'], '1');
  }
  // The operators' endpoints are not counted.
  assert.equal((await c.request(id, 'GET', '/health')).status, 200);
  const debug = await c.debug(id);
  const { requests, ...admission } = debug.admission as { requests: number };
  assert.deepEqual(admission, { inflight: limit, maxInflight: limit, refusedBusy: 4 });
  assert.ok(requests >= limit + 4 + 1, `every request counted, refused or not: ${requests}`);
  // So do the metrics: the refusals by reason, and each refused request under its route and 503.
  const metrics = parseExposition(await c.client(id).metrics());
  assert.equal(seriesValue(metrics, 'raftkv_requests_rejected_total', { reason: 'max_inflight' }), 4);
  for (const route of ['put', 'get', 'list', 'delete']) {
    assert.equal(seriesValue(metrics, 'raftkv_http_requests_total', { route, code: '503' }), 1, route);
  }

  // The held requests were never refused, and complete normally.
  const answers = await Promise.all(held.map((h) => h.finish()));
  answers.forEach((a, i) => {
    assert.equal(a.status, 200, a.text);
    assert.equal(a.body.value, `v${i}`);
  });
  assert.equal((await c.get(id, 'one-too-many')).status, 404, 'the refused put wrote nothing');
  assert.equal((await c.put(id, 'after', 'y')).status, 200);
  assert.equal(((await c.debug(id)).admission as { inflight: number }).inflight, 0);
});

test('a request whose body does not arrive within the request timeout is dropped and frees its slot', async (t) => {
  const c = await startCluster(t, { size: 1, maxInflightRequests: 1, requestTimeoutMs: 1000 });
  const id = await c.waitForLeader();
  const held = holdPut(c.port(id), 'never', 'finished');
  const inflight = async (): Promise<number> =>
    ((await c.debug(id)).admission as { inflight: number }).inflight;
  await waitFor('the held request counted', async () => (await inflight()) === 1, { timeoutMs: 10_000 });
  assert.equal((await c.put(id, 'blocked', 'x')).status, 503);
  // Once the request timeout has passed (Node checks every second) the server answers 408 in the
  // API's error shape and closes the connection; the slot is free again.
  const answer = await held.answered.catch((e: unknown) => ({ status: 0, text: String(e), body: null }));
  assert.equal(answer.status, 408, `held request: ${answer.status} ${answer.text}`);
  assert.deepEqual(
    {
      code: (answer.body as { code?: unknown }).code,
      definite: (answer.body as { definite?: unknown }).definite,
    },
    { code: 'request_timeout', definite: true },
  );
  await waitFor('the slot freed', async () => (await inflight()) === 0, { timeoutMs: 10_000 });
  // Answered on the raw socket: counted under route "malformed", with its status.
  const metrics = parseExposition(await c.client(id).metrics());
  assert.equal(seriesValue(metrics, 'raftkv_http_requests_total', { route: 'malformed', code: '408' }), 1);
  assert.equal((await c.put(id, 'after', 'y')).status, 200);
  assert.equal((await c.get(id, 'never')).status, 404, 'the dropped put wrote nothing');
});
