// Goal: a node killed with SIGKILL at any moment loses nothing it acknowledged and restarts
// cleanly — with real processes, real files and real fsync, not the simulated disk.
//
// 32 concurrent clients write unique keys and overwrite a few hot keys while nodes are killed
// with kill -9 at random moments (the leader often, a follower sometimes, every fifth time every
// node at once) and restarted on the same data dir. Afterwards every acknowledged write is there
// with its value, nothing appears that no client wrote, and every replica holds the same (see
// workload.ts for the exact rules). A restart after kill -9 may truncate a torn tail (with a
// warning); refusing to start is a failure.
//
// Then damage on disk, made by hand: garbage after the last record (a torn write) is truncated
// with a warning and the node rejoins; a flipped byte inside an earlier record makes the node
// refuse to start, naming the file and the offset; a damaged newest snapshot is set aside and the
// node recovers from the older snapshot and the WAL.
//
// The fault schedule comes from a seeded PRNG (the seed is in the test name; replay it with
// RAFTKV_CRASH_SEED=<seed>; the process timing itself is not reproducible). More cycles:
// RAFTKV_CRASH_CYCLES=<n> (default 12).

import assert from 'node:assert/strict';
import { appendFile, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { testTiming } from '../support/node-process.js';
import { ProcessCluster } from '../support/process-cluster.js';
import { intFromEnv, Prng, seedFromEnv } from '../support/random.js';
import { pause } from '../support/wait.js';
import { FRAME_HEADER, KIND_ENTRY, lastSegment, readFrames } from './wal-files.js';
import { checkWorkload, defaultWorkload, Workload } from './workload.js';

const cycles = intFromEnv('RAFTKV_CRASH_CYCLES', 12);
const seed = seedFromEnv('RAFTKV_CRASH_SEED');
const replay = `replay the fault schedule with RAFTKV_CRASH_SEED=${seed}`;

/** The crash the storage rules allow to be reported: a torn tail, truncated. */
const tornTail = /torn tail|torn segment/i;
/** What a node must never print when restarted after kill -9. */
const refusal = /corrupt|refusing to start|cannot start/i;

type Victims = 'leader' | 'follower' | 'all';

/**
 * Runs `n` crash cycles under load: wait a random moment, kill -9 the chosen nodes, keep them down
 * a random while, restart them, and require that they start cleanly and that the cluster
 * acknowledges writes again. Returns a one-line summary per cycle.
 */
async function crashCycles(cluster: ProcessCluster, w: Workload, prng: Prng, n: number): Promise<string[]> {
  const events: string[] = [];
  for (let cycle = 1; cycle <= n; cycle++) {
    await pause(prng.int(100, 1200)); // the random moment of the crash
    // Every fifth cycle kills every node at once; otherwise the leader (2 in 3) or a follower.
    let kind: Victims;
    if (cluster.ids.length === 1 || cycle % 5 === 0) kind = 'all';
    else kind = prng.chance(2 / 3) ? 'leader' : 'follower';
    const leader = kind === 'all' ? null : await cluster.leader();
    let victims: string[];
    if (kind === 'all') victims = [...cluster.ids];
    else if (kind === 'leader' && leader !== null) victims = [leader];
    else victims = [prng.pick(cluster.ids.filter((id) => id !== leader))];
    const ackedAtKill = w.acked;
    await cluster.kill9All(victims);
    await pause(prng.int(0, 400)); // down for a random while
    await cluster.startAll(victims);
    for (const id of victims) {
      const node = cluster.node(id);
      const bad = node.lines('', node.incarnation).filter((l) => refusal.test(l));
      assert.deepEqual(bad, [], `${id} complained when restarted after kill -9`);
    }
    const torn = victims.filter((id) => {
      const node = cluster.node(id);
      return node.lines('', node.incarnation).some((l) => tornTail.test(l));
    });
    await w.waitForAcks(1, `a write acknowledged after cycle ${cycle}`);
    events.push(
      `cycle ${cycle}: kill -9 ${kind === 'leader' && leader === null ? 'leader (none known: a follower)' : kind} ` +
        `${victims.join(',')} after ${ackedAtKill} acks${torn.length ? `; torn tail truncated on ${torn.join(',')}` : ''}`,
    );
  }
  return events;
}

async function crashTest(
  t: import('node:test').TestContext,
  size: number,
  n: number,
  prefixSeed: number,
): Promise<void> {
  const prng = new Prng(seed ^ prefixSeed);
  const cluster = await ProcessCluster.create(t, {
    size,
    // Small snapshots, so kill -9 also lands during snapshotting and compaction.
    timing: { ...testTiming, snapshotEvery: 400 },
  });
  const w = new Workload(cluster, prng.int(0, 2 ** 31), defaultWorkload);
  let events: string[] = [];
  await cluster.diagnose(
    async () => {
      await cluster.waitForLeader();
      w.start();
      try {
        await w.waitForAcks(1, 'the first acknowledged write');
        events = await crashCycles(cluster, w, prng, n);
        await w.waitForAcks(50, 'writes acknowledged after the last crash');
      } finally {
        await w.stop();
      }
      const r = await checkWorkload(cluster, w);
      t.diagnostic(
        `${size} node(s), ${n} cycles: ${r.ok} acknowledged, ${r.unknown} unknown (${r.unknownVisible} visible), ` +
          `${r.failed} certainly failed; ${r.keys} keys at commit index ${r.commitIndex}`,
      );
      for (const e of events) t.diagnostic(e);
      assert.ok(r.ok >= 100 * Math.min(n, 5), `too few acknowledged writes to mean anything: ${r.ok}`);
    },
    `${replay}\n${events.join('\n')}`,
  );
}

test(`3 nodes, 32 clients: ${cycles} kill -9 cycles lose no acknowledged write (seed ${seed})`, async (t) => {
  await crashTest(t, 3, cycles, 0x3333);
});

test(`1 node, 32 clients: ${Math.ceil(cycles / 2)} kill -9 cycles lose no acknowledged write (seed ${seed})`, async (t) => {
  await crashTest(t, 1, Math.ceil(cycles / 2), 0x1111);
});

/** Writes `n` keys through `via` and waits for every acknowledgement. */
async function writeKeys(cluster: ProcessCluster, via: string, prefix: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const r = await cluster.put(via, `${prefix}${i}`, `${prefix}value-${i}`);
    assert.equal(r.status, 200, `write ${prefix}${i}: ${r.text}`);
  }
}

/** Every key `prefix0..n-1` is on `id`, read locally (the node is caught up). */
async function assertHasKeys(cluster: ProcessCluster, id: string, prefix: string, n: number): Promise<void> {
  const got = await cluster.list(id, prefix, 'stale');
  for (let i = 0; i < n; i++)
    assert.equal(got.get(`${prefix}${i}`), `${prefix}value-${i}`, `${id}: ${prefix}${i}`);
}

test('garbage after the last WAL record (a torn write) is truncated with a warning; the node rejoins', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();
    await writeKeys(cluster, leader, 'a/', 30);
    await cluster.waitConverged();

    // The leader, with random bytes appended (what a crash mid-write leaves of a record).
    await cluster.kill9(leader);
    const prng = new Prng(seed);
    const garbage = Buffer.from(Array.from({ length: prng.int(1, 300) }, () => prng.int(0, 255)));
    const seg1 = await lastSegment(cluster.node(leader).dataDir);
    const sizeBefore1 = (await readFile(seg1)).length;
    await appendFile(seg1, garbage);

    // A follower, with the first half of a real entry record appended (a record cut off mid-write).
    const newLeader = await cluster.waitForLeader(cluster.ids.filter((id) => id !== leader));
    await writeKeys(cluster, newLeader, 'b/', 10);
    const follower = cluster.ids.find((id) => id !== leader && id !== newLeader)!;
    await cluster.kill9(follower);
    const seg2 = await lastSegment(cluster.node(follower).dataDir);
    const { buf, frames } = await readFrames(seg2);
    const entry = frames.filter((f) => f.kind === KIND_ENTRY).at(-1)!;
    const sizeBefore2 = buf.length;
    await appendFile(
      seg2,
      buf.subarray(entry.offset, entry.offset + FRAME_HEADER + Math.ceil(entry.length / 2)),
    );

    for (const [id, file, size] of [
      [leader, seg1, sizeBefore1],
      [follower, seg2, sizeBefore2],
    ] as const) {
      await cluster.startNode(id);
      const node = cluster.node(id);
      const warned = node.lines('', node.incarnation).filter((l) => tornTail.test(l));
      assert.ok(warned.length > 0, `${id} did not log the torn tail`);
      assert.ok(
        warned.some((l) => l.includes(path.basename(file))),
        `the warning names ${path.basename(file)}`,
      );
      assert.equal(
        (await readFile(file)).length,
        size,
        `${id}: the file is cut back to its last complete batch`,
      );
    }
    // Both rejoin: they take new writes and hold everything.
    const l = await cluster.waitForLeader();
    await writeKeys(cluster, l, 'c/', 10);
    await cluster.waitConverged();
    for (const id of [leader, follower]) {
      await assertHasKeys(cluster, id, 'a/', 30);
      await assertHasKeys(cluster, id, 'b/', 10);
      await assertHasKeys(cluster, id, 'c/', 10);
    }
  });
});

test('a flipped byte inside an earlier WAL record: the node refuses to start, naming file and offset', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3 });
  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();
    await writeKeys(cluster, leader, 'a/', 40);
    await cluster.waitConverged();
    const victim = cluster.ids.find((id) => id !== leader)!;
    await cluster.kill9(victim);

    const seg = await lastSegment(cluster.node(victim).dataDir);
    const { buf, frames } = await readFrames(seg);
    const entries = frames.filter((f) => f.kind === KIND_ENTRY);
    assert.ok(entries.length >= 20, `expected the writes in ${seg}, found ${entries.length} entries`);
    const target = entries[Math.floor(entries.length / 2)]!;
    const at = target.offset + FRAME_HEADER + Math.floor(target.length / 2);
    buf[at] = buf[at]! ^ 0x5a;
    await writeFile(seg, buf);

    const node = cluster.node(victim);
    node.start();
    const exit = await node.waitExit();
    assert.notEqual(exit.code, 0, 'a node with a corrupt WAL must not exit 0');
    assert.equal(exit.signal, null);
    const out = node.lines('', node.incarnation).join('\n');
    assert.match(out, /corrupt/i);
    t.diagnostic(node.lines('corrupt', node.incarnation).at(-1) ?? '');
    assert.ok(out.includes(path.basename(seg)), `the message names the file ${path.basename(seg)}:\n${out}`);
    assert.ok(out.includes(`at byte ${target.offset}`), `the message names offset ${target.offset}:\n${out}`);
    // Nothing was changed on disk: the operator can inspect (or restore) it.
    assert.deepEqual(await readFile(seg), buf);
    // The other two go on.
    const r = await cluster.put(leader, 'after', 'corruption');
    assert.equal(r.status, 200, r.text);
  });
});

test('a damaged newest snapshot is set aside with a warning; the node recovers from the older one and the WAL', async (t) => {
  const cluster = await ProcessCluster.create(t, { size: 3, timing: { ...testTiming, snapshotEvery: 50 } });
  await cluster.diagnose(async () => {
    const leader = await cluster.waitForLeader();
    await writeKeys(cluster, leader, 's/', 120);
    await cluster.waitConverged();
    const victim = cluster.ids.find((id) => id !== leader)!;
    await cluster.kill9(victim);

    const snapDir = path.join(cluster.node(victim).dataDir, 'snap');
    const snaps = (await readdir(snapDir)).filter((n) => n.endsWith('.snap')).sort();
    assert.ok(snaps.length >= 2, `two snapshots kept, found ${snaps.join(', ')}`);
    const newest = path.join(snapDir, snaps.at(-1)!);
    const buf = await readFile(newest);
    const at = Math.floor(buf.length * 0.75);
    buf[at] = buf[at]! ^ 0xff;
    await writeFile(newest, buf);

    await cluster.startNode(victim);
    const node = cluster.node(victim);
    const out = node.lines('', node.incarnation).join('\n');
    assert.ok(out.includes(path.basename(newest)), `the warning names ${path.basename(newest)}:\n${out}`);
    assert.ok((await readdir(snapDir)).includes(`${path.basename(newest)}.broken`), 'moved aside as .broken');
    await writeKeys(cluster, await cluster.waitForLeader(), 't/', 10);
    await cluster.waitConverged();
    await assertHasKeys(cluster, victim, 's/', 120);
    await assertHasKeys(cluster, victim, 't/', 10);
  });
});
