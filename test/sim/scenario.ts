// Goal: one integer seed decides an entire scenario — cluster size, core configuration, fault
// profile and rates, client load, membership changes, durations — and the runner plays it: a
// fault phase in which every safety property is checked after every step, then a quiet phase
// (network healed, all or a majority of nodes up) in which liveness is asserted: a leader is
// elected and a fresh proposal commits within a stated bound. Everything random comes from
// streams forked off the seed.

import type { DriverMutations } from '../../src/node/driver.js';
import type { Mutations, NodeId, ReadMode } from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';
import { SafetyViolation } from './checker.js';
import { type PersistLatency, SimCluster, type SimRaftConfig, type SnapshotPolicy } from './cluster.js';
import { describeFaults, type FaultPlan, Nemesis, noFaults } from './nemesis.js';
import type { LinkFaults } from './network.js';
import { describeMembershipPlan, emptyOperatorStats, type MembershipPlan, Operator } from './operator.js';
import { Tracer } from './trace.js';

export const PROFILES = ['calm', 'lossy', 'partitions', 'crashes', 'chaos', 'snapshots'] as const;
export type Profile = (typeof PROFILES)[number];

/** Weighted mix for seeds that do not force a profile: mostly hostile, some calm. */
const PROFILE_MIX: readonly Profile[] = [
  'calm',
  'lossy',
  'lossy',
  'partitions',
  'partitions',
  'crashes',
  'crashes',
  'chaos',
  'chaos',
  'chaos',
  'snapshots',
  'snapshots',
];

export interface ScenarioOverrides {
  readonly nodes?: number;
  /** Length of the fault phase, in ticks. */
  readonly ticks?: number;
  readonly profile?: Profile;
  readonly mutations?: Mutations;
  /** Deliberately broken driver behaviour (the simulated driver's; see driver.ts). */
  readonly driverMutations?: DriverMutations;
  /** Forces the read mode (lease forces CheckQuorum on, as the core requires). */
  readonly readMode?: ReadMode;
  /** Forces the disk-stall guard's bound in ticks; null turns the guard off. */
  readonly diskStallBound?: number | null;
  /** Forces the drivers to pipeline (send early messages while a write is in flight) or not. */
  readonly pipeline?: boolean;
  /** Forces disk stalls on (in any profile) or off. */
  readonly diskStalls?: boolean;
  /** Forces process pauses on (in any profile) or off. */
  readonly pauses?: boolean;
  /** Forces membership changes on (in any profile) or off. */
  readonly membership?: boolean;
  /**
   * Lets the operator remove voters from configurations of three or fewer, down to one, which
   * the core cannot always recover from (see operator.ts); default off.
   */
  readonly smallRemovals?: boolean;
  /** Forces cut-off leader episodes (see nemesis.ts) on (in any profile and read mode) or off. */
  readonly leaderCuts?: boolean;
  readonly trace?: boolean;
  readonly traceCore?: boolean;
  readonly out?: (line: string) => void;
}

export interface ScenarioPlan {
  readonly seed: number;
  readonly profile: Profile;
  readonly size: number;
  readonly faultTicks: number;
  readonly raft: Partial<SimRaftConfig>;
  readonly links: LinkFaults;
  /** The links once faults stop. */
  readonly quietLinks: LinkFaults;
  readonly persist: PersistLatency;
  readonly snapshots: SnapshotPolicy | null;
  /** The disk-stall guard's bound in ticks, or null: off. */
  readonly diskStallBound: number | null;
  readonly pipeline: boolean;
  readonly driverMutations: DriverMutations;
  readonly faults: FaultPlan;
  readonly writeRate: number;
  readonly readRate: number;
  readonly keys: number;
  /** Liveness bound: ticks from the end of faults to a fresh proposal applied everywhere up. */
  readonly livenessBound: number;
  readonly streamSeed: number;
  /** The operator's membership changes (see operator.ts), or null: the bootstrap nodes only. */
  readonly membership: MembershipPlan | null;
}

/** Share of the seeds, in every profile, in which the operator changes the membership. */
const MEMBERSHIP_SHARE = 0.4;

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Draws every parameter of a scenario from its seed; overrides replace single choices. */
export function planScenario(seed: number, o: ScenarioOverrides = {}): ScenarioPlan {
  const rng = new Prng(seed);
  // These draws happen even when overridden, so that forcing the size or the length keeps every
  // other choice of the seed (forcing the profile changes the profile-specific ones).
  const drawnProfile = rng.pick(PROFILE_MIX);
  const drawnSize = rng.pick([3, 3, 5, 5, 7]);
  const drawnTicks = rng.int(250, 450);
  const profile = o.profile ?? drawnProfile;
  const size = o.nodes ?? drawnSize;
  const faultTicks = o.ticks ?? drawnTicks;
  const electionTimeoutTicks = rng.pick([10, 10, 10, 20]);
  const heartbeatIntervalTicks = rng.pick(electionTimeoutTicks === 10 ? [1, 1, 2, 3] : [1, 2, 5]);
  // Safety may not depend on PreVote or CheckQuorum (§9.6, §6.2): both are drawn.
  const preVote = rng.chance(0.75);
  const drawnCheckQuorum = rng.chance(0.75);
  // Lease reads (§6.4.1) are only offered with CheckQuorum; the simulated clocks never drift (a
  // paused node's clock runs on, and its driver hands the core the ticks it missed), so a correct
  // lease must give linearizable reads here.
  const drawnLease = rng.chance(0.25);
  const checkQuorum = o.readMode === 'lease' ? true : drawnCheckQuorum;
  const readMode: ReadMode = o.readMode ?? (checkQuorum && drawnLease ? 'lease' : 'safe');
  // Reads that ask for the lease one by one on a safe-mode node (?consistency=lease): half of the
  // seeds that have CheckQuorum and no lease mode.
  const leaseReads = checkQuorum && readMode === 'safe' && rng.chance(0.5);
  const leaseUsed = readMode === 'lease' || leaseReads;
  // One entry per AppendEntries and a tiny window make replication slow and piecemeal, which is
  // what exposes commit rules (Figure 3.7 needs an old-term entry replicated without a new one).
  // Not both at once: one entry per round trip cannot keep up with the client load, and the
  // liveness bound below is about elections and commit, not about draining a backlog.
  const messageBytesMax = rng.chance(0.5) ? 1 : 1 << 20;
  const inflightMessagesMax = messageBytesMax > 1 && rng.chance(0.3) ? rng.int(1, 4) : 256;
  const raft: Partial<SimRaftConfig> = {
    electionTimeoutTicks,
    heartbeatIntervalTicks,
    preVote,
    checkQuorum,
    readMode,
    leaseReads,
    messageBytesMax,
    inflightMessagesMax,
    mutations: o.mutations ?? {},
  };
  const persist: PersistLatency = rng.chance(0.5) ? { min: 0, max: 0 } : { min: 0, max: rng.int(1, 3) };
  let snapshots: SnapshotPolicy | null = rng.chance(0.3)
    ? { every: rng.int(20, 60), keep: rng.int(0, 10) }
    : null;
  const lossy = (scale: number): LinkFaults => ({
    minDelay: 1,
    maxDelay: rng.int(2, 8),
    dropRate: round(scale * (0.02 + rng.next() * 0.23)),
    dupRate: round(scale * (0.02 + rng.next() * 0.13)),
  });
  const clean: LinkFaults = { minDelay: 1, maxDelay: rng.int(1, 4), dropRate: 0, dupRate: 0 };
  const crashes = (scale: number): Partial<FaultPlan> => ({
    crashRate: round(scale * (0.01 + rng.next() * 0.04)),
    leaderBias: round(0.2 + rng.next() * 0.5),
    crashPointRate: round(scale * rng.next() * 0.3),
    bounceRate: round(rng.next() * 0.5),
    downTicks: [1, rng.int(5, 80)],
  });
  const partitions = (scale: number): Partial<FaultPlan> => ({
    partitionRate: round(scale * (0.01 + rng.next() * 0.05)),
    isolatePointRate: round(scale * (0.2 + rng.next() * 0.6)),
    partitionTicks: [5, rng.int(20, 100)],
  });
  let links = clean;
  let faults = noFaults;
  switch (profile) {
    case 'calm':
      break;
    case 'lossy':
      links = lossy(1);
      break;
    case 'partitions':
      faults = { ...noFaults, ...partitions(1) };
      break;
    case 'crashes':
      faults = { ...noFaults, ...crashes(1) };
      break;
    case 'chaos':
      links = lossy(0.5);
      faults = { ...noFaults, ...crashes(0.7), ...partitions(0.7) };
      break;
    case 'snapshots':
      // Compact after a few entries and keep almost none: a follower that was down or cut off
      // for a while can only catch up through InstallSnapshot (thesis chapter 5).
      snapshots = { every: rng.int(3, 10), keep: rng.int(0, 3) };
      links = lossy(0.3);
      faults = { ...noFaults, ...crashes(0.6), ...partitions(0.6) };
      break;
  }
  const writeRate = round(0.1 + rng.next() * 0.5);
  const readRate = round(0.05 + rng.next() * 0.35);
  const keys = rng.int(1, 5);
  // Once faults stop, message delay must respect Raft's timing requirement broadcastTime ≪
  // electionTimeout (§3.4) — liveness is only promised then. Slow links stay slow, up to ET/4.
  const quietLinks: LinkFaults = {
    minDelay: 1,
    maxDelay: Math.min(links.maxDelay, Math.max(1, Math.floor(electionTimeoutTicks / 4))),
    dropRate: 0,
    dupRate: 0,
  };
  // Liveness bound (stated, then asserted): after the faults stop, election needs at most a few
  // randomized timeouts (each < 2·ET) plus vote round trips, and the commit a few replication
  // round trips, each ≤ 2·(maxDelay + persist latency). 10·ET covers five election attempts;
  // 10·(maxDelay + persist) covers five round trips of probing and catch-up.
  const livenessBound = 10 * electionTimeoutTicks + 10 * (quietLinks.maxDelay + persist.max);
  const streamSeed = rng.nextU32();
  // Drawn after everything else, so that a seed's other choices are those it had before disk
  // stalls existed. Disk stalls (in the profiles with node faults): a node's fsync hangs for
  // 3–8 election timeouts, most often the leader's. The guard is usually on, with a bound of about
  // an election timeout (the real node's default); drivers pipeline or not.
  const drawnStalls = rng.chance(0.6);
  const stallOn =
    o.diskStalls ??
    ((profile === 'crashes' || profile === 'chaos' || profile === 'snapshots') && drawnStalls);
  const stalls: Partial<FaultPlan> = {
    stallRate: round(0.004 + rng.next() * 0.008),
    stallLeaderBias: round(0.5 + rng.next() * 0.4),
    stallTicks: [3 * electionTimeoutTicks, 8 * electionTimeoutTicks],
  };
  if (stallOn) faults = { ...faults, ...stalls };
  const drawnBound = rng.pick([
    electionTimeoutTicks,
    electionTimeoutTicks,
    Math.ceil(electionTimeoutTicks / 2),
    2 * electionTimeoutTicks,
    null,
  ]);
  const diskStallBound = o.diskStallBound !== undefined ? o.diskStallBound : drawnBound;
  const drawnPipeline = rng.chance(0.5);
  const pipeline = o.pipeline ?? drawnPipeline;
  // Drawn after everything else too (see above). Process pauses, in the profiles with node or
  // network faults: half of those seeds, and every lease seed among them, since the lease is what
  // a pause endangers. A plain pause lasts up to three election timeouts. A stale leader episode
  // (see nemesis.ts) pauses the leader until up to one election timeout after another leader
  // acknowledged a write, within 2–8 election timeouts; its cut outlasts the pause by 1–3 (it
  // wakes up alone, and its clients ask it for reads).
  const drawnPauses = rng.chance(0.5);
  const pauseOn = o.pauses ?? (profile !== 'calm' && profile !== 'lossy' && (leaseUsed || drawnPauses));
  const pauses: Partial<FaultPlan> = {
    pauseRate: round(0.005 + rng.next() * 0.01),
    pauseLeaderBias: round(0.4 + rng.next() * 0.4),
    pauseTicks: [1, 3 * electionTimeoutTicks],
    pauseIsolateRate: round(0.3 + rng.next() * 0.5),
    // Lease seeds have their episodes at a commit most often: where the lease is fresh.
    pausePointRate: round((leaseUsed ? 3 : 1) * (0.01 + rng.next() * 0.03)),
    isolatedPauseTicks: [2 * electionTimeoutTicks, 8 * electionTimeoutTicks],
    lingerTicks: [0, electionTimeoutTicks],
    isolatedAfterTicks: [electionTimeoutTicks, 3 * electionTimeoutTicks],
    pauseHoldRate: round(0.2 + rng.next() * 0.6),
  };
  if (pauseOn) faults = { ...faults, ...pauses };
  // Drawn after everything else too. Membership changes (chapter 4), in a share of the seeds of
  // every profile: an operator adds, promotes, removes and replaces members — the leader too —
  // one request at a time, while the faults above go on (see operator.ts). Its requests time out
  // after 1–4 election timeouts (2–5 ticks for an impatient one); a timed-out change is asked for
  // again or given up on. Its own
  // faults: a crash within a joint phase, and a leader cut off right after accepting a change
  // for 3–6 election timeouts (long enough for the others to elect and commit without it).
  const drawnMembership = rng.chance(MEMBERSHIP_SHARE);
  const membership: MembershipPlan | null =
    (o.membership ?? drawnMembership)
      ? {
          gap: [electionTimeoutTicks, rng.int(3, 10) * electionTimeoutTicks],
          // Some operators are impatient: their requests time out before a change can commit.
          deadline: rng.chance(0.5) ? rng.int(2, 5) : rng.int(1, 4) * electionTimeoutTicks,
          backoff: [1, rng.int(2, 5)],
          retrySame: round(rng.next()),
          jointCrashRate: round(0.2 + rng.next() * 0.5),
          cutRate: round(0.05 + rng.next() * 0.25),
          cutTicks: [3 * electionTimeoutTicks, 6 * electionTimeoutTicks],
          retireDelay: [0, rng.int(1, 5) * electionTimeoutTicks],
          maxVoters: 7,
          maxLearners: 2,
          // A quarter of the seeds (by number, no extra draw) let the voters go down to one.
          smallRemovals: o.smallRemovals ?? seed % 4 === 0,
        }
      : null;
  // Drawn after everything else too. Cut-off leader episodes (see nemesis.ts), in the lease seeds
  // of the profiles with node or network faults: the leader is cut off right after its CheckQuorum
  // round counted a majority, so it leads on for almost two election timeouts while the others
  // elect a leader and commit after one; only a lease that ends in time keeps its reads right.
  const cutRate = round(0.3 + rng.next() * 0.5);
  const cutsOn = o.leaderCuts ?? (leaseUsed && profile !== 'calm' && profile !== 'lossy');
  if (cutsOn) {
    faults = {
      ...faults,
      leaderCutRate: cutRate,
      leaderCutWindow: Math.ceil(electionTimeoutTicks / 2),
      leaderCutCampaignAfter: electionTimeoutTicks,
      leaderCutLingerTicks: [0, electionTimeoutTicks],
      leaderCutMaxTicks: 4 * electionTimeoutTicks,
    };
  }
  return {
    seed,
    profile,
    size,
    faultTicks,
    raft,
    links,
    quietLinks,
    persist,
    snapshots,
    diskStallBound,
    pipeline,
    driverMutations: o.driverMutations ?? {},
    faults,
    writeRate,
    readRate,
    keys,
    livenessBound,
    streamSeed,
    membership,
  };
}

export function describePlan(p: ScenarioPlan): string {
  const r = p.raft;
  const l = p.links;
  const muts = Object.entries({ ...r.mutations, ...p.driverMutations })
    .filter(([, on]) => on)
    .map(([k]) => k);
  return [
    `seed ${p.seed}: profile=${p.profile} nodes=${p.size} ticks=${p.faultTicks}`,
    `ET=${r.electionTimeoutTicks} HB=${r.heartbeatIntervalTicks} preVote=${r.preVote} checkQuorum=${r.checkQuorum} reads=${r.readMode}${r.leaseReads ? '+lease-per-read' : ''}`,
    `maxMsgBytes=${r.messageBytesMax} inflight=${r.inflightMessagesMax}`,
    `delay=${l.minDelay}..${l.maxDelay} drop=${l.dropRate} dup=${l.dupRate}`,
    `persist=${p.persist.min}..${p.persist.max}`,
    `snapshots=${p.snapshots ? `every ${p.snapshots.every} keep ${p.snapshots.keep}` : 'off'}`,
    `stallGuard=${p.diskStallBound ?? 'off'} pipeline=${p.pipeline}`,
    describeFaults(p.faults),
    `writes=${p.writeRate} reads=${p.readRate} keys=${p.keys} liveness<=${p.livenessBound}`,
    ...(p.membership !== null ? [describeMembershipPlan(p.membership)] : []),
    ...(muts.length > 0 ? [`mutations=${muts.join(',')}`] : []),
  ].join(' ');
}

export function replayCommand(seed: number, o: ScenarioOverrides): string {
  const parts = ['npm run sim --', `--seed ${seed}`];
  if (o.nodes !== undefined) parts.push(`--nodes ${o.nodes}`);
  if (o.ticks !== undefined) parts.push(`--ticks ${o.ticks}`);
  if (o.profile !== undefined) parts.push(`--profile ${o.profile}`);
  if (o.readMode !== undefined) parts.push(`--read-mode ${o.readMode}`);
  if (o.diskStallBound !== undefined) parts.push(`--stall-guard ${o.diskStallBound ?? 'off'}`);
  if (o.pipeline !== undefined) parts.push(`--pipeline ${o.pipeline ? 'on' : 'off'}`);
  if (o.diskStalls !== undefined) parts.push(`--disk-stalls ${o.diskStalls ? 'on' : 'off'}`);
  if (o.pauses !== undefined) parts.push(`--pauses ${o.pauses ? 'on' : 'off'}`);
  if (o.membership !== undefined) parts.push(`--membership ${o.membership ? 'on' : 'off'}`);
  if (o.smallRemovals !== undefined) parts.push(`--small-removals ${o.smallRemovals ? 'on' : 'off'}`);
  if (o.leaderCuts !== undefined) parts.push(`--leader-cuts ${o.leaderCuts ? 'on' : 'off'}`);
  for (const [k, on] of Object.entries({ ...o.mutations, ...o.driverMutations })) {
    if (on) parts.push(`--mutation ${k}`);
  }
  parts.push('--trace');
  return parts.join(' ');
}

export interface ScenarioResult {
  readonly plan: ScenarioPlan;
  readonly ticks: number;
  /** Ticks from the end of faults until a fresh proposal was applied on every live node. */
  readonly livenessTicks: number;
  readonly stats: Readonly<Record<string, number>>;
}

/** Plays one scenario; throws SafetyViolation naming seed, tick and property on any violation. */
export function runScenario(seed: number, o: ScenarioOverrides = {}): ScenarioResult {
  const plan = planScenario(seed, o);
  const tracer = new Tracer(o.trace ?? false, o.out);
  if (tracer.on) tracer.event('plan', describePlan(plan));
  const c = new SimCluster({
    seed,
    streamSeed: plan.streamSeed,
    size: plan.size,
    raft: plan.raft,
    links: plan.links,
    persist: plan.persist,
    snapshots: plan.snapshots,
    diskStallBound: plan.diskStallBound,
    pipeline: plan.pipeline,
    driverMutations: plan.driverMutations,
    tracer,
    traceCore: o.traceCore ?? false,
    replay: replayCommand(seed, o),
  });
  const rng = new Prng(plan.streamSeed ^ 0x5bd1e995);
  const faultRng = rng.fork();
  const clientRng = rng.fork();
  // Forked in this order whatever is on, so that a stream added later moves none of the earlier.
  const nemesisRng = rng.fork();
  const stallRng = rng.fork();
  const pauseRng = rng.fork();
  const operatorRng = rng.fork();
  const cutRng = rng.fork();
  const nemesis = new Nemesis(c, plan.faults, nemesisRng, tracer, stallRng, pauseRng, cutRng);
  const operator =
    plan.membership === null ? null : new Operator(c, plan.membership, operatorRng, nemesis, tracer);
  const clientStep = (): void => {
    const live = c.liveIds();
    if (live.length === 0) return;
    const leaders = live.filter((id) => c.roleOf(id) === 'leader');
    const key = `k${clientRng.int(1, plan.keys)}`;
    if (clientRng.chance(plan.writeRate)) {
      // Mostly to a self-believed leader (several, when one is stale); sometimes anywhere.
      const to = leaders.length > 0 && clientRng.chance(0.9) ? clientRng.pick(leaders) : clientRng.pick(live);
      c.propose(to, key);
    }
    if (clientRng.chance(plan.readRate)) c.read(clientRng.pick(live), key);
    // Clients connected to every node that believes it leads, stale ones included: a deposed
    // leader that still answers reads is what an unconfirmed ReadIndex or a bad lease (§6.4,
    // §6.4.1) gets wrong.
    for (const l of leaders) if (clientRng.chance(plan.readRate)) c.read(l, key);
  };

  for (let t = 0; t < plan.faultTicks; t++) {
    // The operator first: a change it gets accepted is a crash point the nemesis sees this tick.
    operator?.step();
    nemesis.step();
    clientStep();
    c.tick();
  }

  // Faults stop: the network heals and stops losing messages; all nodes, or all but a minority,
  // come back. From here a leader must emerge and a fresh proposal must commit within the bound.
  const healTick = c.now;
  c.net.faults = { ...plan.quietLinks };
  // With membership changes the operator stops asking and stops every node no configuration that
  // can still be in force names; every other node comes back (which voters a minority could be
  // left down from depends on configurations still in flight).
  operator?.stop();
  const down = c.activeIds().filter((id) => !c.isUp(id)).length;
  const stayDown = faultRng.chance(0.5)
    ? faultRng.int(0, Math.min(down, Math.floor((plan.size - 1) / 2)))
    : 0;
  nemesis.stop(operator === null ? stayDown : 0);
  if (tracer.on)
    tracer.event(
      'heal',
      `faults stop; down: ${
        c
          .activeIds()
          .filter((id) => !c.isUp(id))
          .join(',') || 'none'
      }`,
    );
  // Fresh proposals ("markers"): a new one goes to the current leader whenever no earlier one
  // can still commit under the leader that accepted it. Done once one is applied on every live
  // node. With membership changes, once one is applied by a majority of the voters of the latest
  // committed configuration (of each set, while joint): the cluster elected a leader and
  // committed it. A member removed meanwhile need not learn it, and a node that joined late may
  // still be draining the log — liveness is about electing and committing, not about a backlog.
  const markers: { node: NodeId; index: number; term: number }[] = [];
  const applied =
    (m: { index: number }) =>
    (id: NodeId): boolean =>
      (c.stateMachine(id)?.applied ?? 0) >= m.index;
  const majority = (set: readonly NodeId[], has: (id: NodeId) => boolean): boolean =>
    set.length === 0 || 2 * set.filter(has).length > set.length;
  const markerDone = (): boolean =>
    markers.some((m) => {
      const e = c.checker.appliedAt(m.index);
      if (e === undefined || e.term !== m.term) return false;
      if (operator === null) return c.liveIds().every(applied(m));
      const { voters, outgoingVoters } = c.checker.latestCommittedMembership().membership;
      return majority(voters, applied(m)) && majority(outgoingVoters, applied(m));
    });
  const markerPending = (): boolean =>
    markers.some((m) => {
      const s = c.status(m.node);
      const e = c.checker.appliedAt(m.index);
      return s !== null && s.role === 'leader' && s.term === m.term && (e === undefined || e.term === m.term);
    });
  while (!markerDone()) {
    if (c.now - healTick > plan.livenessBound) {
      const last = markers[markers.length - 1];
      const detail = last
        ? `fresh proposal at ${last.index}/t${last.term} not applied on every live node`
        : `no leader accepted a fresh proposal (leader now: ${c.leader() ?? 'none'})`;
      c.checker.fail(
        'liveness',
        `${detail} within ${plan.livenessBound} ticks after faults stopped at tick ${healTick}`,
      );
    }
    const leader = c.leader();
    if (leader !== null && !markerPending()) {
      const res = c.propose(leader, 'live');
      if (res?.kind === 'accepted') markers.push({ node: leader, index: res.index, term: res.term });
    }
    clientStep();
    c.tick();
  }
  const livenessTicks = c.now - healTick;
  const stats: Record<string, number> = {
    ...c.stats,
    ...c.clients.stats,
    messages: c.net.sent,
    dropped: c.net.dropped,
    partitions: nemesis.partitions,
    isolations: nemesis.isolations,
    crashPointCrashes: nemesis.crashPointCrashes,
    pauseIsolations: nemesis.pauseIsolations,
    leaderCuts: nemesis.leaderCuts,
    leaderCutOverlaps: nemesis.leaderCutOverlaps,
    // The pointed pause (a leader cut off and stopped) where it matters: under a lease.
    leasePauseIsolations:
      plan.raft.readMode === 'lease' || plan.raft.leaseReads === true ? nemesis.pauseIsolations : 0,
    terms: c.maxTerm(),
    leaders: c.checker.leaderOf.size,
    committed: c.checker.maxApplied(),
    membershipSeeds: operator === null ? 0 : 1,
    configsCommitted: c.checker.committedConfigCounts().configs,
    jointConfigsCommitted: c.checker.committedConfigCounts().joint,
    ...(operator?.stats ?? emptyOperatorStats()),
  };
  return { plan, ticks: c.now, livenessTicks, stats };
}

export { SafetyViolation };
