// Goal: with frequent snapshots a follower far behind catches up by InstallSnapshot, and a full restart recovers from snapshot + WAL.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

const keyCount = 300;
const keyOf = (i: number) => `snap/${String(i).padStart(4, '0')}`;

/** Writes keys [from, to) through the running nodes, 25 at a time. */
async function writeKeys(c: TestCluster, from: number, to: number, tag: string): Promise<void> {
  const ids = c.runningIds();
  for (let start = from; start < to; start += 25) {
    await Promise.all(
      Array.from({ length: Math.min(25, to - start) }, async (_, j) => {
        const i = start + j;
        const r = await c.putRetrying(ids[i % ids.length]!, keyOf(i), `${tag}${i}`);
        assert.equal(r.status, 200, r.text);
      }),
    );
  }
}

/** All `snap/` keys on `id`, read as asked. */
async function snapKeys(
  c: TestCluster,
  id: string,
  consistency: 'stale' | 'linearizable',
): Promise<Map<string, string>> {
  const r = await c.request(id, 'GET', `/kv?prefix=snap/&limit=10000&consistency=${consistency}`);
  assert.equal(r.status, 200, r.text);
  return new Map(r.body.items.map((i: { key: string; value: string }) => [i.key, i.value]));
}

function expected(tagOf: (i: number) => string): Map<string, string> {
  return new Map(Array.from({ length: keyCount }, (_, i) => [keyOf(i), `${tagOf(i)}${i}`]));
}

test('a lagging follower catches up by snapshot; a full restart recovers from snapshot + WAL', async (t) => {
  const c = await startCluster(t, { size: 3, snapshotEvery: 50, snapshotCatchUpEntries: 10 });
  const leader = await c.waitForLeader();
  const lagging = c.followerOf(leader);

  await writeKeys(c, 0, 20, 'a');
  await waitFor(
    'in step',
    async () => (await c.debug(lagging)).lastApplied >= (await c.debug(leader)).commitIndex,
    { timeoutMs: 10_000 },
  );
  await c.stopNode(lagging);
  const linesBefore = c.logs.get(lagging)!.length;

  // Far more than snapshotCatchUpEntries behind: the leader's log no longer has what it lacks.
  await writeKeys(c, 0, keyCount, 'b');
  const live = c.runningIds();
  await waitFor(
    'the running nodes take snapshots',
    async () =>
      (await Promise.all(live.map((id) => c.debug(id)))).every((d) => (d.snapshotIndex ?? 0) >= 200),
    { timeoutMs: 15_000 },
  );
  const leaderNow = (await c.currentLeader())!;
  const ld = await c.debug(leaderNow);
  assert.ok(
    ld.firstIndex !== undefined && (ld.firstIndex as number) > 30,
    `log compacted: firstIndex ${ld.firstIndex}`,
  );
  assert.ok(c.logged(leaderNow, 'snapshot taken'));

  await c.startNode(lagging);
  const commit = (await c.debug(leaderNow)).commitIndex;
  await waitFor(
    `${lagging} applies up to ${commit}`,
    async () => (await c.debug(lagging)).lastApplied >= commit,
    { timeoutMs: 15_000 },
  );
  const newLines = c.logs.get(lagging)!.slice(linesBefore);
  assert.ok(
    newLines.some((l) => l.includes('installed snapshot from the leader')),
    `${lagging} caught up by InstallSnapshot; its log:\n${newLines.join('\n')}`,
  );
  assert.deepEqual(
    await snapKeys(c, lagging, 'stale'),
    expected(() => 'b'),
  );
  // It applies entries after the snapshot too.
  assert.equal((await c.putRetrying(lagging, keyOf(0), 'c0')).status, 200);
  await waitFor(
    'post-snapshot apply',
    async () => (await c.get(lagging, keyOf(0), 'stale')).body?.value === 'c0',
    { timeoutMs: 10_000 },
  );

  // More writes after the snapshots, so that recovery needs snapshot and WAL tail both.
  await writeKeys(c, 0, 30, 'd');
  const want = expected((i) => (i < 30 ? 'd' : 'b'));
  const restartLines = new Map(c.ids.map((id) => [id, c.logs.get(id)!.length]));
  await c.stopAll();
  await c.startAll();
  await c.waitForLeader();
  for (const id of c.ids) {
    const starting = c.logs
      .get(id)!
      .slice(restartLines.get(id))
      .find((l) => l.includes(' starting '));
    assert.ok(starting, `${id} logged its start`);
    const snapshot = Number(/ snapshot=(\d+)/.exec(starting)?.[1]);
    assert.ok(snapshot > 0, `${id} restarted from a snapshot: ${starting}`);
    assert.deepEqual(await snapKeys(c, id, 'linearizable'), want, `${id} after the full restart`);
  }
});
