// Goal: run many seeded scenarios and summarise them — failures (seed, property, message), the
// profile mix, event totals (so a test can assert that the faults it relies on really happened)
// and the worst observed liveness time against its bound. Used by the CLI, the seed test and its
// worker threads; summaries from several workers merge by addition.

import { SafetyViolation } from './checker.js';
import { runScenario, type ScenarioOverrides } from './scenario.js';

export interface SeedFailure {
  readonly seed: number;
  readonly property: string;
  readonly message: string;
}

export interface BatchSummary {
  ran: number;
  ticks: number;
  failures: SeedFailure[];
  byProfile: Record<string, number>;
  totals: Record<string, number>;
  /** Per profile, totals of the same counters. */
  profileTotals: Record<string, Record<string, number>>;
  maxLivenessTicks: number;
  worstLivenessRatio: number;
}

export function emptySummary(): BatchSummary {
  return {
    ran: 0,
    ticks: 0,
    failures: [],
    byProfile: {},
    totals: {},
    profileTotals: {},
    maxLivenessTicks: 0,
    worstLivenessRatio: 0,
  };
}

function add(into: Record<string, number>, from: Readonly<Record<string, number>>): void {
  for (const [k, v] of Object.entries(from)) into[k] = (into[k] ?? 0) + v;
}

/**
 * Runs `seeds` in order. A SafetyViolation is recorded (and ends the batch unless keepGoing);
 * anything else thrown is a simulator bug and propagates.
 */
export function runBatch(
  seeds: readonly number[],
  overrides: ScenarioOverrides,
  keepGoing: boolean,
): BatchSummary {
  const s = emptySummary();
  for (const seed of seeds) {
    s.ran++;
    try {
      const r = runScenario(seed, overrides);
      s.ticks += r.ticks;
      s.maxLivenessTicks = Math.max(s.maxLivenessTicks, r.livenessTicks);
      s.worstLivenessRatio = Math.max(s.worstLivenessRatio, r.livenessTicks / r.plan.livenessBound);
      s.byProfile[r.plan.profile] = (s.byProfile[r.plan.profile] ?? 0) + 1;
      add(s.totals, r.stats);
      s.profileTotals[r.plan.profile] ??= {};
      add(s.profileTotals[r.plan.profile]!, r.stats);
    } catch (err) {
      if (!(err instanceof SafetyViolation)) throw err;
      s.failures.push({ seed, property: err.property, message: err.message });
      if (!keepGoing) break;
    }
  }
  return s;
}

export function mergeSummaries(parts: readonly BatchSummary[]): BatchSummary {
  const s = emptySummary();
  for (const p of parts) {
    s.ran += p.ran;
    s.ticks += p.ticks;
    s.failures.push(...p.failures);
    add(s.byProfile, p.byProfile);
    add(s.totals, p.totals);
    for (const [profile, t] of Object.entries(p.profileTotals)) {
      s.profileTotals[profile] ??= {};
      add(s.profileTotals[profile]!, t);
    }
    s.maxLivenessTicks = Math.max(s.maxLivenessTicks, p.maxLivenessTicks);
    s.worstLivenessRatio = Math.max(s.worstLivenessRatio, p.worstLivenessRatio);
  }
  s.failures.sort((a, b) => a.seed - b.seed);
  return s;
}

export function formatSummary(s: BatchSummary, seconds: number): string {
  const mix = Object.entries(s.byProfile)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const totals = Object.entries(s.totals)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return [
    `profiles: ${mix}`,
    `totals: ${totals}`,
    `slowest liveness: ${s.maxLivenessTicks} ticks (worst ${(100 * s.worstLivenessRatio).toFixed(0)}% of its bound)`,
    `${s.ran} scenarios, ${s.ticks} ticks in ${seconds.toFixed(2)} s: ${(s.ran / seconds).toFixed(1)} scenarios/second`,
  ].join('\n');
}
