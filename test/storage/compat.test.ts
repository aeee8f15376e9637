// Goal: a data dir written by the release before the shared byte codec still opens, with every
// record, snapshot and the hard state exactly as that release wrote them, and the node can go on
// writing to it. The fixture (fixtures/data-dir-v1/) was written through the storage API by that
// release; fixtures/data-dir-v1.ts describes what it holds.

import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { decodeCommand } from '../../src/kv/command.js';
import { KvStateMachine } from '../../src/kv/state-machine.js';
import type { Entry } from '../../src/raft/types.js';
import { decodeIdentity } from '../../src/storage/identity.js';
import { openStorage, RealDisk } from '../../src/storage/index.js';
import {
  FIXTURE_IDENTITY,
  FIXTURE_SEGMENT_SIZE,
  FIXTURE_STEPS,
  type FixtureStep,
} from './fixtures/data-dir-v1.js';
import { expectedRecords, FIXTURES, readSegments, tempDir } from './helpers.js';

const FIXTURE_DIR = join(FIXTURES, 'data-dir-v1');

function lastStep<K extends keyof FixtureStep>(key: K): NonNullable<FixtureStep[K]> {
  const step = [...FIXTURE_STEPS].reverse().find((s) => s[key] !== undefined && s[key] !== null);
  assert.ok(step !== undefined);
  return step[key] as NonNullable<FixtureStep[K]>;
}

/**
 * The fixture's kv snapshots are in format version 2, from before keys carried metadata: each
 * restores to the state that applying the same entries gives today, but with every key's metadata
 * rebuilt as version 1, created and modified at the snapshot's index (src/kv/snapshot.ts).
 */
function assertKvSnapshotOf(data: Uint8Array, entries: readonly Entry[]): void {
  assert.equal(data[4], 2, 'kv snapshot format version 2');
  const restored = KvStateMachine.restore(data);
  const replayed = new KvStateMachine();
  for (const e of entries) replayed.apply(e);
  const at = replayed.lastApplied;
  assert.equal(restored.lastApplied, at);
  const all = replayed.list('', 10_000);
  assert.deepStrictEqual(restored.list('', 10_000), {
    ...all,
    items: all.items.map((i) => ({ ...i, version: 1, createIndex: at, modIndex: at })),
  });
  assert.equal(restored.stateBytes, replayed.stateBytes);
  assert.equal(restored.quotaBytes, replayed.quotaBytes);
  assert.deepEqual(restored.noSpaceAlarms, replayed.noSpaceAlarms);
  assert.equal(restored.dedupSize, replayed.dedupSize);
}

describe('a data dir written by the release before the shared codec', () => {
  let dir: { path: string; cleanup: () => Promise<void> };
  before(async () => {
    dir = await tempDir('compat');
    await cp(FIXTURE_DIR, dir.path, { recursive: true });
  });
  after(() => dir.cleanup());

  it('decodes every WAL record as that release did', async () => {
    const expected = await expectedRecords('data-dir-v1');
    const segments = await readSegments(FIXTURE_DIR);
    assert.deepEqual(Object.keys(segments), Object.keys(expected).sort());
    assert.ok(Object.keys(segments).length >= 3, 'the fixture spans several segments');
    for (const [name, records] of Object.entries(segments)) {
      assert.deepStrictEqual(records, expected[name], name);
    }
  });

  it('reads the identity', async () => {
    const path = join(FIXTURE_DIR, 'IDENTITY');
    assert.deepStrictEqual(decodeIdentity(new Uint8Array(await readFile(path)), path), FIXTURE_IDENTITY);
  });

  it('opens with the hard state, the newest snapshot and the entries after it', async () => {
    const storage = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY, {
      segmentSize: FIXTURE_SEGMENT_SIZE,
    });
    try {
      const s = storage.state;
      assert.equal(s.bootstrapped, false);
      assert.equal(s.tornTail, null);
      assert.deepEqual(s.discardedSnapshots, []);
      assert.deepStrictEqual(s.hardState, lastStep('hardState'));
      const install = lastStep('snapshot');
      assert.ok(s.snapshot !== null);
      assert.deepStrictEqual(s.snapshot.meta, install.meta);
      assertKvSnapshotOf(s.snapshot.data, install.applied);
      const sm = KvStateMachine.restore(s.snapshot.data);
      assert.equal(sm.lastApplied, install.meta.index);
      assert.equal(sm.get('ключ'), 'v5');
      assert.equal(sm.get('\uFEFFbom'), '');
      assert.equal(sm.get('k20'), 'two-20');
      assert.equal(sm.quotaBytes, 300_000);
      assert.deepEqual(sm.noSpaceAlarms, []);

      const expected = FIXTURE_STEPS.at(-1)!.entries;
      assert.deepStrictEqual(s.entries, expected);
      for (const e of s.entries) if (e.type === 'command') decodeCommand(e.data);

      // The older snapshot is intact too.
      const older = storage.snapshots.list().find((f) => f.index === 14);
      assert.ok(older !== undefined);
      const loaded = await storage.snapshots.load(older);
      const first = FIXTURE_STEPS.find((st) => st.snapshot !== undefined)!.snapshot!;
      assert.deepStrictEqual(loaded.meta, first.meta);
      assertKvSnapshotOf(loaded.data, first.applied);
    } finally {
      await storage.close();
    }
  });

  it('takes new writes after the old records, and reopens with both', async () => {
    const more: Entry[] = [207, 208, 209].map((index) => ({
      index,
      term: 3,
      type: 'command',
      data: Uint8Array.of(1, 4, 1, 0x6b),
    }));
    // The default segment size: the new records go into the old last segment, after its records.
    const first = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    const segments = first.wal.segmentNames();
    first.save(more, { term: 4, votedFor: 'n1', commitIndex: 208 });
    await first.sync();
    await first.close();
    const again = await openStorage(new RealDisk(), dir.path, FIXTURE_IDENTITY);
    try {
      assert.deepEqual(again.wal.segmentNames(), segments);
      assert.deepStrictEqual(again.state.entries, [...FIXTURE_STEPS.at(-1)!.entries, ...more]);
      assert.deepStrictEqual(again.state.hardState, { term: 4, votedFor: 'n1', commitIndex: 208 });
      assert.equal(again.state.snapshot?.meta.index, 200);
    } finally {
      await again.close();
    }
  });
});
