// Goal: the data dir raftkv 0.2.0 wrote (fixtures/data-dir-v2/: kv commands of every kind,
// membership entries, a kv snapshot of format 4 with leases and the watch history) opens under
// today's code with every record, the snapshot and the hard state exactly as written; the snapshot
// restores to the state 0.2.0 had at its index, the entries after it replay to the state it had
// at the end, and the storage takes new writes after the old ones. fixtures/data-dir-v2.ts
// describes what the fixture holds; compat-v2-start.test.ts starts a node on it.

import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeCommand } from '../../src/kv/command.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import { decodeMembership } from '../../src/raft/membership.js';
import type { Entry } from '../../src/raft/types.js';
import { decodeIdentity } from '../../src/storage/identity.js';
import { openStorage, RealDisk } from '../../src/storage/index.js';
import {
  AT_END,
  AT_SNAPSHOT,
  FINAL_HARD_STATE,
  FINAL_MEMBERSHIP,
  FIXTURE_IDENTITY,
  FIXTURE_LOG,
  FIXTURE_SEGMENT_SIZE,
  kvStateOf,
  LAST_INDEX,
  SNAPSHOT_INDEX,
  SNAPSHOT_META,
} from './fixtures/data-dir-v2.js';
import { expectedRecords, FIXTURES, readSegments, tempDir } from './helpers.js';

const FIXTURE_DIR = join(FIXTURES, 'data-dir-v2');

const logFrom = (index: number): Entry[] =>
  FIXTURE_LOG.filter((e) => e.entry.index >= index).map((e) => e.entry);

describe('the data dir raftkv 0.2.0 wrote (data-dir-v2)', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    dir = await tempDir('compat-v2');
    await cp(FIXTURE_DIR, dir.path, { recursive: true });
  });
  after(() => dir.cleanup());

  it('decodes every WAL record as 0.2.0 did, and its entries are the described log', async () => {
    const expected = await expectedRecords('data-dir-v2');
    const segments = await readSegments(FIXTURE_DIR);
    assert.deepEqual(Object.keys(segments), Object.keys(expected).sort());
    assert.ok(Object.keys(segments).length >= 3, 'the fixture spans several segments');
    for (const [name, records] of Object.entries(segments)) {
      assert.deepStrictEqual(records, expected[name], name);
    }

    const entries = Object.values(segments)
      .flat()
      .flatMap((r) => (r.kind === 'entry' ? [r.entry] : []));
    assert.deepStrictEqual(
      entries,
      FIXTURE_LOG.map((e) => e.entry),
    );
    for (const e of FIXTURE_LOG) {
      const { index, type, data } = e.entry;
      if (type === 'command') assert.deepStrictEqual(decodeCommand(data), e.command, `entry ${index}`);
      if (type === 'config') assert.deepStrictEqual(decodeMembership(data), e.membership, `entry ${index}`);
    }
    const ops = new Set<string | undefined>(FIXTURE_LOG.map((e) => e.command?.op));
    for (const op of [
      'put',
      'cas',
      'delete',
      'txn',
      'leaseGrant',
      'leaseKeepalive',
      'leaseRevoke',
      'leaseExpire',
    ])
      assert.ok(ops.has(op), `the log has a ${op} command`);
  });

  it('reads the identity', async () => {
    const path = join(FIXTURE_DIR, 'IDENTITY');
    assert.deepStrictEqual(decodeIdentity(new Uint8Array(await readFile(path)), path), FIXTURE_IDENTITY);
  });

  it('opens with the hard state, the format-4 snapshot, and the entries after it', async () => {
    const storage = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY, {
      segmentSize: FIXTURE_SEGMENT_SIZE,
    });
    try {
      const s = storage.state;
      assert.equal(s.bootstrapped, false);
      assert.equal(s.tornTail, null);
      assert.deepEqual(s.discardedSnapshots, []);
      assert.deepStrictEqual(s.hardState, FINAL_HARD_STATE);
      assert.ok(s.snapshot !== null);
      assert.deepStrictEqual(s.snapshot.meta, SNAPSHOT_META);
      assert.equal(s.snapshot.data[4], 4, 'kv snapshot format version 4');
      assert.deepStrictEqual(s.entries, logFrom(SNAPSHOT_INDEX + 1));
      assert.deepEqual(
        storage.snapshots.list().map((f) => f.index),
        [SNAPSHOT_INDEX],
      );
    } finally {
      await storage.close();
    }
  });

  it('restores the snapshot to the state at its index, and replays the rest to the state at the end', async () => {
    const storage = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    let snapshotData: Uint8Array;
    let rest: readonly Entry[];
    try {
      snapshotData = storage.state.snapshot!.data;
      rest = storage.state.entries;
    } finally {
      await storage.close();
    }
    const sm = KvStateMachine.restore(snapshotData);
    assert.deepStrictEqual(kvStateOf(sm), AT_SNAPSHOT);
    // A leased key, the lease's keys and the history window, read as the node reads them.
    assert.equal(sm.read('long/a')?.lease, 18);
    assert.deepEqual(sm.lease(9)?.keys, ['session/a', 'session/b']);
    assert.equal(sm.history.firstCompleteIndex, 1);
    assert.equal(sm.history.lastApplied, SNAPSHOT_INDEX);

    for (const e of rest) {
      const described = FIXTURE_LOG.find((f) => f.entry.index === e.index)!;
      assert.equal(sm.apply(e).kind, described.applies, `entry ${e.index}`);
    }
    assert.deepStrictEqual(kvStateOf(sm), AT_END);
    // The remembered answers are replayed as such.
    assert.equal(sm.lookupIdempotent('req-11')?.replayed, true);
  });

  it('takes new writes and a new snapshot after the old records, and reopens with them', async () => {
    const more: Entry[] = [
      { index: LAST_INDEX + 1, term: 3, type: 'noop', data: new Uint8Array(0) },
      ...[2, 3].map(
        (i): Entry => ({
          index: LAST_INDEX + i,
          term: 3,
          type: 'command',
          data: Uint8Array.of(1, 1, 2, 0x7a, 0x7a, 1, 0x30 + i), // put zz = i
        }),
      ),
    ];
    const hardState = { term: 3, votedFor: 'n1', commitIndex: LAST_INDEX + 3 };
    const first = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    const segments = first.wal.segmentNames();
    first.save(more, hardState);
    await first.sync();
    await first.close();

    const second = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    try {
      assert.deepEqual(second.wal.segmentNames(), segments, 'the new records went into the last segment');
      assert.deepStrictEqual(second.state.entries, [...logFrom(SNAPSHOT_INDEX + 1), ...more]);
      assert.deepStrictEqual(second.state.hardState, hardState);

      // A node that goes on snapshots the state it reached, in today's format, next to the old one.
      const sm = KvStateMachine.restore(second.state.snapshot!.data);
      for (const e of second.state.entries) sm.apply(e);
      assert.equal(sm.get('zz'), '3');
      await second.saveSnapshot({
        meta: { ...SNAPSHOT_META, index: sm.lastApplied, term: 3, membership: FINAL_MEMBERSHIP },
        data: sm.snapshot(),
      });
      second.save([], hardState);
      await second.sync();
    } finally {
      await second.close();
    }

    const third = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    try {
      assert.equal(third.state.snapshot?.meta.index, LAST_INDEX + 3);
      assert.deepStrictEqual(third.state.entries, []);
      const sm = KvStateMachine.restore(third.state.snapshot!.data);
      assert.deepStrictEqual(sm.list('', 1000).items, [
        ...AT_END.keys,
        { key: 'zz', value: '3', version: 2, createIndex: LAST_INDEX + 2, modIndex: LAST_INDEX + 3 },
      ]);
      assert.deepEqual(sm.lease(18)?.keys, ['long/a', 'long/b', 'txn/ok']);
      // The old snapshot is still there for a compaction to keep (two are kept).
      assert.deepEqual(
        third.snapshots.list().map((f) => f.index),
        [LAST_INDEX + 3, SNAPSHOT_INDEX],
      );
    } finally {
      await third.close();
    }
  });
});
