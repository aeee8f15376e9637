// Goal: no node keeps its snapshot's bytes in memory. A leader whose log was compacted past a
// follower catches it up with its snapshot streamed from the snapshot file: while the stream is
// under way (held at its first data read from the file), the leader's log holds only a reference
// to the data (GET /debug: snapshotInMemory false, with its size); the follower gets the data
// intact, and after installing it holds only a reference too — as does every node restarted from
// a snapshot.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type DiskReader, RealDisk } from '../../src/storage/index.js';
import { startCluster, type TestCluster } from '../support/cluster.js';
import { waitFor } from '../support/wait.js';

/**
 * The real disk, able to hold the reads of snapshot data: while held, a read of a snapshot file
 * past its first bytes (the data, not the header the stream checks when it opens the file)
 * waits until released.
 */
class HeldReadsDisk extends RealDisk {
  held = true;
  private waiting: (() => void)[] = [];

  get waitingReads(): number {
    return this.waiting.length;
  }

  release(): void {
    this.held = false;
    for (const go of this.waiting.splice(0)) go();
  }

  override async openRead(path: string): Promise<DiskReader> {
    const r = await super.openRead(path);
    if (!path.includes('/snap/')) return r;
    return {
      path: r.path,
      size: () => r.size(),
      read: async (offset, length) => {
        if (this.held && offset > 0) await new Promise<void>((go) => this.waiting.push(go));
        return r.read(offset, length);
      },
      close: () => r.close(),
    };
  }
}

const keyCount = 80;
const keyOf = (i: number) => `big/${String(i).padStart(3, '0')}`;
/** 16 KiB values: the snapshot is over a MiB, several chunks of the stream. */
const bigValue = (i: number, tag: string) =>
  `${tag}${i}:`.padEnd(16 * 1024, String.fromCharCode(97 + (i % 26)));

async function writeKeys(c: TestCluster, tag: string): Promise<void> {
  const ids = c.runningIds();
  for (let start = 0; start < keyCount; start += 10) {
    await Promise.all(
      Array.from({ length: 10 }, async (_, j) => {
        const i = start + j;
        const r = await c.putRetrying(ids[i % ids.length]!, keyOf(i), bigValue(i, tag));
        assert.equal(r.status, 200, r.text);
      }),
    );
  }
}

interface PeerView {
  readonly peer: string;
  readonly snapshotPending: boolean;
}

function snapshotPendingTo(d: Record<string, unknown>, peer: string): boolean {
  const peers = (d.transport as { peers: PeerView[] }).peers;
  return peers.some((p) => p.peer === peer && p.snapshotPending);
}

test('a leader streams its snapshot from the file to a follower behind the compaction, holding no snapshot bytes', async (t) => {
  const disks = { n1: new HeldReadsDisk(), n2: new HeldReadsDisk(), n3: new HeldReadsDisk() };
  const c = await startCluster(t, { size: 3, snapshotEvery: 50, snapshotCatchUpEntries: 10, disks });
  const leader = await c.waitForLeader();
  const lagging = c.followerOf(leader);
  await c.stopNode(lagging);

  // Far more than snapshotCatchUpEntries behind: only the snapshot can catch it up.
  await writeKeys(c, 'a');
  const taken = await waitFor(
    `${leader} takes a snapshot`,
    async () => {
      const d = await c.debug(leader);
      return (d.snapshotIndex ?? 0) >= 50 ? d : null;
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(taken.snapshotInMemory, false, 'the leader keeps only a reference to its own snapshot');
  assert.ok((taken.snapshotBytes as number) > 1024 * 1024, `snapshot of ${taken.snapshotBytes} bytes`);

  await c.startNode(lagging);
  const disk = disks[leader as keyof typeof disks];
  const streaming = await waitFor(
    `${leader} streaming its snapshot to ${lagging}, held at a data read`,
    async () => {
      const d = await c.debug(leader);
      return snapshotPendingTo(d, lagging) && disk.waitingReads > 0 ? d : null;
    },
    { timeoutMs: 15_000 },
  );
  assert.equal(streaming.snapshotInMemory, false, 'while it streams, the leader holds a reference');
  assert.equal(streaming.snapshotBytes, taken.snapshotBytes);
  assert.equal(streaming.snapshotIndex, taken.snapshotIndex);

  for (const d of Object.values(disks)) d.release();
  const commit = (await c.debug(leader)).commitIndex;
  await waitFor(
    `${lagging} applies up to ${commit}`,
    async () => (await c.debug(lagging)).lastApplied >= commit,
    {
      timeoutMs: 15_000,
    },
  );
  assert.ok(
    c.logged(lagging, 'installed snapshot from the leader'),
    `${lagging} caught up by InstallSnapshot`,
  );
  assert.ok(!c.logged(leader, 'snapshot.send_failed'));
  const installed = await c.debug(lagging);
  assert.equal(installed.snapshotInMemory, false, 'the follower lets the installed bytes go');
  assert.ok((installed.snapshotIndex ?? 0) >= (taken.snapshotIndex ?? 0));
  const r = await c.request(lagging, 'GET', `/kv?prefix=big/&limit=1000&consistency=stale`);
  assert.equal(r.status, 200, r.text);
  const got = new Map(r.body.items.map((i: { key: string; value: string }) => [i.key, i.value]));
  assert.equal(got.size, keyCount);
  for (let i = 0; i < keyCount; i++) assert.equal(got.get(keyOf(i)), bigValue(i, 'a'), keyOf(i));

  // A node restarted from its snapshot lets the bytes go once its state machine is restored.
  await c.restartNode(leader);
  await c.waitForLeader();
  const restarted = await c.debug(leader);
  assert.ok((restarted.snapshotIndex ?? 0) > 0);
  assert.equal(restarted.snapshotInMemory, false, 'restarted from its snapshot, it holds a reference');
});
