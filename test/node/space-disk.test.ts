// Goal: a node whose disk runs low stops the cluster's growth instead of crashing, and the cluster
// resumes by itself when space comes back. One follower's data dir sits on a small tmpfs made by
// the test (root only; skipped with the reason otherwise). Filling that file system below
// --min-free-bytes raises the follower's no-space alarm through the log: every node then refuses
// growing writes with 507 no_space, while reads and deletes go on and no node stops. Freeing the
// space clears the alarm and writes are accepted again, without a restart.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { TestCluster } from '../support/cluster.js';
import { parseExposition, seriesValue } from '../support/prometheus-text.js';
import { waitFor } from '../support/wait.js';

const MiB = 1024 * 1024;
const MIN_FREE = 16 * MiB;

/** Mounts a tmpfs of `bytes`; null and the reason when this machine cannot. */
function smallFileSystem(bytes: number): { dir: string; unmount: () => void } | string {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const dir = mkdtempSync(path.join(os.tmpdir(), 'raftkv-small-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    return `cannot mount a tmpfs: ${(e as Error).message.split('\n')[0]}`;
  }
  return {
    dir,
    unmount: () => {
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

const probe = smallFileSystem(64 * MiB);
if (typeof probe !== 'string') probe.unmount();

test('a follower low on disk stops growth cluster-wide, keeps serving, and writes resume once space is back', {
  skip: typeof probe === 'string' ? probe : false,
  timeout: 120_000,
}, async (t) => {
  const fs = smallFileSystem(64 * MiB);
  assert.ok(typeof fs !== 'string', String(fs));
  const n1Dir = path.join(fs.dir, 'n1');
  mkdirSync(n1Dir);
  // One hook, in this order: the nodes must stop before their file system is unmounted.
  const started: { cluster: TestCluster | null } = { cluster: null };
  t.after(async () => {
    await started.cluster?.cleanup();
    fs.unmount();
  });
  const c = await TestCluster.start({
    size: 3,
    minFreeBytes: MIN_FREE,
    quotaBytes: 0,
    dataDirs: { n1: n1Dir },
  });
  started.cluster = c;
  let leader = await c.waitForLeader();
  if (leader === 'n1') {
    // The low disk should be a follower's: a graceful restart hands leadership over.
    await c.restartNode('n1');
    leader = await c.waitForLeader();
  }
  assert.notEqual(leader, 'n1');
  for (let i = 0; i < 20; i++) assert.equal((await c.put(leader, `before${i}`, 'x'.repeat(100))).status, 200);
  const alarms = async (id: string) => ((await c.debug(id)).space as { alarms: string[] }).alarms;

  // Fill n1's file system to below the threshold.
  const filler = path.join(fs.dir, 'filler');
  const free = (): number => {
    const s = statfsSync(fs.dir);
    return s.bavail * s.bsize;
  };
  writeFileSync(filler, Buffer.alloc(free() - 8 * MiB));
  assert.ok(free() < MIN_FREE);
  await waitFor(
    "n1's no-space alarm raised and applied everywhere",
    async () => (await Promise.all(c.ids.map(alarms))).every((a) => a.join() === 'n1'),
    { timeoutMs: 15_000 },
  );
  assert.ok(c.logged('n1', 'free disk below the threshold: raising the no-space alarm'));

  for (const id of [leader, 'n1']) {
    const refused = await c.put(id, 'grow', 'y'.repeat(100));
    assert.equal(refused.status, 507, refused.text);
    assert.equal(refused.body.code, 'no_space');
    assert.equal(refused.body.reason, 'alarm');
    assert.equal(refused.body.definite, true);
  }
  for (const id of c.ids) {
    assert.equal((await c.get(id, 'before3')).status, 200, `${id} serves reads`);
    assert.equal((await c.get(id, 'grow')).status, 404, 'nothing was written');
  }
  // Readiness says so, without taking the node out of service (it still serves reads).
  const ready = await c.request(leader, 'GET', '/readyz');
  assert.equal(ready.status, 200, ready.text);
  assert.deepEqual(ready.body.alarms, ['n1']);
  assert.match(ready.body.reason, /no-space alarm raised by n1/);
  assert.equal((await c.request('n1', 'GET', '/livez')).status, 200);
  // The metrics say so on every node, and the leader counts the refusal it answered by reason.
  for (const id of c.ids) {
    const f = parseExposition(await c.client(id).metrics());
    assert.equal(seriesValue(f, 'raftkv_no_space'), 1, id);
  }
  const leaderMetrics = parseExposition(await c.client(leader).metrics());
  assert.ok(seriesValue(leaderMetrics, 'raftkv_requests_rejected_total', { reason: 'no_space_alarm' }) >= 1);
  // The low node can still take a snapshot and compact its log: that is how space comes back.
  const snap = await c.request('n1', 'POST', '/admin/snapshot');
  assert.equal(snap.status, 200, snap.text);
  const del = await c.request('n1', 'DELETE', '/kv/before0');
  assert.equal(del.status, 200, del.text);
  assert.ok(c.isRunning('n1') && c.node('n1')?.fatalError === null, 'n1 did not stop');

  // Space comes back: the alarm clears by itself and writes resume.
  rmSync(filler);
  await waitFor(
    'the alarm cleared everywhere',
    async () => (await Promise.all(c.ids.map(alarms))).every((a) => a.length === 0),
    { timeoutMs: 15_000 },
  );
  assert.ok(c.logged('n1', 'free disk back above the threshold: clearing the no-space alarm'));
  const again = await c.put('n1', 'grow', 'y'.repeat(100));
  assert.equal(again.status, 200, again.text);
  assert.equal((await c.get('n1', 'grow')).body.value, 'y'.repeat(100));
  assert.equal((await c.get(leader, 'before0')).status, 404, 'the delete made during the alarm holds');
});
