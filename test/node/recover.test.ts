// Goal: a node restores its state machine from its snapshot file a window at a time
// (restoreSnapshot), to exactly the state a restore from the bytes gives, and its core's log then
// holds only a reference to the file — the node never holds the snapshot's bytes whole.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeCommand, KvStateMachine } from '../../src/kv/index.js';
import { silentEventLog } from '../../src/node/logger.js';
import { resolveNodeOptions } from '../../src/node/options.js';
import { recoverCore, restoreSnapshot } from '../../src/node/recover.js';
import { initialMembership } from '../../src/raft/index.js';
import type { Entry } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { openStorage, SimDisk } from '../../src/storage/index.js';

const DIR = '/data/n1';
const ID = { clusterId: 'c-1', nodeId: 'n1' };
const CLUSTER = { n1: { host: '127.0.0.1', port: 7001 } };

function put(index: number, key: string, value: string): Entry {
  return { index, term: 1, type: 'command', data: encodeCommand({ op: 'put', key, value }) };
}

test('the state machine is restored from the snapshot file, and the log keeps a reference', async () => {
  const disk = new SimDisk(new Prng(1));
  const source = new KvStateMachine();
  const log: Entry[] = [];
  for (let i = 1; i <= 5000; i++) log.push(put(i, `key-${i % 4000}`, `value ${i} ${'v'.repeat(i % 500)}`));
  for (const e of log.slice(0, 4000)) source.apply(e);
  const bytes = source.snapshot();
  assert.ok(bytes.length > 2 * 1024 * 1024, 'the snapshot spans several read windows');

  const s = await openStorage(disk, DIR, ID);
  s.save(log, { term: 1, votedFor: 'n1', commitIndex: 5000 });
  await s.sync();
  await s.saveSnapshot({
    meta: { index: 4000, term: 1, membership: initialMembership(['n1']) },
    data: bytes,
  });
  await s.sync();
  await s.close();

  const storage = await openStorage(disk, DIR, ID, { snapshotData: 'file' });
  const recovered = storage.state;
  assert.deepStrictEqual(recovered.snapshot?.data, { stored: true, byteLength: bytes.length });
  const restored = await restoreSnapshot(recovered.snapshot!, storage.snapshots);
  assert.deepStrictEqual(restored.snapshot(), bytes);

  const o = resolveNodeOptions({ id: 'n1', cluster: CLUSTER, dataDir: DIR });
  const core = recoverCore(o, recovered, { nextInt: () => 0 }, silentEventLog, restored);
  assert.equal(core.sm, restored);
  assert.deepStrictEqual(core.log.snapshot().data, { stored: true, byteLength: bytes.length });
  assert.equal(core.log.firstIndex(), 4001);
  assert.equal(core.log.lastIndex(), 5000);
  await storage.close();
});

test('a snapshot recovered with its bytes is restored from them, as before', async () => {
  const disk = new SimDisk(new Prng(2));
  const source = new KvStateMachine();
  source.apply(put(1, 'a', 'b'));
  const s = await openStorage(disk, DIR, ID);
  s.save([put(1, 'a', 'b')], { term: 1, votedFor: null, commitIndex: 1 });
  await s.sync();
  await s.saveSnapshot({
    meta: { index: 1, term: 1, membership: initialMembership(['n1']) },
    data: source.snapshot(),
  });
  await s.sync();
  await s.close();
  const storage = await openStorage(disk, DIR, ID);
  const fromBytes = await restoreSnapshot(storage.state.snapshot!, storage.snapshots);
  assert.deepStrictEqual(fromBytes.snapshot(), source.snapshot());
  const o = resolveNodeOptions({ id: 'n1', cluster: CLUSTER, dataDir: DIR });
  const core = recoverCore(o, storage.state, { nextInt: () => 0 }, silentEventLog);
  assert.deepStrictEqual(core.sm.snapshot(), source.snapshot());
  await storage.close();
});
