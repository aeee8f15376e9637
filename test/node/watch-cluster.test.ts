// Goal: watch on a real 3-node cluster with the state machine's history — a watcher sees exactly
// the committed changes to its keys, in log order, none missed and none repeated, across the
// serving node's restart (the client resumes on another node with Last-Event-ID), a leader move,
// and a transaction's several changes at one index; a new watch from an old index on the
// restarted node replays the same history from its snapshot and log.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WatchEvent } from '../../src/client/index.js';
import { startCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const line = (e: WatchEvent) => `${e.index} ${e.type} ${e.key}=${e.value} (was ${e.prevValue})`;

test('a watch resumes across a restart of its node and a leader move, with no gap or repeat', async (t) => {
  const c = await startCluster(t, { size: 3, snapshotEvery: 20 });
  const leader = await c.waitForLeader();
  const watched = c.followerOf(leader);
  const others = ['n1', 'n2', 'n3'].filter((id) => id !== watched);
  const first = await c.putRetrying(leader, 'w/a', '0');
  const from = Number(first.body.index);
  const seen: WatchEvent[] = [];
  const abort = new AbortController();
  const resumes: string[] = [];
  const watching = (async () => {
    const stream = c.client(watched).watch(
      { prefix: 'w/' },
      {
        fromIndex: from,
        failover: others.map((id) => c.client(id)),
        signal: abort.signal,
        retryMs: 50,
        onResume: (r) => resumes.push(`${r.from} → ${r.to} after ${r.after}`),
      },
    );
    try {
      for await (const e of stream) seen.push(e);
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    }
  })();
  const expected: string[] = [`${from} put w/a=0 (was null)`];
  let value = 0;
  const put = async (key: string) => {
    const v = String(++value);
    const node = ['n1', 'n2', 'n3'][value % 3]!;
    const a = await c.putRetrying(c.isRunning(node) ? node : leader, key, v);
    assert.equal(a.status, 200, a.text);
    return { index: Number(a.body.index), v };
  };
  const prev = new Map<string, string | null>([['w/a', '0']]);
  const record = (index: number, key: string, v: string | null) => {
    expected.push(`${index} ${v === null ? 'delete' : 'put'} ${key}=${v} (was ${prev.get(key) ?? null})`);
    prev.set(key, v);
  };
  for (let i = 0; i < 30; i++) {
    const key = `w/${'abc'[i % 3]}`;
    const { index, v } = await put(key);
    record(index, key, v);
    if (i === 10) {
      // The watched node goes away mid-stream: the watch resumes on another node.
      await c.stopNode(watched);
    }
    if (i === 18) await c.startNode(watched);
    if (i === 22) {
      const moved = await c.request(leader, 'POST', '/cluster/leader', { body: {} });
      assert.equal(moved.status, 200, moved.text);
    }
  }
  // A transaction: its changes share one index and arrive together.
  const txnLeader = await c.waitForLeader();
  const txn = await c.request(txnLeader, 'POST', '/txn', {
    body: {
      success: [
        { put: { key: 'w/t', value: 'x' } },
        { delete: { key: 'w/a' } },
        { put: { key: 'other', value: 'y' } },
      ],
    },
  });
  assert.equal(txn.status, 200, txn.text);
  record(Number(txn.body.index), 'w/t', 'x');
  record(Number(txn.body.index), 'w/a', null);
  await waitFor('the watcher saw every change', async () => seen.length >= expected.length, {
    timeoutMs: 20_000,
  });
  abort.abort();
  await watching;
  assert.deepEqual(seen.map(line), expected);
  assert.ok(resumes.length >= 1, 'the watch moved to another node');

  // The restarted node serves the same history from its snapshot and log, from the first index.
  await waitFor(
    'the restarted node caught up',
    async () => (await c.debug(watched)).lastApplied >= Number(txn.body.index),
  );
  const again: WatchEvent[] = [];
  const replay = new AbortController();
  for await (const e of c
    .client(watched)
    .watch({ prefix: 'w/' }, { fromIndex: from, signal: replay.signal })) {
    again.push(e);
    if (again.length === expected.length) break;
  }
  replay.abort();
  assert.deepEqual(again.map(line), expected);
});
