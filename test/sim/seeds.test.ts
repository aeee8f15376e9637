// Goal: the simulator's main safety net. Runs the default seed set — seeds 1..1000, each deciding
// cluster size, configuration, fault profile and rates — with every Raft safety property checked
// after every step and bounded liveness asserted once the faults stop (see scenario.ts), then
// replays every seed listed in failing-seeds.txt. Also asserts that the fault mix really happened
// (crashes, partitions, disk stalls and the stall guard acting, process pauses and the driver
// catching up on them, paused leaders cut off under a lease, leaders cut off right after their
// CheckQuorum round while another leader commits, snapshot installs, stale leaders,
// lost proposals, membership changes of every kind — joint ones, the leader's own removal, nodes
// joining and leaving, both rules of one change at a time refusing requests, leaders cut off or
// crashed in the middle of a change): a simulator whose faults silently stopped firing would pass
// while proving nothing.
// The seeds are split over worker threads (one per available core, at most four).

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { type BatchSummary, formatSummary, mergeSummaries, runBatch } from './batch.js';
import { parseSeedList } from './options.js';
import { PROFILES } from './scenario.js';

const SEEDS = 1000;

function runInWorkers(seeds: number[]): Promise<BatchSummary> {
  const workers = Math.max(1, Math.min(4, availableParallelism()));
  const shares = Array.from({ length: workers }, (_, w) => seeds.filter((_, i) => i % workers === w));
  const script = new URL('./seed-worker.js', import.meta.url);
  return Promise.all(
    shares.map(
      (share) =>
        new Promise<BatchSummary>((resolve, reject) => {
          const w = new Worker(script, { workerData: { seeds: share, overrides: {} } });
          w.once('message', (s: BatchSummary) => resolve(s));
          w.once('error', reject);
          w.once('exit', (code) => {
            if (code !== 0) reject(new Error(`seed worker exited with ${code}`));
          });
        }),
    ),
  ).then(mergeSummaries);
}

function describeFailures(s: BatchSummary): string {
  return s.failures.map((f) => `  ${f.message}`).join('\n');
}

// One run of the seed set, shared by the tests below.
let run: Promise<BatchSummary> | null = null;
function seedSet(): Promise<BatchSummary> {
  if (run === null) {
    const t0 = performance.now();
    run = runInWorkers(Array.from({ length: SEEDS }, (_, i) => i + 1)).then((s) => {
      console.log(formatSummary(s, (performance.now() - t0) / 1000));
      return s;
    });
  }
  return run;
}

test(`seeds 1..${SEEDS}: every safety property holds and liveness returns after faults stop`, async () => {
  const s = await seedSet();
  assert.equal(s.ran, SEEDS);
  assert.deepEqual(
    s.failures.map((f) => f.seed),
    [],
    `${s.failures.length} seed(s) failed:\n${describeFailures(s)}`,
  );
});

test(`seeds 1..${SEEDS}: the fault mix really happened`, async () => {
  const s = await seedSet();
  for (const p of PROFILES) assert.ok((s.byProfile[p] ?? 0) >= SEEDS / 40, `too few ${p} seeds`);
  const t = s.totals;
  const snap = s.profileTotals.snapshots ?? {};
  assert.ok((t.crashes ?? 0) > SEEDS, 'crashes happened');
  assert.ok((t.crashPointCrashes ?? 0) > SEEDS / 4, 'crashes at crash points happened');
  assert.ok((t.partitions ?? 0) > SEEDS / 2, 'partitions happened');
  assert.ok((t.isolations ?? 0) > SEEDS / 2, 'leaders were cut off right after deciding');
  assert.ok((t.dropped ?? 0) > 0, 'messages were lost');
  assert.ok((t.diskStalls ?? 0) > SEEDS / 4, 'disks stalled');
  assert.ok((t.stallTransfers ?? 0) > SEEDS / 50, 'stalled leaders handed leadership over');
  assert.ok((t.stallStepDowns ?? 0) > SEEDS / 50, 'stalled leaders stepped down');
  assert.ok((t.pauses ?? 0) > SEEDS / 2, 'processes paused');
  assert.ok((t.pauseHeld ?? 0) > SEEDS / 4, 'messages to paused nodes were held for their resume');
  assert.ok((t.pauseLost ?? 0) > SEEDS / 4, 'messages to paused nodes were lost');
  assert.ok((t.pauseRequests ?? 0) > SEEDS, 'client requests waited for paused nodes');
  assert.ok((t.catchUps ?? 0) > SEEDS / 2, 'drivers handed their cores the ticks a pause owed');
  assert.ok((t.leasePauseIsolations ?? 0) > SEEDS / 20, 'leaders under a lease were paused and cut off');
  assert.ok((t.leaderCuts ?? 0) > SEEDS / 10, 'leaders under a lease were cut off after CheckQuorum');
  assert.ok(
    (t.leaderCutOverlaps ?? 0) > SEEDS / 40,
    'another leader acknowledged a write while the cut-off one still led',
  );
  assert.ok(
    (snap.snapshotsInstalled ?? 0) > (s.byProfile.snapshots ?? 0) / 2,
    'followers caught up by snapshot',
  );
  assert.ok((t.lost ?? 0) > 0, 'some accepted proposals were overwritten (and never acknowledged)');
  assert.ok((t.leaders ?? 0) > 3 * SEEDS, 'leadership changed hands many times');
  assert.ok((t.readsServed ?? 0) > 10 * SEEDS, 'linearizable reads were checked');
  assert.ok((t.acked ?? 0) > 20 * SEEDS, 'writes were acknowledged and checked');
  // Membership changes (operator.ts), in a share of the seeds.
  assert.ok((t.membershipSeeds ?? 0) > SEEDS / 4, 'seeds changed the membership');
  assert.ok((t.configsCommitted ?? 0) > SEEDS, 'configuration entries committed');
  assert.ok((t.jointConfigsCommitted ?? 0) > SEEDS / 10, 'joint configurations committed (and left)');
  assert.ok((t.nodesJoined ?? 0) > SEEDS / 2, 'nodes joined with empty storage');
  assert.ok((t.nodesRetired ?? 0) > SEEDS / 4, 'removed nodes were stopped');
  assert.ok((t.leadersRemoved ?? 0) > SEEDS / 10, 'leaders removed themselves');
  assert.ok((t.changesNotReady ?? 0) > SEEDS, 'changes refused before the leader’s own-term commit');
  assert.ok((t.changesInProgress ?? 0) > SEEDS, 'changes refused while another was in flight');
  assert.ok((t.leaderChanges ?? 0) > SEEDS / 10, 'changes failed over to a new leader');
  assert.ok((t.jointCrashes ?? 0) > SEEDS / 20, 'voters crashed within a joint phase');
  assert.ok((t.cutLeadersRemoved ?? 0) > SEEDS / 10, 'leaders cut off after a change, then removed');
});

test('every seed in failing-seeds.txt replays cleanly', () => {
  const file = fileURLToPath(new URL('../../../test/sim/failing-seeds.txt', import.meta.url));
  const list = parseSeedList(readFileSync(file, 'utf8'));
  const failures: string[] = [];
  for (const entry of list) {
    const s = runBatch([entry.seed], entry.overrides, false);
    for (const f of s.failures) failures.push(`  [${entry.line}]\n  ${f.message}`);
  }
  assert.deepEqual(failures, [], `${failures.length} listed seed(s) fail again:\n${failures.join('\n')}`);
});
