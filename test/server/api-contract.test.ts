// Goal: a real 3-node cluster answers every request of the external HTTP contract (API.md) as documented.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

describe('HTTP contract on a 3-node cluster', () => {
  let c: TestCluster;
  let leader: string;
  let follower: string;

  before(async () => {
    c = await TestCluster.start({ size: 3 });
    leader = await c.waitForLeader();
    follower = c.followerOf(leader);
  });
  after(() => c.cleanup());

  test('a put on the leader is readable on every node, linearizable and stale', async () => {
    const put = await c.put(leader, 'alpha', 'one');
    assert.equal(put.status, 200, put.text);
    assert.equal(put.body.key, 'alpha');
    assert.equal(put.body.value, 'one');
    assert.ok(Number.isSafeInteger(put.body.index) && put.body.index > 0, `index ${put.body.index}`);
    for (const id of c.ids) {
      // Linearizable by default: the write finished before the read began, so every node sees it.
      const r = await c.get(id, 'alpha');
      assert.equal(r.status, 200, `${id}: ${r.text}`);
      assert.deepEqual({ key: r.body.key, value: r.body.value }, { key: 'alpha', value: 'one' });
      assert.ok(
        r.body.index >= put.body.index,
        `${id}: read index ${r.body.index} < write ${put.body.index}`,
      );
      const explicit = await c.get(id, 'alpha', 'linearizable');
      assert.equal(explicit.body.value, 'one');
      // Stale reads may lag, but the follower catches up soon.
      await waitFor(
        `${id} stale read of alpha`,
        async () => (await c.get(id, 'alpha', 'stale')).body?.value === 'one',
        { timeoutMs: 10_000 },
      );
    }
  });

  test('a put sent to a follower is forwarded to the leader', async () => {
    const put = await c.put(follower, 'forwarded', 'via-follower');
    assert.equal(put.status, 200, put.text);
    assert.deepEqual(
      { key: put.body.key, value: put.body.value },
      { key: 'forwarded', value: 'via-follower' },
    );
    const r = await c.get(leader, 'forwarded');
    assert.equal(r.body.value, 'via-follower');
    assert.ok(r.body.index >= put.body.index);
  });

  test('GET of an absent key is 404 {key, value: null}', async () => {
    for (const id of c.ids) {
      const r = await c.get(id, 'no-such-key');
      assert.equal(r.status, 404, r.text);
      assert.equal(r.body.key, 'no-such-key');
      assert.equal(r.body.value, null);
      assert.equal(r.body.error, undefined, 'an absent key is not an error');
      // Exactly these fields: an absent key has no metadata.
      assert.deepEqual(Object.keys(r.body), ['key', 'value', 'index']);
    }
  });

  test('every key carries version, createIndex and modIndex from the log, the same on every node', async () => {
    const meta = (b: { version: number; createIndex: number; modIndex: number }) => ({
      version: b.version,
      createIndex: b.createIndex,
      modIndex: b.modIndex,
    });
    // Written through every node in turn; answers carry the key's metadata after the write.
    const first = await c.put(follower, 'meta/k', 'a');
    assert.equal(first.status, 200, first.text);
    assert.deepEqual(meta(first.body), {
      version: 1,
      createIndex: first.body.index,
      modIndex: first.body.index,
    });
    let last = first;
    for (const [i, id] of c.ids.entries()) {
      last = await c.put(id, 'meta/k', `v${i}`);
      assert.equal(last.status, 200, last.text);
    }
    assert.deepEqual(meta(last.body), {
      version: 4,
      createIndex: first.body.index,
      modIndex: last.body.index,
    });
    const other = await c.put(leader, 'meta/other', 'x');
    // Deleted and created again: counted from 1 again, from the new create.
    assert.equal((await c.request(leader, 'DELETE', `/kv/${encodeURIComponent('meta/other')}`)).status, 200);
    const again = await c.put(follower, 'meta/other', 'y');
    assert.ok(again.body.index > other.body.index);
    assert.deepEqual(meta(again.body), {
      version: 1,
      createIndex: again.body.index,
      modIndex: again.body.index,
    });

    const expected = [
      { key: 'meta/k', value: 'v2', ...meta(last.body) },
      { key: 'meta/other', value: 'y', ...meta(again.body) },
    ];
    for (const id of c.ids) {
      for (const item of expected) {
        const r = await c.get(id, item.key);
        assert.equal(r.status, 200, `${id}: ${r.text}`);
        assert.deepEqual({ ...r.body, index: undefined }, { ...item, index: undefined }, id);
      }
      // A stale read on each node, once it has applied the last write, holds the same.
      const list = await c.request(
        id,
        'GET',
        `/kv?prefix=meta/&consistency=stale&minIndex=${again.body.index}`,
      );
      assert.equal(list.status, 200, `${id}: ${list.text}`);
      assert.deepEqual(list.body.items, expected, id);
    }
  });

  test('keys are URL-decoded in paths and may hold any UTF-8', async () => {
    const key = 'dir/sub key?&=é☃😀';
    const put = await c.put(follower, key, 'v é');
    assert.equal(put.status, 200, put.text);
    const r = await c.get(follower, key);
    assert.equal(r.status, 200, r.text);
    assert.equal(r.body.key, key);
    assert.equal(r.body.value, 'v é');
  });

  test('an empty value is a value, not an absence', async () => {
    assert.equal((await c.put(leader, 'empty', '')).status, 200);
    const r = await c.get(follower, 'empty');
    assert.equal(r.status, 200);
    assert.equal(r.body.value, '');
  });

  test('DELETE answers {key, deleted} with true once and false after', async () => {
    assert.equal((await c.put(leader, 'doomed', 'x')).status, 200);
    const first = await c.request(follower, 'DELETE', '/kv/doomed');
    assert.equal(first.status, 200, first.text);
    assert.equal(first.body.key, 'doomed');
    assert.equal(first.body.deleted, true);
    const again = await c.request(leader, 'DELETE', '/kv/doomed');
    assert.equal(again.status, 200, again.text);
    assert.equal(again.body.deleted, false);
    assert.equal((await c.get(follower, 'doomed')).status, 404);
    const never = await c.request(leader, 'DELETE', `/kv/${encodeURIComponent('never existed')}`);
    assert.deepEqual(
      { key: never.body.key, deleted: never.body.deleted },
      { key: 'never existed', deleted: false },
    );
  });

  test('compare-and-set: success, conflict 409 with the current value, and prevValue null', async () => {
    const post = (id: string, body: unknown) => c.request(id, 'POST', '/kv', { body });

    // prevValue null: the key must be absent.
    const create = await post(follower, { key: 'cas', value: 'v1', prevValue: null });
    assert.equal(create.status, 200, create.text);
    assert.equal(create.body.value, 'v1');
    const createAgain = await post(leader, { key: 'cas', value: 'other', prevValue: null });
    assert.equal(createAgain.status, 409, createAgain.text);
    assert.equal(typeof createAgain.body.error, 'string');
    assert.equal(createAgain.body.key, 'cas');
    assert.equal(createAgain.body.value, 'v1');

    // Matching prevValue: written.
    const swap = await post(leader, { key: 'cas', value: 'v2', prevValue: 'v1' });
    assert.equal(swap.status, 200, swap.text);
    assert.equal(swap.body.value, 'v2');
    assert.ok(swap.body.index > create.body.index);

    // Stale prevValue: 409 with the current value; nothing written.
    const stale = await post(follower, { key: 'cas', value: 'v3', prevValue: 'v1' });
    assert.equal(stale.status, 409, stale.text);
    assert.equal(stale.body.code, 'precondition_failed');
    assert.equal(stale.body.key, 'cas');
    assert.equal(stale.body.value, 'v2');
    assert.equal((await c.get(leader, 'cas')).body.value, 'v2');

    // A string prevValue on an absent key: 409 with value null.
    const absent = await post(leader, { key: 'cas-absent', value: 'x', prevValue: 'anything' });
    assert.equal(absent.status, 409, absent.text);
    assert.equal(absent.body.key, 'cas-absent');
    assert.equal(absent.body.value, null);
    assert.equal((await c.get(leader, 'cas-absent')).status, 404);
  });

  test('list: prefix and limit, in key order, with `more`', async () => {
    const keys = ['ls/b', 'ls/a', 'ls/c/1', 'ls/c', 'ls/d', 'lt/other', 'ls'];
    // Written through different nodes, out of order; each once, at the index its answer gives.
    const written = new Map<string, number>();
    for (const [i, k] of keys.entries()) {
      const r = await c.put(c.ids[i % c.ids.length]!, k, `value of ${k}`);
      assert.equal(r.status, 200, r.text);
      written.set(k, r.body.index);
    }
    const all = await c.request(follower, 'GET', '/kv?prefix=ls/');
    assert.equal(all.status, 200, all.text);
    assert.deepEqual(
      all.body.items,
      ['ls/a', 'ls/b', 'ls/c', 'ls/c/1', 'ls/d'].map((k) => ({
        key: k,
        value: `value of ${k}`,
        version: 1,
        createIndex: written.get(k),
        modIndex: written.get(k),
      })),
    );
    assert.equal(all.body.more, false);

    const page = await c.request(leader, 'GET', '/kv?prefix=ls/&limit=2');
    assert.equal(page.status, 200, page.text);
    assert.deepEqual(
      page.body.items.map((i: { key: string }) => i.key),
      ['ls/a', 'ls/b'],
    );
    assert.equal(page.body.more, true);

    const exact = await c.request(leader, 'GET', '/kv?prefix=ls/&limit=5');
    assert.equal(exact.body.items.length, 5);
    assert.equal(exact.body.more, false);

    const stale = await c.request(follower, 'GET', '/kv?prefix=ls&limit=10&consistency=stale');
    assert.equal(stale.status, 200, stale.text);
    assert.ok(stale.body.items.length <= 6);

    const none = await c.request(follower, 'GET', '/kv?prefix=zz-none');
    assert.deepEqual({ items: none.body.items, more: none.body.more }, { items: [], more: false });

    // No prefix lists everything, still in order.
    const everything = await c.request(leader, 'GET', '/kv?limit=10000');
    const listed = everything.body.items.map((i: { key: string }) => i.key) as string[];
    assert.ok(listed.includes('alpha') && listed.includes('lt/other'));
    assert.deepEqual(
      listed,
      [...listed].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
      'UTF-8 byte order',
    );
  });

  test('/debug reports the documented status fields on every node', async () => {
    const infos = await Promise.all(c.ids.map((id) => c.debug(id)));
    for (const [i, d] of infos.entries()) {
      const id = c.ids[i]!;
      assert.equal(d.nodeId, id);
      assert.ok(['follower', 'candidate', 'leader'].includes(d.state), d.state);
      for (const f of ['term', 'commitIndex', 'lastApplied', 'logLength'] as const) {
        assert.ok(Number.isSafeInteger(d[f]) && (d[f] as number) >= 0, `${id}.${f} = ${d[f]}`);
      }
      assert.ok(d.leaderId === null || c.ids.includes(d.leaderId), `leaderId ${d.leaderId}`);
      assert.ok(d.lastApplied <= d.commitIndex, `${id}: applied ${d.lastApplied} > commit ${d.commitIndex}`);
      assert.ok(d.commitIndex <= d.logLength, `${id}: commit ${d.commitIndex} > log ${d.logLength}`);
    }
    const leaders = infos.filter((d) => d.state === 'leader');
    // At most one leader per term (a deposed one may not know yet, in an older term).
    const terms = leaders.map((d) => d.term);
    assert.equal(new Set(terms).size, terms.length, `two leaders in one term: ${JSON.stringify(leaders)}`);
    const agreed = await c.waitForLeader();
    assert.ok(c.ids.includes(agreed));
  });

  test('/health is 200 on every node of a healthy cluster', async () => {
    for (const id of c.ids) {
      await waitFor(`${id} healthy`, async () => (await c.request(id, 'GET', '/health')).status === 200, {
        timeoutMs: 10_000,
      });
      const h = await c.request(id, 'GET', '/health');
      assert.equal(h.status, 200);
      assert.equal(h.body.ok, true);
    }
  });

  test('Idempotency-Key: a retried put returns the first answer and applies once', async () => {
    const idem = { 'Idempotency-Key': 'retry-put-1' };
    const first = await c.put(follower, 'idem', 'first', idem);
    assert.equal(first.status, 200, first.text);
    // Another client overwrites the key.
    const other = await c.put(leader, 'idem', 'second');
    assert.equal(other.status, 200, other.text);
    assert.ok(other.body.index > first.body.index);
    // The retry (on another node) gets the first answer and does not write "first" again.
    for (const id of [leader, follower]) {
      const retry = await c.put(id, 'idem', 'first', idem);
      assert.equal(retry.status, 200, retry.text);
      assert.deepEqual(retry.body, first.body);
    }
    const now = await c.get(follower, 'idem');
    assert.equal(now.body.value, 'second', 'the retry must not re-apply');
  });

  test('Idempotency-Key: a retried CAS and a retried delete return their first answers', async () => {
    const cas = { key: 'idem-cas', value: 'a', prevValue: null };
    const h = { 'Idempotency-Key': 'retry-cas-1' };
    const first = await c.request(leader, 'POST', '/kv', { body: cas, headers: h });
    assert.equal(first.status, 200, first.text);
    // Without the key, the same CAS would now conflict; with it, the retry is the first answer.
    const retry = await c.request(follower, 'POST', '/kv', { body: cas, headers: h });
    assert.equal(retry.status, 200, retry.text);
    assert.deepEqual(retry.body, first.body);

    const dh = { 'Idempotency-Key': 'retry-del-1' };
    const del = await c.request(follower, 'DELETE', '/kv/idem-cas', { headers: dh });
    assert.equal(del.status, 200, del.text);
    assert.equal(del.body.deleted, true);
    assert.equal((await c.put(leader, 'idem-cas', 'back')).status, 200);
    const delRetry = await c.request(leader, 'DELETE', '/kv/idem-cas', { headers: dh });
    assert.equal(delRetry.status, 200, delRetry.text);
    assert.deepEqual(delRetry.body, del.body);
    assert.equal(
      (await c.get(leader, 'idem-cas')).body.value,
      'back',
      'the retried delete must not re-apply',
    );
  });

  test('Idempotency-Key reused for another kind of write: a definite 400, nothing written', async () => {
    const h = { 'Idempotency-Key': 'reused-1' };
    assert.equal((await c.put(leader, 'reuse', 'kept', h)).status, 200);
    const del = await c.request(follower, 'DELETE', '/kv/reuse', { headers: h });
    assert.equal(del.status, 400, del.text);
    assert.equal(del.body.code, 'bad_request');
    assert.equal(del.body.definite, true);
    assert.match(del.body.error, /Idempotency-Key/);
    assert.equal((await c.get(leader, 'reuse')).body.value, 'kept');

    const dh = { 'Idempotency-Key': 'reused-2' };
    assert.equal((await c.request(leader, 'DELETE', '/kv/reuse', { headers: dh })).status, 200);
    const put = await c.put(follower, 'reuse', 'again', dh);
    assert.equal(put.status, 400, put.text);
    assert.equal(put.body.definite, true);
    assert.equal((await c.get(leader, 'reuse')).status, 404);
  });

  test('concurrent retries with the same Idempotency-Key apply once', async () => {
    const h = { 'Idempotency-Key': 'burst-1' };
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => c.put(c.ids[i % c.ids.length]!, 'idem-burst', 'once', h)),
    );
    for (const a of answers) assert.equal(a.status, 200, a.text);
    const indexes = new Set(answers.map((a) => a.body.index));
    assert.equal(indexes.size, 1, `all retries share the first index: ${[...indexes]}`);
  });
});
