// Goal: what a batch of seeds did, in numbers: so that a passing batch also shows that the faults
// really happened (crashes that tore a tail, stalls that moved leadership, snapshots installed,
// operations of every outcome) — a simulator whose faults silently stopped firing proves nothing.
// Plain data, so worker threads can send it back.

import type { RunResult } from './scenario.js';

export interface SeedSummary {
  readonly seed: number;
  readonly failures: readonly string[];
  readonly counts: Readonly<Record<string, number>>;
}

/** The node log events worth counting across a batch. */
const EVENTS: Readonly<Record<string, string>> = {
  'leader.elected': 'leaders',
  'snapshot.taken': 'snapshotsTaken',
  'snapshot.installed': 'snapshotsInstalled',
  'disk.stall': 'stallTransfers',
  'disk.stall_step_down': 'stallStepDowns',
  'leader.handoff': 'handOffs',
};

export function summarize(r: RunResult): SeedSummary {
  const counts: Record<string, number> = {
    seeds: 1,
    ops: r.ops,
    ok: r.clients.ok,
    fail: r.clients.fail,
    info: r.clients.info,
    forwarded: r.clients.forwarded,
    retried: r.clients.retried,
    events: r.events,
    virtualMs: r.virtualMs,
    crashes: r.cluster.crashes,
    crashesWithUnsynced: r.cluster.crashesWithUnsynced,
    crashesInRecovery: r.cluster.crashesInRecovery,
    restarts: r.cluster.restarts,
    gracefulRestarts: r.cluster.gracefulRestarts,
    tornTails: r.cluster.tornTails,
    discardedSnapshots: r.cluster.discardedSnapshots,
    stalls: r.cluster.stalls,
    eio: r.cluster.eioInjected,
    fatalStops: r.cluster.fatalStops,
    partitions: r.nemesis.partitions,
    crashMidSync: r.nemesis.crashMidSync,
    pauses: r.cluster.pauses,
    isolatedPauses: r.nemesis.isolatedPauses,
    heldWhilePaused: r.net.heldWhilePaused,
    lostWhilePaused: r.net.lostWhilePaused,
    messages: r.net.sent,
    dropped: r.net.dropped,
    duplicated: r.net.duplicated,
  };
  for (const [event, name] of Object.entries(EVENTS)) counts[name] = r.cluster.events[event] ?? 0;
  return { seed: r.seed, failures: r.failures, counts };
}

export function totals(list: readonly SeedSummary[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const s of list) for (const [k, v] of Object.entries(s.counts)) t[k] = (t[k] ?? 0) + v;
  t.failed = list.filter((s) => s.failures.length > 0).length;
  return t;
}

export function formatTotals(t: Readonly<Record<string, number>>, seconds: number): string {
  const seeds = t.seeds ?? 0;
  const rate = seconds > 0 ? (seeds / seconds).toFixed(1) : '-';
  const parts = Object.entries(t)
    .filter(([k]) => k !== 'seeds')
    .map(([k, v]) => `${k}=${v}`);
  return `${seeds} seeds in ${seconds.toFixed(1)}s (${rate}/s): ${parts.join(' ')}`;
}
