// One run: network up, nodes up, clients and nemesis for the run's time, heal, quiet reads, the
// final set read, everything down, then the checks and the report. Cleanup (nodes killed by PID,
// namespaces, links and root iptables chain removed, small disks unmounted, lock released)
// happens on every path; the `cleanup` it registers is also what the CLI's signal handlers call.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { checkKvHistory, historyFormat, historyFormatVersion } from '../check/index.js';
import type { ReadMode } from '../raft/index.js';
import { Prng } from '../random.js';
import { SmallDisks, smallDiskSupportProblem, sweepDisks } from './disks.js';
import { MembershipNemesis } from './membership-nemesis.js';
import { debugOf, type Family, findLeader, Nemesis, waitHealthy } from './nemesis.js';
import {
  acquireLock,
  Network,
  NetworkUnavailableError,
  networkSupportProblem,
  releaseLock,
  sweep,
} from './netns.js';
import { cliEntry, NodeSet } from './nodes.js';
import { Clock, Recorder } from './recorder.js';
import {
  availability,
  countOutcomes,
  noSpaceAnswers,
  type Report,
  type RunVerdict,
  renderFailure,
  smallestFailure,
  wokenReads,
} from './report.js';
import { prepareSecurity } from './secure.js';
import { type WatchCheck, WatchWorkload } from './watch-workload.js';
import { RegisterWorkload, SetWorkload, type Target } from './workloads.js';

export interface RunOptions {
  readonly nodes: number;
  /** Seconds of workload under faults. */
  readonly timeSec: number;
  readonly nemesis: readonly Family[];
  readonly clients: number;
  readonly seed: number;
  readonly out: string;
  readonly unsafeStaleReads: boolean;
  /** TLS (HTTPS with client certificates, peer TLS) and auth on (secure.ts). */
  readonly secure: boolean;
  /** The nodes' --read-mode. */
  readonly readMode: ReadMode;
  /** The raftkv CLI entry the nodes run; null for the one built with the runner. */
  readonly nodeCli: string | null;
  readonly subnet: string;
  /** --small-disk: each node's data dir on a tmpfs of this many bytes; null: in <out>/data. */
  readonly smallDiskBytes: number | null;
  readonly heartbeatMs: number;
  readonly electionMs: number;
  readonly requestTimeoutMs: number;
  readonly clientTimeoutMs: number;
  /** Register keys in use at once, and operations per key before moving on. */
  readonly keys: number;
  readonly opsPerKey: number;
  /** Fraction of client operations that are set adds. */
  readonly setFraction: number;
  readonly buckets: number;
  /** Watchers following every key for the whole run (watch-workload.ts); 0: none. */
  readonly watchers: number;
  /** Seconds of reads after everything healed. */
  readonly quietSec: number;
  /** Pause between a client's operations: uniform in [0, staggerMs). */
  readonly staggerMs: number;
  readonly faultMs: readonly [number, number];
  readonly gapMs: readonly [number, number];
  readonly checkTimeLimitMs: number;
  readonly log: (line: string) => void;
}

export interface RunResult {
  readonly report: Report;
  /** 0 valid, 1 invalid, 3 unknown. */
  readonly exitCode: number;
}

/** What must be undone if the process is interrupted; the CLI calls it from signal handlers. */
export const emergency: { cleanup: (() => void) | null } = { cleanup: null };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The end of the watch workload, with every fault healed: a marker write gives the last index;
 * the watchers get up to 30 s to be given it, then stop; the committed history up to it is read
 * on two nodes, which must agree. `reference` null: it could not be read (the run is unknown).
 */
async function endWatches(
  watch: WatchWorkload,
  ids: readonly number[],
  nodes: NodeSet,
  log: (line: string) => void,
): Promise<{
  until: number;
  reference: Awaited<ReturnType<typeof WatchWorkload.readReference>>;
  disagreement: string | null;
}> {
  let until = 0;
  for (let attempt = 0; attempt < 20 && until === 0; attempt++) {
    const node = ids[attempt % ids.length]!;
    try {
      const put = await nodes
        .client(node)
        .put('watch/end', `end-${Date.now()}`, { idempotencyKey: 'watch-end' });
      until = put.index;
    } catch {
      await sleep(500);
    }
  }
  if (until === 0) {
    await watch.stop();
    return { until, reference: null, disagreement: null };
  }
  const deadline = Date.now() + 30_000;
  while (watch.reached() < until && Date.now() < deadline) await sleep(100);
  await watch.stop();
  const references: NonNullable<Awaited<ReturnType<typeof WatchWorkload.readReference>>>[] = [];
  for (const i of ids) {
    if (references.length === 2) break;
    const r = await WatchWorkload.readReference(nodes.client(i), until, 30_000);
    if (r !== null) references.push(r);
  }
  log(`watch: marker at index ${until}; committed history read on ${references.length} node(s)`);
  if (references.length === 0) return { until, reference: null, disagreement: null };
  const [a, b] = references;
  if (b !== undefined) {
    // Both windows end at the marker; compare where both reach.
    const from = Math.max(a!.from, b.from);
    const key = (e: {
      index: number;
      type: string;
      key: string;
      value: string | null;
      prevValue: string | null;
    }) => JSON.stringify([e.index, e.type, e.key, e.value, e.prevValue]);
    const sa = a!.events
      .filter((e) => e.index >= from)
      .map(key)
      .join('\n');
    const sb = b.events
      .filter((e) => e.index >= from)
      .map(key)
      .join('\n');
    if (sa !== sb) {
      return {
        until,
        reference: a!,
        disagreement: 'two nodes disagree on the committed history: replicas diverged',
      };
    }
  }
  return { until, reference: a!, disagreement: null };
}

export async function runJepsen(o: RunOptions): Promise<RunResult> {
  const problem = networkSupportProblem();
  if (problem) throw new NetworkUnavailableError(problem);
  const diskProblem = o.smallDiskBytes === null ? null : smallDiskSupportProblem();
  if (diskProblem) throw new NetworkUnavailableError(`--small-disk: ${diskProblem}`);
  const startedAt = Date.now();
  acquireLock();
  // Namespaces first: sweep() kills the processes left in them, which may hold files on a disk.
  const leftovers = [...sweep(), ...sweepDisks()];
  if (leftovers.length > 0) o.log(`removed leftovers of an earlier run: ${leftovers.join(', ')}`);

  mkdirSync(o.out, { recursive: true });
  rmSync(path.join(o.out, 'data'), { recursive: true, force: true });
  rmSync(path.join(o.out, 'logs'), { recursive: true, force: true });

  const net = new Network(o.nodes, o.subnet);
  const disks =
    o.smallDiskBytes === null ? null : new SmallDisks(o.nodes, o.smallDiskBytes, path.join(o.out, 'disks'));
  const nodeCli = o.nodeCli ?? cliEntry();
  const security = o.secure
    ? await prepareSecurity(
        o.out,
        // Slots are numbered from 1.
        Array.from({ length: o.nodes }, (_, i) => net.address(i + 1)),
      )
    : null;
  // The read mode is always passed, so that a RAFTKV_READ_MODE in the runner's environment (which
  // the nodes inherit) cannot change it behind the report's back; likewise the threshold that
  // goes with a small disk.
  const nodes = new NodeSet(
    net,
    o.out,
    { heartbeatMs: o.heartbeatMs, electionMs: o.electionMs, requestTimeoutMs: o.requestTimeoutMs },
    [
      '--read-mode',
      o.readMode,
      ...(disks ? ['--min-free-bytes', String(disks.minFreeBytes)] : []),
      ...(security?.nodeArgs ?? []),
    ],
    nodeCli,
    disks && ((i) => disks.dataDir(i)),
    security?.client ?? null,
  );
  let cleaned = false;
  const cleanupSync = (): void => {
    if (cleaned) return;
    cleaned = true;
    nodes.killAllSync();
    net.teardown();
    // After the nodes: a node still holding files on its disk keeps it busy (disks.ts waits a
    // little for the SIGKILLed ones to go).
    disks?.teardown();
    releaseLock();
  };
  emergency.cleanup = cleanupSync;

  const clock = new Clock();
  const recorder = new Recorder(clock);
  const register = new RegisterWorkload({
    slots: o.keys,
    opsPerKey: o.opsPerKey,
    staleReads: o.unsafeStaleReads,
    timeoutMs: o.clientTimeoutMs,
  });
  const set = new SetWorkload({
    buckets: o.buckets,
    staleReads: o.unsafeStaleReads,
    timeoutMs: o.clientTimeoutMs,
    giveUpMs: 4 * o.clientTimeoutMs,
  });
  const nemesis = new Nemesis(
    Prng.derive(o.seed, 'nemesis'),
    net,
    nodes,
    {
      families: o.nemesis,
      faultMs: o.faultMs,
      gapMs: o.gapMs,
      shortPauseMs: [Math.min(3 * o.electionMs, 0.5 * o.clientTimeoutMs), 0.8 * o.clientTimeoutMs],
      isolatedWakeMs: 4 * o.electionMs,
      // An election, then clients that were stuck at the stopped leader until their timeout
      // coming back to write elsewhere: with room to spare.
      takeoverMs: 20 * o.electionMs + 2 * o.clientTimeoutMs,
      // The guard looks once a second and asks again each second until the change is applied,
      // through an election if need be: with room to spare.
      alarmWaitMs: 10_000 + 10 * o.electionMs,
    },
    () => clock.now(),
    o.log,
    disks,
  );
  // Membership changes run beside the other faults, on a schedule of their own.
  const membership = o.nemesis.includes('membership')
    ? new MembershipNemesis(
        Prng.derive(o.seed, 'membership'),
        nodes,
        {
          faultMs: o.faultMs,
          gapMs: o.gapMs,
          // A join fetches the cluster, waits for a leader to add it and for the promotion; with
          // partitions and kills going on, any of these may wait out a few elections.
          changeMs: 20_000 + 20 * o.electionMs,
          exitMs: 10 * o.electionMs,
          requestMs: o.clientTimeoutMs,
        },
        () => clock.now(),
        o.log,
        nemesis.timeline,
      )
    : null;
  const watch = new WatchWorkload({ watchers: o.watchers, retryMs: 100, log: o.log });
  let watchCheck: WatchCheck | null = null;
  let watchReference: Awaited<ReturnType<typeof WatchWorkload.readReference>> = null;
  let watchUntil = 0;
  let watchDisagreement: string | null = null;
  const notes: string[] = [];
  let recovered = false;
  let setRead: Awaited<ReturnType<SetWorkload['finalRead']>> = { error: 'not run' };
  let workloadEnd = 0;

  try {
    o.log(
      `network: bridge ${net.hostAddress}/24, nodes ${nodes
        .ids()
        .map((i) => net.address(i))
        .join(' ')}`,
    );
    net.setup();
    if (disks) {
      disks.setup();
      o.log(
        `small disks: ${o.nodes} tmpfs of ${(disks.bytes / 2 ** 20).toFixed(0)} MiB under ${path.join(o.out, 'disks')}, nodes run with --min-free-bytes ${disks.minFreeBytes}`,
      );
    }
    for (const i of nodes.ids()) nodes.start(i);
    if (!(await waitHealthy(nodes, nodes.ids(), 30_000))) {
      throw new Error(`the cluster did not become healthy within 30 s (see ${path.join(o.out, 'logs')})`);
    }
    // The report names the read mode; make sure that is what the nodes run (a build from before
    // the flag existed, or one that ignores it, would make a lease run a ReadIndex run).
    for (const i of nodes.ids()) {
      const mode = (await debugOf(nodes, i, 2000))?.readMode;
      if (mode !== o.readMode)
        throw new Error(
          `${nodes.name(i)} reports read mode ${mode ?? '(no /debug answer)'}, not ${o.readMode}`,
        );
    }
    o.log(
      `cluster up (read mode ${o.readMode}), leader ${(await findLeader(nodes)) ?? 'unknown'}; running for ${o.timeSec} s`,
    );

    let mode: 'mixed' | 'reads' | 'stop' = 'mixed';
    const ids = nodes.ids();
    watch.start(
      Prng.derive(o.seed, 'watchers'),
      ids.map((i) => nodes.client(i)),
    );
    const clientLoop = async (c: number): Promise<void> => {
      const rng = Prng.derive(o.seed, `client${c}`);
      let proc = c;
      const pick = (): Target => {
        const node = rng.pick(ids);
        return { node, client: nodes.client(node) };
      };
      while (mode !== 'stop') {
        if (mode === 'mixed' && rng.next() < o.setFraction) {
          await set.add(rng, proc, () => clock.now(), pick);
        } else {
          const call = mode === 'reads' ? register.readCall(rng) : register.nextCall(rng);
          const target = pick();
          const inv = recorder.invoke(proc, call, target.node);
          const outcome = await register.perform(call, target);
          recorder.complete(inv, outcome);
          if (outcome.type === 'info') proc += o.clients;
        }
        if (o.staggerMs > 0) await sleep(rng.nextInt(o.staggerMs));
      }
    };
    const clients = Array.from({ length: o.clients }, (_, c) => clientLoop(c));

    const until = clock.now() + o.timeSec * 1000;
    await Promise.all([nemesis.run(until), membership?.run(until)]);
    nemesis.healAll();
    o.log('healed everything; waiting for the cluster to recover');
    recovered = await waitHealthy(nodes, ids, 30_000);
    if (!recovered) notes.push('not every node answered /health 200 within 30 s of the final heal');
    mode = 'reads';
    o.log(`quiet phase: ${o.quietSec} s of reads`);
    await sleep(o.quietSec * 1000);
    mode = 'stop';
    await Promise.all(clients);
    workloadEnd = clock.now();
    setRead = await set.finalRead(() => {
      const node = ids[Math.floor(Math.random() * ids.length)]!;
      return { node, client: nodes.client(node) };
    }, 20_000);
    if (o.watchers > 0) {
      ({
        until: watchUntil,
        reference: watchReference,
        disagreement: watchDisagreement,
      } = await endWatches(watch, ids, nodes, o.log));
    }
    for (const e of nodes.unexpectedExits()) notes.push(e);
    await Promise.all(ids.map((i) => nodes.stop(i, 3000)));
    // Kept where they are without --small-disk; the tmpfs goes at the cleanup.
    disks?.saveData(path.join(o.out, 'data'));
  } finally {
    nemesis.stop();
    membership?.stop();
    cleanupSync();
    emergency.cleanup = null;
  }

  // Checks, after everything is down.
  const history = recorder.history();
  // The checker's JSONL format plus a "node" field per op (the reader ignores unknown fields).
  const lines = [JSON.stringify({ format: historyFormat, version: historyFormatVersion })];
  for (const op of history) lines.push(JSON.stringify(op));
  writeFileSync(path.join(o.out, 'history.jsonl'), `${lines.join('\n')}\n`);
  writeFileSync(path.join(o.out, 'set-history.json'), JSON.stringify(set.adds, null, 1));
  writeFileSync(path.join(o.out, 'timeline.json'), JSON.stringify(nemesis.timeline, null, 1));
  o.log(`checking ${history.length} register ops`);
  const checkStart = Date.now();
  const result = checkKvHistory(history, { timeLimitMs: o.checkTimeLimitMs });
  const checkMs = Date.now() - checkStart;
  const setCheck = set.check(setRead);
  if (o.watchers > 0) {
    watchCheck = watch.check(watchReference, watchUntil, history);
    writeFileSync(path.join(o.out, 'watch-history.json'), JSON.stringify(watch.spans));
  }

  const reasons: string[] = [];
  if (result.verdict === 'not-linearizable') reasons.push('register history not linearizable');
  if (setCheck.lost.length > 0) reasons.push(`${setCheck.lost.length} acknowledged set adds lost`);
  if (setCheck.duplicated.length > 0) reasons.push(`${setCheck.duplicated.length} set elements duplicated`);
  if (setCheck.unexpected.length > 0) reasons.push(`${setCheck.unexpected.length} unexpected set elements`);
  if (setCheck.finalRead === 'failed') reasons.push('the final set read failed');
  if (result.verdict === 'unknown') reasons.push('checker budget exhausted on some keys');
  const watchUnknown = watchCheck !== null && watchCheck.reference === null;
  if (watchUnknown) reasons.push('the committed history for the watch check could not be read');
  else if (watchCheck !== null && !watchCheck.valid) reasons.push(...watchCheck.problems.slice(0, 5));
  if (watchDisagreement !== null) reasons.push(watchDisagreement);
  let verdict: RunVerdict = 'valid';
  if (
    result.verdict === 'not-linearizable' ||
    (setCheck.finalRead === 'ok' && !setCheck.valid) ||
    (watchCheck !== null && !watchUnknown && !watchCheck.valid) ||
    watchDisagreement !== null
  )
    verdict = 'invalid';
  else if (result.verdict === 'unknown' || setCheck.finalRead === 'failed' || watchUnknown)
    verdict = 'unknown';

  const failure = smallestFailure(result);
  const report: Report = {
    verdict,
    reasons,
    settings: {
      seed: o.seed,
      nodes: o.nodes,
      time: o.timeSec,
      nemesis: o.nemesis.join(','),
      clients: o.clients,
      unsafeStaleReads: o.unsafeStaleReads,
      ...(o.secure && { secure: true }),
      readMode: o.readMode,
      ...(o.nodeCli !== null && { nodeCli: o.nodeCli }),
      ...(disks !== null && { smallDiskBytes: disks.bytes, minFreeBytes: disks.minFreeBytes }),
      heartbeatMs: o.heartbeatMs,
      electionMs: o.electionMs,
      requestTimeoutMs: o.requestTimeoutMs,
      clientTimeoutMs: o.clientTimeoutMs,
    },
    counts: countOutcomes(history),
    register: {
      verdict: result.verdict,
      keys: result.perKey.length,
      steps: result.steps,
      unknownKeys: result.perKey.filter((k) => k.verdict === 'unknown').map((k) => k.key),
      failingKeys: result.perKey.filter((k) => k.verdict === 'not-linearizable').map((k) => k.key),
    },
    set: setCheck,
    ...(watchCheck !== null && { watch: watchCheck }),
    availability: availability(history, nemesis.timeline, workloadEnd),
    wokenReads: wokenReads(history, nemesis.timeline, workloadEnd),
    noSpace: noSpaceAnswers(history, set.adds, nemesis.timeline, workloadEnd),
    timeline: nemesis.timeline,
    recovered,
    notes,
    ...(failure ? { failureWindow: renderFailure(failure, history) } : {}),
    checkMs,
    durationMs: Date.now() - startedAt,
  };
  writeFileSync(path.join(o.out, 'report.json'), JSON.stringify(report, null, 1));
  return { report, exitCode: verdict === 'valid' ? 0 : verdict === 'invalid' ? 1 : 3 };
}
