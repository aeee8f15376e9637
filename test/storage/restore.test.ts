// Goal: a data dir built from a snapshot (restoreDataDir) opens like one a follower filled by
// installing its leader's snapshot: the snapshot at its index and term, a hard state with that
// term and commit index and no vote, no entries — and its log continues from there across
// restarts. It records which new cluster and membership it was built for (RESTORED, written
// first). It is never built over anything, and a restore cut short by a crash at any fsync leaves
// a dir that no node starts on (and no restore reuses), or the whole restored dir — never one with
// part of the state.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { HeldSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import {
  openStorage,
  type RestoreRecord,
  readRestoreRecord,
  restoreDataDir,
  SimDisk,
  StorageError,
} from '../../src/storage/index.js';
import { crashAfterSyncs, entries, hs } from './helpers.js';

const DIR = '/var/raftkv/n2';
const ID = { clusterId: 'raftkv-restored', nodeId: 'n2' };
const snapshot: HeldSnapshot = {
  meta: {
    index: 1234,
    term: 7,
    membership: initialMembership({ n1: '10.0.0.1:7001', n2: '10.0.0.2:7001', n3: '10.0.0.3:7001' }),
  },
  data: new TextEncoder().encode('the state at 1234'),
};
const record: RestoreRecord = {
  clusterId: ID.clusterId,
  clusterSpec: 'n1=10.0.0.1:7001,n2=10.0.0.2:7001,n3=10.0.0.3:7001',
  sourceClusterId: 'raftkv-source',
  index: 1234,
  term: 7,
  sha256: new Uint8Array(32).fill(9),
};

test('a restored dir opens at the snapshot, and its log continues from it', async () => {
  const disk = new SimDisk(new Prng(1));
  await restoreDataDir(disk, DIR, ID, snapshot, record);
  assert.deepEqual(await readRestoreRecord(disk, DIR), record);

  let s = await openStorage(disk, DIR, ID);
  assert.equal(s.state.bootstrapped, false);
  assert.deepEqual(s.state.snapshot, snapshot);
  assert.deepEqual(s.state.entries, []);
  assert.deepEqual(s.state.hardState, hs(7, 1234));
  s.save(entries(1235, 1240, 8), hs(8, 1240, 'n1'));
  await s.sync();
  await s.close();

  s = await openStorage(disk, DIR, ID);
  assert.deepEqual(s.state.snapshot?.meta.index, 1234);
  assert.deepEqual(
    s.state.entries.map((e) => e.index),
    [1235, 1236, 1237, 1238, 1239, 1240],
  );
  assert.deepEqual(s.state.hardState, hs(8, 1240, 'n1'));
  await s.close();

  // Under another cluster's id (the one --cluster alone would give), it is refused.
  await assert.rejects(openStorage(disk, DIR, { ...ID, clusterId: 'raftkv-other' }), /belongs to cluster/);
});

test('a dir that is not empty is never restored over', async () => {
  const disk = new SimDisk(new Prng(2));
  await restoreDataDir(disk, DIR, ID, snapshot, record);
  await assert.rejects(restoreDataDir(disk, DIR, ID, snapshot, record), (e: unknown) => {
    assert.ok(e instanceof StorageError);
    assert.match(e.message, /data dir \/var\/raftkv\/n2 is not empty \(IDENTITY, RESTORED, snap, \.\.\.\)/);
    return true;
  });
  // A node's own dir, grown from an empty log, likewise.
  const other = new SimDisk(new Prng(3));
  await (await openStorage(other, DIR, ID)).close();
  await assert.rejects(restoreDataDir(other, DIR, ID, snapshot, record), StorageError);
});

test('a restore cut short by a crash after any fsync leaves a dir no node starts on', async () => {
  let syncs = 0;
  {
    const disk = new SimDisk(new Prng(4));
    await restoreDataDir(disk, DIR, ID, snapshot, record);
    syncs = disk.stats.fileSyncs + disk.stats.dirSyncs;
  }
  for (let k = 0; k < syncs; k++) {
    for (const seed of [5, 6, 7]) {
      const disk = new SimDisk(new Prng(seed * 100 + k));
      await crashAfterSyncs(disk, () => restoreDataDir(disk, DIR, ID, snapshot, record), k);
      let names: string[] = [];
      try {
        names = await disk.list(DIR);
      } catch {
        // The dir itself did not survive: nothing to start on, and a new restore may proceed.
      }
      if (names.length === 0) continue;
      await assert.rejects(restoreDataDir(disk, DIR, ID, snapshot, record), /is not empty/);
      if (names.includes('IDENTITY')) {
        // The last rename survived the crash: the restore is whole (the file was synced first).
        const whole = await openStorage(disk, DIR, ID);
        assert.deepEqual(whole.state.snapshot, snapshot, `crash after ${k} syncs`);
        await whole.close();
        continue;
      }
      if (!names.includes('RESTORED')) {
        // Crashed while writing the record, before anything of the state: as good as empty.
        assert.deepEqual(names, ['RESTORED.tmp'], `crash after ${k} syncs`);
        continue;
      }
      await assert.rejects(
        openStorage(disk, DIR, ID),
        /holds an unfinished restore \(RESTORED but no IDENTITY\)/,
        `crash after ${k} syncs: ${names.join(',')}`,
      );
    }
  }
});
