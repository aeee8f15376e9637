// Goal: the WAL against an oracle (the core's MemoryLogStorage) under random workloads.
//  - Round trip: any sequence of saves (with suffix replacements), hard states, snapshot markers
//    (agreeing and conflicting), syncs, segment cuts, releases and reopenings recovers exactly
//    what the oracle holds.
//  - Crash at an arbitrary point, including in the middle of a group commit between its writes
//    and fsyncs: recovery returns the state after some whole batch — never less than what was
//    acknowledged, never a half-written batch — and the WAL works on afterwards.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import type { Entry } from '../../src/raft/types.js';
import { Prng } from '../../src/random.js';
import { SimDisk, Wal } from '../../src/storage/index.js';
import { hs, type LogView, Oracle, settled, viewOf } from './helpers.js';

const DIR = '/n1/wal';

/** Abstract steps, interpreted against the current state so that every one is valid. */
type Step =
  | { readonly op: 'append'; readonly back: number; readonly count: number; readonly size: number }
  | { readonly op: 'hardState'; readonly vote: number; readonly commit: number }
  | { readonly op: 'snapshot'; readonly at: number; readonly conflict: boolean; readonly beyond: number }
  | { readonly op: 'sync' }
  | { readonly op: 'release' }
  | { readonly op: 'reopen' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record(
      {
        op: fc.constant('append' as const),
        back: fc.oneof(fc.constant(0), fc.nat(6)),
        count: fc.integer({ min: 1, max: 5 }),
        size: fc.nat(40),
      },
      { noNullPrototype: true },
    ),
  },
  {
    weight: 2,
    arbitrary: fc.record(
      { op: fc.constant('hardState' as const), vote: fc.nat(2), commit: fc.nat() },
      { noNullPrototype: true },
    ),
  },
  {
    weight: 1,
    arbitrary: fc.record(
      { op: fc.constant('snapshot' as const), at: fc.nat(), conflict: fc.boolean(), beyond: fc.nat(5) },
      { noNullPrototype: true },
    ),
  },
  { weight: 4, arbitrary: fc.constant({ op: 'sync' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'release' as const }) },
  { weight: 1, arbitrary: fc.constant({ op: 'reopen' as const }) },
);

/** Drives a WAL and the oracle with the same steps. */
class Driver {
  term = 1;
  /** Something was saved since the last sync. */
  dirty = false;
  readonly oracle = new Oracle();
  /** Oracle views after each batch handed to the WAL; [0] is the empty start. */
  readonly batches: LogView[];

  constructor(
    readonly disk: SimDisk,
    public wal: Wal,
    private readonly segmentSize: number,
  ) {
    this.batches = [this.oracle.view()];
  }

  /** Applies one step; sync steps are awaited unless the caller takes the promise. */
  async step(s: Step): Promise<void> {
    const log = this.oracle.log;
    switch (s.op) {
      case 'append': {
        const last = log.lastIndex();
        const first = Math.max(this.oracle.snapshotIndex + 1, last + 1 - s.back);
        // Replacing a suffix happens under a new leader: a new term.
        if (first <= last) this.term++;
        const es: Entry[] = [];
        for (let i = 0; i < s.count; i++) {
          es.push({
            index: first + i,
            term: this.term,
            type: 'command',
            data: new Uint8Array(s.size).fill(i),
          });
        }
        this.wal.save(es, null);
        this.oracle.append(es);
        this.dirty = true;
        return;
      }
      case 'hardState': {
        const h = hs(this.term, s.commit % (log.lastIndex() + 1), [null, 'n1', 'n2'][s.vote]!);
        this.wal.save([], h);
        this.oracle.hardState = h;
        this.dirty = true;
        return;
      }
      case 'snapshot': {
        const from = this.oracle.snapshotIndex;
        const last = log.lastIndex();
        let p: { index: number; term: number };
        if (s.conflict || last === from) {
          // A leader's snapshot this log disagrees with (or is behind): it replaces the log.
          this.term++;
          p = { index: from + 1 + ((s.at + s.beyond) % (last - from + 5)), term: this.term };
        } else {
          const index = from + 1 + (s.at % (last - from));
          p = { index, term: log.term(index)! };
        }
        this.wal.saveSnapshot(p);
        this.oracle.snapshot(p);
        this.dirty = true;
        return;
      }
      case 'sync':
        await this.sync();
        return;
      case 'release': {
        const durable = this.wal.durableSnapshot;
        if (durable !== null) await this.wal.release(durable.index);
        return;
      }
      case 'reopen': {
        await this.sync();
        await this.wal.close();
        const { wal, recovery } = await Wal.open(this.disk, DIR, { segmentSize: this.segmentSize });
        assert.deepEqual(viewOf(recovery), this.oracle.view());
        this.wal = wal;
        return;
      }
    }
  }

  /** Starts a sync, recording the batch it will make durable. */
  sync(): Promise<void> {
    if (this.dirty) this.batches.push(this.oracle.view());
    this.dirty = false;
    return this.wal.sync();
  }
}

test('property: any workload recovers exactly what was synced', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(stepArb, { maxLength: 60 }),
      fc.constantFrom(120, 400, 4096),
      async (steps, segmentSize) => {
        const disk = new SimDisk(new Prng(1));
        const { wal } = await Wal.open(disk, DIR, { segmentSize });
        const d = new Driver(disk, wal, segmentSize);
        for (const s of steps) await d.step(s);
        await d.sync();
        await d.wal.close();
        const { recovery } = await Wal.open(disk, DIR, { segmentSize });
        assert.equal(recovery.tornTail, null);
        assert.deepEqual(viewOf(recovery), d.oracle.view());
      },
    ),
    { numRuns: 150 },
  );
});

test('property: a crash at any point recovers a whole batch, at least the acknowledged ones', async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        stepArb.filter((s) => s.op !== 'reopen'),
        { maxLength: 50 },
      ),
      fc.integer(),
      fc.constantFrom(120, 400, 4096),
      // How many of the in-flight group commit's fsyncs complete before the crash (null: none started).
      fc.option(fc.oneof(fc.constant(0), fc.nat(2))),
      async (steps, seed, segmentSize, inflight) => {
        const disk = new SimDisk(new Prng(seed));
        const { wal } = await Wal.open(disk, DIR, { segmentSize });
        const d = new Driver(disk, wal, segmentSize);
        for (const s of steps) await d.step(s);
        let acknowledged = d.batches.length - 1;
        if (inflight !== null) {
          // Crash in the middle of a group commit: let `inflight` of its fsyncs complete first.
          disk.holdSyncs();
          let done = false;
          const p = d.sync().then(() => {
            done = true;
          });
          const over = settled(p);
          for (let i = 0; i < inflight; i++) {
            await Promise.race([disk.whenSyncsPending(1), over]);
            if (disk.releaseSyncs(1) === 0) break;
          }
          await Promise.race([disk.whenSyncsPending(1), over]);
          if (done) acknowledged = d.batches.length - 1;
        }
        disk.crash();
        const { wal: after, recovery } = await Wal.open(disk, DIR, { segmentSize });
        const got = viewOf(recovery);
        const candidates = d.batches.slice(acknowledged);
        assert.ok(
          candidates.some((v) => isDeepStrictEqual(v, got)),
          `recovered state matches no batch from ${acknowledged} on (of ${d.batches.length})`,
        );
        // The recovered WAL accepts more, and the next recovery is clean.
        const next = got.entries.at(-1)?.index ?? got.snapshot?.index ?? 0;
        after.save([{ index: next + 1, term: 1000, type: 'noop', data: new Uint8Array(0) }], hs(1000, 0));
        await after.sync();
        await after.close();
        const again = await Wal.open(disk, DIR, { segmentSize });
        assert.equal(again.recovery.tornTail, null);
        assert.equal(again.recovery.entries.at(-1)?.index, next + 1);
        await again.wal.close();
      },
    ),
    { numRuns: 500 },
  );
});

function isDeepStrictEqual(a: unknown, b: unknown): boolean {
  try {
    assert.deepStrictEqual(a, b);
    return true;
  } catch {
    return false;
  }
}
