// Goal: one seeded run of the node-level simulator, start to verdict. The seed decides the plan
// (cluster size, read mode, snapshot and WAL segment sizes, network and fsync behaviour, client
// and fault mix) and everything after it. A run has three phases:
//   1. faults: clients issue operations while the nemesis crashes, partitions, stalls, pauses;
//   2. heal: faults end, every node is started, the clients' last operations finish;
//   3. final: every node crashes at once (torn tails) and restarts; a leader must emerge, every
//      key is read back linearizably, and all nodes must converge to the same state.
// Verdict: no node-level violation (see cluster.ts), liveness after the heal, and the whole
// history — the final read-backs included, so a lost acknowledged write shows — linearizable.

import { checkKvHistory, type KvCheckResult, renderKeyFailure } from '../../src/check/index.js';
import type { KeyValue } from '../../src/kv/index.js';
import type { ReadMode } from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';
import { type ClientStats, Clients } from './clients.js';
import { type ClusterStats, errorText, SimCluster } from './cluster.js';
import { FAULT_KINDS, type FaultKind, Nemesis, type NemesisStats } from './nemesis.js';
import { type NetFaults, type NetStats, SimNetwork } from './network.js';
import { Tracer } from './trace.js';
import { Domain, Scheduler } from './virtual-clock.js';

export const MUTATIONS = ['lying-fsync', 'ack-before-commit', 'forget-paused-time'] as const;
export type Mutation = (typeof MUTATIONS)[number];

export interface Plan {
  readonly seed: number;
  readonly nodes: number;
  readonly readMode: ReadMode;
  readonly snapshotEvery: number;
  readonly snapshotCatchUpEntries: number;
  readonly segmentSize: number;
  readonly fsyncLatencyMs: number;
  readonly net: NetFaults;
  readonly faultMs: number;
  readonly clients: number;
  readonly keys: readonly string[];
  readonly thinkMs: number;
  readonly idempotentRate: number;
  readonly weights: Readonly<Record<FaultKind, number>>;
  readonly gapMinMs: number;
  readonly gapMaxMs: number;
  readonly downMaxMs: number;
  readonly pauseMinMs: number;
  readonly pauseMaxMs: number;
  readonly isolatedPauseRate: number;
  readonly mutation: Mutation | null;
}

export interface RunOptions {
  readonly trace?: boolean;
  readonly traceNet?: boolean;
  readonly out?: (line: string) => void;
  readonly mutation?: Mutation | null;
}

const HEARTBEAT_MS = 10;
const ELECTION_MS = 100;
const REQUEST_TIMEOUT_MS = 500;
/** A healthy run takes 3k–30k events; a broken system can spin far longer. */
const MAX_EVENTS = 400_000;

/**
 * Pauses and their pointed variant (the leader paused and isolated) come mostly in lease-mode
 * seeds, the ones where a clock that stopped with the process can serve a stale read: there
 * the forget-paused-time mutation must be caught within the npm test seed set. Drawn after
 * everything else: the rest of a seed's plan is what it was before pauses existed, and a seed
 * without pauses runs exactly as it did then.
 */
function pausePlan(
  rng: Prng,
  readMode: ReadMode,
): { weight: number; isolatedRate: number; minMs: number; maxMs: number } {
  const lease = readMode === 'lease';
  return {
    weight: lease ? rng.pick([3, 4, 6]) : rng.pick([0, 0, 1]),
    isolatedRate: lease ? 0.8 : 0.3,
    // Longer than an election timeout: the others elect a leader and commit while it sleeps.
    minMs: Math.round(1.2 * ELECTION_MS),
    maxMs: rng.pick([5, 8]) * ELECTION_MS,
  };
}

export function planRun(seed: number, mutation: Mutation | null = null): Plan {
  const rng = new Prng(seed);
  const nodes = rng.chance(0.7) ? 3 : 5;
  const weights = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  weights.crash = rng.pick([0, 2, 3]);
  weights.crashMidSync = rng.pick([1, 2, 3]);
  weights.partition = rng.pick([0, 1, 2]);
  weights.stall = rng.pick([0, 1, 2]);
  weights.eio = rng.pick([0, 0, 0.5]);
  weights.graceful = rng.pick([0, 0, 0.5]);
  const plan: Omit<Plan, 'pauseMinMs' | 'pauseMaxMs' | 'isolatedPauseRate'> = {
    seed,
    nodes,
    readMode: rng.chance(0.25) ? 'lease' : 'safe',
    snapshotEvery: rng.pick([8, 20, 50, 10_000]),
    snapshotCatchUpEntries: rng.pick([0, 3, 10]),
    segmentSize: rng.pick([1024, 4096, 64 * 1024]),
    fsyncLatencyMs: rng.pick([0, 2, 5]),
    net: {
      minDelay: 1,
      maxDelay: rng.pick([1, 3, 8]),
      dropRate: rng.pick([0, 0.01, 0.05]),
      dupRate: rng.pick([0, 0.01, 0.03]),
    },
    faultMs: rng.int(1500, 3000),
    clients: rng.int(2, 4),
    keys: ['a', 'b', 'c'].slice(0, rng.int(1, 3)),
    thinkMs: rng.pick([5, 20, 50]),
    idempotentRate: rng.pick([0, 0.5]),
    weights,
    gapMinMs: 30,
    gapMaxMs: rng.pick([150, 300, 600]),
    downMaxMs: rng.pick([50, 200, 500]),
    mutation,
  };
  const pause = pausePlan(rng, plan.readMode);
  weights.pause = pause.weight;
  return {
    ...plan,
    pauseMinMs: pause.minMs,
    pauseMaxMs: pause.maxMs,
    isolatedPauseRate: pause.isolatedRate,
  };
}

export function describePlan(p: Plan): string {
  const w = FAULT_KINDS.filter((k) => p.weights[k] > 0)
    .map((k) => `${k}:${p.weights[k]}`)
    .join(',');
  return (
    `seed ${p.seed}: ${p.nodes} nodes, ${p.readMode} reads, snapshot every ${p.snapshotEvery} ` +
    `(keep ${p.snapshotCatchUpEntries}), segments ${p.segmentSize}B, fsync ≤${p.fsyncLatencyMs}ms, ` +
    `net delay ${p.net.minDelay}-${p.net.maxDelay}ms drop ${p.net.dropRate} dup ${p.net.dupRate}, ` +
    `faults ${p.faultMs}ms every ${p.gapMinMs}-${p.gapMaxMs}ms [${w}], down ≤${p.downMaxMs}ms, ` +
    (p.weights.pause > 0
      ? `paused ${p.pauseMinMs}-${p.pauseMaxMs}ms (isolated ${p.isolatedPauseRate}), `
      : '') +
    `${p.clients} clients on ${p.keys.length} key(s), think ≤${p.thinkMs}ms, idempotent ${p.idempotentRate}` +
    (p.mutation === null ? '' : `, MUTATION ${p.mutation}`)
  );
}

export interface RunResult {
  readonly seed: number;
  readonly plan: string;
  /** Everything that went wrong; empty means the seed passed. */
  readonly failures: readonly string[];
  readonly verdict: KvCheckResult['verdict'] | 'not-checked';
  readonly ops: number;
  readonly virtualMs: number;
  readonly events: number;
  readonly cluster: ClusterStats;
  readonly clients: ClientStats;
  readonly nemesis: NemesisStats;
  readonly net: NetStats;
}

export async function runSeed(seed: number, options: RunOptions = {}): Promise<RunResult> {
  const plan = planRun(seed, options.mutation ?? null);
  const rng = new Prng(seed ^ 0x5eed);
  const sched = new Scheduler(MAX_EVENTS);
  const tracer = new Tracer(
    options.trace === true,
    options.traceNet === true,
    () => sched.now,
    options.out ?? ((line) => process.stdout.write(`${line}\n`)),
  );
  const net = new SimNetwork(sched, rng.fork(), tracer, { ...plan.net });
  const cluster = new SimCluster(sched, net, tracer, rng.fork(), {
    size: plan.nodes,
    heartbeatMs: HEARTBEAT_MS,
    electionMs: ELECTION_MS,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    snapshotEvery: plan.snapshotEvery,
    snapshotCatchUpEntries: plan.snapshotCatchUpEntries,
    segmentSize: plan.segmentSize,
    readMode: plan.readMode,
    fsyncLatencyMs: plan.fsyncLatencyMs,
    lyingFsync: plan.mutation === 'lying-fsync',
    forgetPausedTime: plan.mutation === 'forget-paused-time',
  });
  const clients = new Clients(sched, cluster, rng.fork(), tracer, {
    clients: plan.clients,
    keys: plan.keys,
    thinkMs: plan.thinkMs,
    requestTimeoutMs: REQUEST_TIMEOUT_MS,
    idempotentRate: plan.idempotentRate,
    ackBeforeCommit: plan.mutation === 'ack-before-commit',
  });
  const nemesis = new Nemesis(sched, cluster, net, rng.fork(), tracer, {
    gapMinMs: plan.gapMinMs,
    gapMaxMs: plan.gapMaxMs,
    weights: plan.weights,
    downMaxMs: plan.downMaxMs,
    pauseMinMs: plan.pauseMinMs,
    pauseMaxMs: plan.pauseMaxMs,
    isolatedPauseRate: plan.isolatedPauseRate,
  });
  const finalRng = rng.fork();
  const failures: string[] = [];
  const driverDomain = new Domain('scenario');
  let verdict: RunResult['verdict'] = 'not-checked';
  tracer.event('plan', describePlan(plan));

  try {
    sched.afterEvent = () => cluster.checkInvariants();
    cluster.start();
    // Phase 1: faults.
    const faultEnd = plan.faultMs;
    let clientsDone = false;
    clients.run(faultEnd).then(
      () => {
        clientsDone = true;
      },
      (e: unknown) => sched.fail(e),
    );
    nemesis.run(faultEnd).catch((e: unknown) => sched.fail(e));
    await sched.run(faultEnd);

    // Phase 2: heal; the clients' last operations finish.
    nemesis.heal();
    net.faults = { minDelay: 1, maxDelay: plan.net.maxDelay, dropRate: 0, dupRate: 0 };
    await sched.run(sched.now + 4 * REQUEST_TIMEOUT_MS, () => clientsDone);
    if (!clientsDone) failures.push('clients still had operations in flight long after the heal');

    // Phase 3: every node loses power at once, then all restart.
    tracer.event('final', 'every node crashes, then all restart');
    for (const id of cluster.ids) cluster.crash(id);
    for (const id of cluster.ids) sched.after(finalRng.int(0, 50), () => cluster.restart(id), driverDomain);
    const electedBy = sched.now + 20 * ELECTION_MS;
    await sched.run(electedBy, () => cluster.leader() !== null);
    if (cluster.leader() === null)
      failures.push(`liveness: no leader ${20 * ELECTION_MS}ms after the final restart`);

    // Read every key back: a lost acknowledged write makes the history non-linearizable.
    let readsDone = false;
    const finalValues = new Map<string, string | null | undefined>();
    (async () => {
      for (const key of plan.keys)
        finalValues.set(key, await clients.finalRead(key, 10 * REQUEST_TIMEOUT_MS));
    })().then(
      () => {
        readsDone = true;
      },
      (e: unknown) => sched.fail(e),
    );
    await sched.run(sched.now + (plan.keys.length + 1) * 12 * REQUEST_TIMEOUT_MS, () => readsDone);
    for (const key of plan.keys) {
      if (finalValues.get(key) === undefined) failures.push(`liveness: key ${key} could not be read back`);
    }
    tracer.event('final', `read back ${plan.keys.map((k) => `${k}=${finalValues.get(k) ?? '∅'}`).join(' ')}`);

    // Convergence: every node applies the same log and holds the same values.
    const converged = (): boolean => convergence(cluster, plan.keys) === null;
    await sched.run(sched.now + 30 * ELECTION_MS, converged);
    const diverged = convergence(cluster, plan.keys);
    if (diverged !== null) failures.push(`nodes did not converge: ${diverged}`);
  } catch (e) {
    failures.push(`simulation error: ${errorText(e)}${e instanceof Error && e.stack ? `\n${e.stack}` : ''}`);
  } finally {
    cluster.shutdown();
    sched.afterEvent = null;
  }
  failures.unshift(...cluster.violations);

  try {
    const result = checkKvHistory(clients.history, { maxStepsPerKey: 2_000_000, timeLimitMs: 30_000 });
    verdict = result.verdict;
    if (result.verdict === 'not-linearizable' && result.failure !== undefined) {
      failures.push(`history not linearizable:\n${renderKeyFailure(result.failure)}`);
    } else if (result.verdict !== 'linearizable') {
      const why = result.perKey
        .filter((k) => k.verdict === 'unknown')
        .map((k) => `${k.key}: ${k.unknownReason}`);
      failures.push(`history check inconclusive (${why.join(', ')})`);
    }
  } catch (e) {
    failures.push(`history check failed: ${errorText(e)}`);
  }

  return {
    seed,
    plan: describePlan(plan),
    failures,
    verdict,
    ops: clients.history.length,
    virtualMs: sched.now,
    events: sched.events,
    cluster: cluster.stats,
    clients: clients.stats,
    nemesis: nemesis.stats,
    net: net.stats,
  };
}

/**
 * Null when every node is up, has applied the same index and holds the same value and metadata
 * (version, createIndex, modIndex) per key.
 */
function convergence(cluster: SimCluster, keys: readonly string[]): string | null {
  let ref: { id: string; applied: number; values: string } | null = null;
  for (const id of cluster.ids) {
    const d = cluster.driver(id);
    if (d === null) return `${id} is ${cluster.state(id)}`;
    const applied = d.sm.lastApplied;
    const commit = d.raw.status().commitIndex;
    if (applied < commit) return `${id} applied ${applied} of ${commit}`;
    const values = keys.map((k) => `${k}=${describeKey(d.sm.read(k))}`).join(' ');
    if (ref === null) ref = { id, applied, values };
    else if (ref.applied !== applied) return `${ref.id} applied ${ref.applied}, ${id} ${applied}`;
    else if (ref.values !== values)
      return `${ref.id} holds ${ref.values}, ${id} ${values} at index ${applied}`;
  }
  return null;
}

/** A key as the convergence check compares it: `value@version/createIndex/modIndex`, or ∅. */
function describeKey(item: KeyValue | null): string {
  return item === null ? '∅' : `${item.value}@${item.version}/${item.createIndex}/${item.modIndex}`;
}
