// Goal: GET /admin/snapshot serves, from any node, a backup of the whole state at a linearizable
// point while writes keep flowing: the file's state is exactly the state at the index it names —
// every write acknowledged up to it, none after, idempotency records included — and the index is
// past every write acknowledged before the request. The stream follows the client's pace, and a
// client that goes away mid-stream leaves nothing behind; a node without a leader answers a clear
// 503, and one that streams its limit refuses more with busy.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RaftkvApiError, type RaftkvClient } from '../../src/client/index.js';
import { AckedWrites, openBackup } from '../support/backup.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const preloadValue = (i: number, bytes = 256): string => `${i}:`.padEnd(bytes, 'v');

/** `n` keys under `prefix`, `bytes`-byte values, written in parallel batches. */
async function preload(
  c: TestCluster,
  leader: string,
  prefix: string,
  n: number,
  bytes = 256,
): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, n - i) }, (_, j) =>
        c
          .client(leader)
          .put(`${prefix}${i + j}`, preloadValue(i + j, bytes), { idempotencyKey: `pre-${prefix}${i + j}` }),
      ),
    );
  }
}

/** The backup's bytes, and the client's view of the answer; `onChunk` runs before each is kept. */
async function download(client: RaftkvClient, onChunk: () => Promise<void> = async () => {}) {
  const parts: Uint8Array[] = [];
  const result = await client.backup(
    async (chunk) => {
      await onChunk();
      parts.push(chunk.slice());
    },
    { idleTimeoutMs: 20_000 },
  );
  return { bytes: new Uint8Array(Buffer.concat(parts)), result, chunks: parts.length };
}

async function backupCounts(c: TestCluster, id: string) {
  return (await c.debug(id)).backups as { streaming: number; sent: number; abandoned: number };
}

test('a follower streams a backup equal to the state at its index while writes go on', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  const follower = c.followerOf(leader);
  await preload(c, leader, 'pre/', 4000);
  const retried = await c.client(leader).put('idem/k', 'first', { idempotencyKey: 'idem-1' });

  const load = new AckedWrites(
    c.ids.map((id) => c.client(id)),
    'load/',
  );
  load.start(4);
  await load.waitForMore(50);
  const ackedBefore = load.highestIndex;
  // The sink waits for more writes to be acknowledged before taking its first chunk: the node
  // keeps committing while the backup is under way. (The client buffers a streamed answer rather
  // than hold the node back — docs/client.md — so its pieces are not the node's.)
  let waited = false;
  const { bytes, result } = await download(c.client(follower), async () => {
    if (waited) return;
    waited = true;
    await load.waitForMore(20);
  });
  await load.stop();

  // With 4 writers, at most 4 of those 20 were in flight when the backup's index was fixed.
  assert.ok(load.highestIndex > result.index, `writes went on past the backup's index ${result.index}`);
  assert.ok(
    result.index >= ackedBefore,
    `index ${result.index} covers the writes acknowledged before (${ackedBefore})`,
  );
  const backup = openBackup(bytes);
  assert.equal(backup.header.index, result.index, 'X-Raftkv-Index is the file index');
  assert.equal(backup.header.keyCount, result.keys, 'X-Raftkv-Keys is the file key count');
  assert.equal(result.sha256, backup.check.sha256, 'the HTTP trailer carries the file hash');
  assert.equal(result.bytes, bytes.length);
  assert.equal(backup.header.nodeId, follower);
  assert.deepEqual([...backup.header.membership.voters].sort(), [...c.ids].sort());
  const members = await c.client(leader).members();
  assert.equal(backup.header.clusterId, members.clusterId);
  assert.equal(backup.header.clusterId, result.clusterId);

  load.assertStateAt(backup.sm, result.index);
  const pre = backup.sm.list('pre/', 10_000).items;
  assert.equal(pre.length, 4000);
  for (const { key, value } of pre) assert.equal(value, preloadValue(Number(key.slice(4))), key);
  // The idempotency record came along: the first answer, as the cluster would give it.
  assert.deepEqual(backup.sm.lookupIdempotent('idem-1'), {
    kind: 'put',
    key: 'idem/k',
    value: 'first',
    index: retried.index,
    version: retried.version,
    createIndex: retried.createIndex,
    modIndex: retried.index,
    replayed: true,
  });
  assert.ok(c.logged(follower, 'backup sent'), 'the node logged the backup');
  await waitFor('the stream is accounted for', async () => {
    const n = await backupCounts(c, follower);
    return n.streaming === 0 && n.sent === 1 && n.abandoned === 0;
  });
});

test('a client that goes away mid-stream leaves nothing streaming; the limit refuses with busy', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  // 16 MB: more than the socket buffers between a node and a client that stopped reading hold,
  // so such a stream stays open.
  await preload(c, leader, 'pre/', 2000, 8192);

  // Gone after its first piece: the node notices, closes the stream and lets go of its copy.
  const gone = new AbortController();
  const aborted = c
    .client(leader)
    .backup(() => gone.abort(new Error('client went away')), { signal: gone.signal })
    .then(
      () => 'finished',
      (e: unknown) => (e instanceof Error ? e.message : String(e)),
    );
  assert.equal(await aborted, 'client went away');
  await waitFor('the abandoned stream is closed on the node', async () => {
    const n = await backupCounts(c, leader);
    return n.streaming === 0 && n.abandoned === 1;
  });
  assert.ok(c.logged(leader, 'backup abandoned'));

  // Four clients that stop reading hold four streams: a fifth is refused at once.
  const holders = Array.from({ length: 4 }, () => new AbortController());
  const held = holders.map((h) =>
    c
      .client(leader)
      .backup(() => new Promise<void>(() => {}), { signal: h.signal })
      .catch(() => 'released'),
  );
  await waitFor('four streams open', async () => (await backupCounts(c, leader)).streaming === 4);
  await assert.rejects(
    c.client(leader).backup(() => {}),
    (e: unknown) => e instanceof RaftkvApiError && e.status === 503 && e.code === 'busy' && e.definite,
  );
  for (const h of holders) h.abort();
  assert.deepEqual(await Promise.all(held), ['released', 'released', 'released', 'released']);
  await waitFor('every stream closed', async () => (await backupCounts(c, leader)).streaming === 0);
  // And a backup works again.
  const { bytes } = await download(c.client(leader));
  assert.equal(openBackup(bytes).sm.size, 2000);
});

test('a node that cannot reach a leader answers 503, not a backup of what it happens to hold', async (t) => {
  const c = await startCluster(t, { size: 3 });
  const leader = await c.waitForLeader();
  await preload(c, leader, 'pre/', 10);
  const lonely = c.followerOf(leader);
  for (const id of c.ids) if (id !== lonely) await c.stopNode(id);
  await assert.rejects(
    c.client(lonely).backup(() => assert.fail('no byte of a backup')),
    (e: unknown) => e instanceof RaftkvApiError && (e.status === 503 || e.status === 504) && e.code !== null,
  );
});
