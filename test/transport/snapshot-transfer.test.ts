// Goal: a 16 MiB snapshot crosses a transport whose frames are limited to 1 MiB, intact and as
// one InstallSnapshot, without holding up the small messages sent after it; one kept in a file
// crosses the same way, streamed from the file, and one whose file is damaged never arrives; a
// newer snapshot replaces one not yet sent; a receiver that refuses a snapshot does not make the
// sender resend it forever.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { heldSnapshot, initialMembership, silentLogger, withStoredData } from '../../src/raft/index.js';
import type { InstallSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { SimDisk, SnapshotStore } from '../../src/storage/index.js';
import type { SnapshotFiles } from '../../src/transport/index.js';
import { MAX_SNAPSHOT_RESTARTS } from '../../src/transport/snapshot-stream.js';
import { waitFor } from '../support/wait.js';
import { HOST, heartbeat, listeningTransport, portOf, record } from './helpers.js';

const CLUSTER = 'snap';
const MiB = 1024 * 1024;

function snapshot(bytes: number, index: number): InstallSnapshot {
  const data = new Uint8Array(bytes);
  // A pattern that differs in every byte position, so misplaced chunks cannot go unnoticed.
  for (let i = 0; i < bytes; i++) data[i] = (i * 2654435761 + (i >>> 16)) >>> 24;
  return {
    type: 'InstallSnapshot',
    from: 'a',
    to: 'b',
    term: 5,
    snapshot: { meta: { index, term: 4, membership: initialMembership(['a', 'b', 'c']) }, data },
  };
}

function digest(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

async function pair(options: { bMaxSnapshotBytes?: number; aSnapshotFiles?: SnapshotFiles } = {}) {
  const b = await listeningTransport({
    nodeId: 'b',
    clusterId: CLUSTER,
    maxFrameBytes: MiB,
    maxSnapshotBytes: options.bMaxSnapshotBytes,
  });
  const a = await listeningTransport({
    nodeId: 'a',
    clusterId: CLUSTER,
    maxFrameBytes: MiB,
    peers: { b: { host: HOST, port: portOf(b) } },
    ...(options.aSnapshotFiles !== undefined && { snapshotFiles: options.aSnapshotFiles }),
  });
  return { a, b };
}

/** The snapshot of `m` saved in a store on a simulated disk, and `m` with only a reference to it. */
async function inFile(
  m: InstallSnapshot,
): Promise<{ disk: SimDisk; store: SnapshotStore; stored: InstallSnapshot }> {
  const disk = new SimDisk(new Prng(1));
  const store = await SnapshotStore.open(disk, '/data/snap', silentLogger);
  await store.save(heldSnapshot(m.snapshot));
  return { disk, store, stored: { ...m, snapshot: withStoredData(m.snapshot) } };
}

describe('snapshot transfer', () => {
  it('streams a 16 MiB snapshot intact in frames of at most 1 MiB, interleaved with heartbeats', async () => {
    const { a, b } = await pair();
    const bLog = record(b);
    try {
      const m = snapshot(16 * MiB, 2 ** 33);
      const expected = digest(heldSnapshot(m.snapshot).data);
      assert.equal(a.send(m), true);
      for (let i = 0; i < 100; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('the snapshot and the heartbeats', () => bLog.messages.length === 101, {
        timeoutMs: 60_000,
      });
      const received = bLog.messages.filter((x) => x.type === 'InstallSnapshot');
      assert.equal(received.length, 1);
      const got = received[0]!;
      assert.deepStrictEqual(got.snapshot.meta, m.snapshot.meta);
      assert.deepStrictEqual({ ...got, snapshot: null }, { ...m, snapshot: null });
      assert.equal(got.snapshot.data.byteLength, 16 * MiB);
      assert.equal(digest(heldSnapshot(got.snapshot).data), expected);
      assert.deepStrictEqual(
        bLog.events.filter((e) => e.type !== 'inboundAccepted'),
        [],
      );
      assert.equal(a.peerStats('b')?.sent, 101);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('streams a snapshot kept in a file from the file, intact, in the same frames', async () => {
    const m = snapshot(8 * MiB, 2 ** 33);
    const { store, stored } = await inFile(m);
    const { a, b } = await pair({ aSnapshotFiles: store });
    const bLog = record(b);
    try {
      assert.equal(a.sendsStoredSnapshots, true);
      assert.equal(a.send(stored), true);
      for (let i = 0; i < 10; i++) a.send(heartbeat('a', 'b', i));
      await waitFor('the snapshot and the heartbeats', () => bLog.messages.length === 11, {
        timeoutMs: 60_000,
      });
      const got = bLog.messages.find((x) => x.type === 'InstallSnapshot');
      assert.ok(got?.type === 'InstallSnapshot');
      assert.deepStrictEqual({ ...got, snapshot: null }, { ...m, snapshot: null });
      assert.deepStrictEqual(got.snapshot.meta, m.snapshot.meta);
      assert.equal(digest(heldSnapshot(got.snapshot).data), digest(heldSnapshot(m.snapshot).data));
      assert.equal(a.peerStats('b')?.sent, 11);
      assert.equal(a.peerStats('b')?.snapshotPending, false);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('drops the stream of a damaged snapshot file before its last chunk, and reports it', async () => {
    const m = snapshot(3 * MiB, 40);
    const { disk, store, stored } = await inFile(m);
    const path = store.pathOf(store.list()[0]!);
    disk.corrupt(path, (await disk.size(path))! - MiB);
    const { a, b } = await pair({ aSnapshotFiles: store });
    const aLog = record(a);
    const bLog = record(b);
    try {
      assert.equal(a.send(stored), true);
      await waitFor('the stream dropped', () => a.peerStats('b')?.snapshotPending === false);
      assert.deepStrictEqual(
        aLog.events.filter((e) => e.type === 'snapshotStreamFailed'),
        [
          {
            type: 'snapshotStreamFailed',
            peer: 'b',
            index: 40,
            term: 4,
            reason: 'data checksum mismatch in its file',
          },
        ],
      );
      assert.equal(a.peerStats('b')?.dropped, 1);
      // The connection goes on: a heartbeat arrives, and never a snapshot.
      a.send(heartbeat('a', 'b', 1));
      await waitFor('a heartbeat after the drop', () => bLog.messages.length === 1);
      assert.equal(bLog.messages[0]?.type, 'Heartbeat');
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('without snapshot files, drops a message whose data is in a file, and reports it', async () => {
    const { stored } = await inFile(snapshot(1000, 50));
    const { a, b } = await pair();
    const aLog = record(a);
    try {
      assert.equal(a.sendsStoredSnapshots, false);
      assert.equal(a.send(stored), false);
      assert.deepStrictEqual(
        aLog.events.map((e) => e.type),
        ['snapshotStreamFailed'],
      );
      assert.equal(a.peerStats('b')?.dropped, 1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('replaces a snapshot not yet sent with a newer one', async () => {
    const { a, b } = await pair();
    const bLog = record(b);
    try {
      // Both are queued before the lazily opened connection exists.
      a.send(snapshot(3 * MiB, 10));
      a.send(snapshot(2 * MiB, 20));
      await waitFor(
        'a snapshot',
        () => bLog.messages.length === 1 && a.peerStats('b')?.snapshotPending === false,
      );
      const got = bLog.messages[0] as InstallSnapshot;
      assert.equal(got.snapshot.meta.index, 20);
      assert.equal(got.snapshot.data.byteLength, 2 * MiB);
      assert.equal(a.peerStats('b')?.dropped, 1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('gives up on a snapshot the receiver keeps refusing, and keeps the connection useful', async () => {
    const { a, b } = await pair({ bMaxSnapshotBytes: MiB });
    const bLog = record(b);
    try {
      a.send(snapshot(2 * MiB, 30));
      await waitFor('the snapshot abandoned', () => a.peerStats('b')?.snapshotPending === false);
      assert.equal(a.peerStats('b')?.dropped, 1);
      const refusals = bLog.events.filter((e) => e.type === 'protocolError');
      assert.equal(refusals.length, MAX_SNAPSHOT_RESTARTS + 1);
      assert.ok(
        refusals.every((e) => e.type === 'protocolError' && /exceeds the maximum of 1048576/.test(e.reason)),
      );
      a.send(heartbeat('a', 'b', 1));
      await waitFor('a heartbeat after the refusals', () => bLog.messages.length === 1);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });
});
