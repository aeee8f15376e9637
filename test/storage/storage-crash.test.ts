// Goal: a node's whole storage cycle — appends with group commit, snapshots, compaction (snapshot
// pruning and WAL segment release) — survives crashes at arbitrary points, including in the
// middle of a snapshot save or a compaction, again and again: every restart opens without help,
// keeps everything acknowledged, and returns a consistent log (snapshot, then contiguous entries
// with the right contents, and the hard state of the same batch).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { initialMembership } from '../../src/raft/index.js';
import type { Entry, HeldSnapshot } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { openStorage, SimDisk, type Storage } from '../../src/storage/index.js';
import { crashAfterSyncs } from './helpers.js';

const DIR = '/srv/n2';
const ID = { clusterId: 'c1', nodeId: 'n2' };
const OPTIONS = { segmentSize: 300, keepSnapshots: 2 };

const payload = (i: number): Uint8Array => new TextEncoder().encode(`cmd-${i}-${'x'.repeat(i % 17)}`);
const snapshotAt = (i: number): HeldSnapshot => ({
  meta: { index: i, term: 1, membership: initialMembership(['n1', 'n2', 'n3']) },
  data: new TextEncoder().encode(`state@${i}`),
});

interface Progress {
  /** Last index saved (acknowledged or not). */
  saved: number;
  /** Last index whose sync resolved. */
  acked: number;
  /** Latest snapshot marker index saved. */
  snap: number;
}

/** One storage operation, chosen by `r`; its promise is returned so a crash can interrupt it. */
function operation(s: Storage, p: Progress, r: Prng): Promise<void> {
  const pick = r.next();
  if (pick < 0.6 || p.saved === p.snap) {
    const n = 1 + r.nextInt(6);
    const es: Entry[] = [];
    for (let i = p.saved + 1; i <= p.saved + n; i++)
      es.push({ index: i, term: 1, type: 'command', data: payload(i) });
    p.saved += n;
    const last = p.saved;
    s.save(es, { term: 1, votedFor: 'n1', commitIndex: last });
    return s.sync().then(() => {
      p.acked = Math.max(p.acked, last);
    });
  }
  if (pick < 0.8) {
    const at = p.snap + 1 + r.nextInt(p.saved - p.snap);
    p.snap = at;
    return s.saveSnapshot(snapshotAt(at)).then(() => s.sync());
  }
  return s.compact().then(() => {});
}

function checkRecovered(s: Storage, p: Progress, seed: number): number {
  const { snapshot, entries, hardState } = s.state;
  const from = snapshot?.meta.index ?? 0;
  if (snapshot !== null) assert.deepEqual(snapshot, snapshotAt(from), `seed ${seed}: snapshot intact`);
  entries.forEach((e, k) => {
    assert.equal(e.index, from + 1 + k, `seed ${seed}: entries contiguous after the snapshot`);
    assert.deepEqual(e.data, payload(e.index), `seed ${seed}: entry ${e.index} intact`);
  });
  const last = entries.at(-1)?.index ?? from;
  assert.ok(last >= p.acked, `seed ${seed}: acknowledged ${p.acked}, recovered only ${last}`);
  assert.ok(last <= p.saved, `seed ${seed}: recovered ${last} beyond what was saved`);
  assert.equal(hardState.commitIndex, last, `seed ${seed}: hard state from the same batch as the last entry`);
  return last;
}

test('crash anywhere, many times over: storage always reopens consistent and complete', async () => {
  for (let seed = 0; seed < 60; seed++) {
    const r = new Prng(seed * 7919 + 1);
    const disk = new SimDisk(new Prng(seed));
    let s = await openStorage(disk, DIR, ID, OPTIONS);
    const p: Progress = { saved: 0, acked: 0, snap: 0 };
    for (let cycle = 0; cycle < 4; cycle++) {
      const steps = r.nextInt(40);
      for (let i = 0; i < steps; i++) await operation(s, p, r);
      // Crash inside one more operation, after `k` of its fsyncs completed.
      const storage = s;
      await crashAfterSyncs(
        disk,
        () => operation(storage, p, r),
        () => r.nextInt(4),
      );
      s = await openStorage(disk, DIR, ID, OPTIONS);
      const last = checkRecovered(s, p, seed);
      // Carry on from what survived, like a restarted node would.
      p.saved = last;
      p.acked = last;
      p.snap = Math.max(s.state.snapshot?.meta.index ?? 0, s.wal.durableSnapshot?.index ?? 0);
    }
    await s.close();
  }
});
