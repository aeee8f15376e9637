// Goal: a node of today's release starts on the data dir raftkv 0.2.0 wrote (fixtures/data-dir-v2/,
// described in fixtures/data-dir-v2.ts) as an operator would after an upgrade — `raftkv start` with
// the same --id and --cluster, no other flag about the data — elects itself as the cluster's one
// member, and serves what 0.2.0 stored: the keys with their metadata and lease, the lease, the
// watch history, the remembered answers of idempotent writes; then it takes new writes. The node
// runs on a copy of the fixture and listens on a free port (--listen), not the --cluster address.

import assert from 'node:assert/strict';
import { cp, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { WatchEvent } from '../../src/client/index.js';
import { NodeProcess, testTiming, timingArgs } from '../support/node-process.js';
import { freePorts, LOOPBACK } from '../support/ports.js';
import { waitFor } from '../support/wait.js';
import { AT_END, FIXTURE_ADDRESS, FIXTURE_NODE, GONE_KEYS, LAST_INDEX } from './fixtures/data-dir-v2.js';
import { FIXTURES } from './helpers.js';

const FIXTURE_DIR = path.join(FIXTURES, 'data-dir-v2');

test('raftkv start on the data dir 0.2.0 wrote: elected alone, serves its keys, leases and history', async (t) => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'raftkv-compat-v2-'));
  let node: NodeProcess | null = null;
  t.after(async () => {
    // The node first (by its own PID), then its copy of the fixture.
    if (node?.running) await node.terminate();
    await rm(root, { recursive: true, force: true });
  });
  const dataDir = path.join(root, FIXTURE_NODE);
  await cp(FIXTURE_DIR, dataDir, { recursive: true });

  const [port] = await freePorts(1, LOOPBACK);
  const listen = `${LOOPBACK}:${port!}`;
  node = new NodeProcess(
    {
      id: FIXTURE_NODE,
      peerHost: FIXTURE_ADDRESS.host,
      peerPort: FIXTURE_ADDRESS.port,
      clientHost: LOOPBACK,
      clientPort: port!,
      listen,
    },
    dataDir,
    [
      '--id',
      FIXTURE_NODE,
      '--cluster',
      `${FIXTURE_NODE}=${FIXTURE_ADDRESS.host}:${FIXTURE_ADDRESS.port}`,
      '--listen',
      listen,
      '--data-dir',
      dataDir,
      '--stop-with-stdin',
      ...timingArgs(testTiming),
    ],
  );
  node.start();
  try {
    await node.waitListening();
    const c = node.client;
    // It starts from the snapshot and the log after it, and leads a term after the fixture's.
    const status = await waitFor('n1 to lead', async (note) => {
      const s = await c.status();
      note(s);
      return s.state === 'leader' && s.commitIndex > LAST_INDEX ? s : null;
    });
    assert.equal(status.leaderId, FIXTURE_NODE);
    assert.ok(status.term >= 3, `term ${status.term}`);

    for (const kv of AT_END.keys) {
      const { index, ...got } = await c.get(kv.key);
      assert.deepStrictEqual(got, kv, kv.key);
      assert.ok(index >= LAST_INDEX);
    }
    for (const key of GONE_KEYS) assert.equal((await c.get(key)).value, null, key);
    const listed = await c.list('');
    assert.deepStrictEqual(listed.items, AT_END.keys);

    const lease = await c.lease(18);
    assert.deepStrictEqual(lease.keys, ['long/a', 'long/b', 'txn/ok']);
    assert.equal(lease.ttl, 3600);

    // The history 0.2.0 kept (in the snapshot, then the log): every change from index 1.
    const seen: WatchEvent[] = [];
    const stop = new AbortController();
    const timer = setTimeout(() => stop.abort(new Error('the watch did not reach the last change')), 20_000);
    try {
      for await (const e of c.watch({ prefix: '' }, { fromIndex: 1, signal: stop.signal })) {
        seen.push({ index: e.index, type: e.type, key: e.key, value: e.value, prevValue: e.prevValue });
        if (e.index >= LAST_INDEX) break;
      }
    } finally {
      clearTimeout(timer);
    }
    assert.deepStrictEqual(seen, AT_END.history.events);

    // A retry of an idempotent write of 0.2.0 gets the first answer, and writes nothing.
    const retried = await c.put('greeting', 'hello', { idempotencyKey: 'req-3' });
    assert.equal(retried.index, 3);
    assert.equal((await c.get('greeting')).value, 'hello again');

    // And it goes on: a write after the old log, under the old lease.
    const written = await c.put('after/upgrade', 'yes', { lease: 18 });
    assert.ok(written.index > LAST_INDEX);
    assert.deepStrictEqual((await c.lease(18)).keys, ['after/upgrade', 'long/a', 'long/b', 'txn/ok']);
    assert.equal((await c.get('after/upgrade')).value, 'yes');

    const exit = await node.terminate();
    assert.equal(exit.code, 0, node.tail(30));
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${node.tail(40)}`, { cause: e });
  }
});
