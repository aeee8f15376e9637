// Goal: the read menu's index options on a real in-process cluster. `minIndex` gives
// read-your-writes on any node — a stale read on a follower with the index a write answered with
// always sees that write, and the answer's index is at least it — and a node that does not reach
// the index in time answers 504 timeout; `startAfter` pages through a prefix in key order with no
// key missed or repeated; malformed values are 400 naming the parameter.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KV_LIMITS } from '../../src/kv/index.js';
import { startCluster } from '../support/cluster.js';

test('minIndex: read-your-writes on a follower; an index not reached in time is a 504', async (t) => {
  const c = await startCluster(t, { size: 3, requestTimeoutMs: 1000 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  for (let i = 0; i < 20; i++) {
    const put = await c.putRetrying(leader, `ryw/${i}`, `v${i}`);
    assert.equal(put.status, 200, put.text);
    const index = Number(put.body.index);
    const got = await c.request(follower, 'GET', `/kv/ryw%2F${i}?consistency=stale&minIndex=${index}`);
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.value, `v${i}`, 'a stale read at minIndex sees the write');
    assert.ok(Number(got.body.index) >= index);
  }
  // Linearizable and minIndex together, and minIndex 0 (always reached).
  const both = await c.request(follower, 'GET', '/kv/ryw%2F0?minIndex=0');
  assert.equal(both.status, 200, both.text);

  const status = await c.debug(leader);
  const far = status.commitIndex + 1_000_000;
  const late = await c.request(follower, 'GET', `/kv/ryw%2F0?consistency=stale&minIndex=${far}`);
  assert.equal(late.status, 504, late.text);
  assert.equal(late.body.code, 'timeout');
});

test('startAfter pages through a prefix: every key once, in order', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  const keys = Array.from({ length: 25 }, (_, i) => `page/${String(i).padStart(2, '0')}`);
  for (const k of [...keys].reverse()) assert.equal((await c.putRetrying(id, k, k)).status, 200);
  assert.equal((await c.putRetrying(id, 'pagf', 'outside the prefix')).status, 200);
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const q: string = after === null ? '' : `&startAfter=${encodeURIComponent(after)}`;
    const a = await c.request(id, 'GET', `/kv?prefix=page%2F&limit=10${q}`);
    assert.equal(a.status, 200, a.text);
    const items = a.body.items as { key: string }[];
    seen.push(...items.map((i) => i.key));
    if (a.body.more !== true) break;
    after = items.at(-1)!.key;
  }
  assert.deepEqual(seen, keys);
  // A cursor past every key: an empty last page.
  const empty = await c.request(id, 'GET', '/kv?prefix=page%2F&startAfter=page%2F99');
  assert.deepEqual(empty.body.items, []);
  assert.equal(empty.body.more, false);
});

test('malformed minIndex and startAfter are 400 (413 for a cursor past the key limit), naming the parameter', async (t) => {
  const c = await startCluster(t, { size: 1 });
  const id = await c.waitForLeader();
  for (const bad of ['-1', 'abc', '1.5', '', '99999999999999999']) {
    const a = await c.request(id, 'GET', `/kv/k?minIndex=${encodeURIComponent(bad)}`);
    assert.equal(a.status, 400, `${bad}: ${a.text}`);
    assert.match(String(a.body.error), /minIndex/);
  }
  const twice = await c.request(id, 'GET', '/kv?prefix=a&minIndex=1&minIndex=2');
  assert.equal(twice.status, 400);
  const long = await c.request(id, 'GET', `/kv?prefix=a&startAfter=${'x'.repeat(KV_LIMITS.maxKeyBytes + 1)}`);
  assert.equal(long.status, 413, long.text);
  assert.match(String(long.body.error), /startAfter/);
});

test('consistency=lease: read-your-writes through the leader lease, on the leader and on a follower', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  for (let i = 0; i < 10; i++) {
    const put = await c.putRetrying(i % 2 === 0 ? leader : follower, `lease/${i}`, `v${i}`);
    assert.equal(put.status, 200, put.text);
    for (const id of [leader, follower]) {
      const got = await c.request(id, 'GET', `/kv/lease%2F${i}?consistency=lease`);
      assert.equal(got.status, 200, got.text);
      assert.equal(got.body.value, `v${i}`, `a lease read on ${id} sees the write acknowledged before it`);
    }
  }
  const list = await c.request(follower, 'GET', '/kv?prefix=lease%2F&consistency=lease');
  assert.equal((list.body.items as unknown[]).length, 10);
  const bad = await c.request(leader, 'GET', '/kv/x?consistency=leased');
  assert.equal(bad.status, 400);
  assert.match(String(bad.body.error), /"linearizable", "lease" or "stale"/);
});
