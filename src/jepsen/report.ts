// The run's verdict and its human-readable report.

import type { KeyFailure, KvCheckResult, KvOp } from '../check/index.js';
import { renderKeyFailure, renderOps } from '../check/index.js';
import type { TimelineEntry } from './nemesis.js';
import type { RecordedOp } from './recorder.js';
import type { WatchCheck } from './watch-workload.js';
import type { SetAdd, SetCheck } from './workloads.js';

export type RunVerdict = 'valid' | 'invalid' | 'unknown';

export interface OutcomeCounts {
  ok: number;
  fail: number;
  info: number;
}

export interface FaultAvailability {
  readonly kind: string;
  readonly start: number;
  readonly end: number;
  readonly detail: string;
  readonly ops: number;
  /** Fraction of ops invoked during the fault that got a definite answer (ok, or a 409). */
  readonly available: number;
}

/** pause-isolate-leader: what clients asked of the old leader, and what it answered. */
export interface WokenReads {
  readonly start: number;
  readonly node: number;
  /** Register reads sent to it while it was stopped, and while awake but cut off from its peers. */
  readonly sentStopped: number;
  readonly sentAwake: number;
  /**
   * Of the reads sent to it from its stop on, those it answered with a value (ok) before the
   * heal, i.e. while awake and cut off. It can confirm nothing with its peers and another node
   * has led since, so with ReadIndex or a correct lease this is 0; each such answer came from a
   * lease that in truth ran out while the node was stopped.
   */
  readonly answered: number;
}

/**
 * How a write refused for space is recorded (client.ts describeAnswer): 507 with
 * `{"code": "no_space", "definite": true}`, a definite failure — nothing was written.
 */
export const noSpaceAnswer = '507 no_space';

/** One disk-full fault, with the writes the cluster refused for space meanwhile. */
export interface DiskFault {
  readonly start: number;
  readonly node: number;
  readonly leader: boolean;
  readonly raised: boolean;
  readonly cleared: boolean;
  /** From the alarm seen applied on every node to it seen cleared on every node; null unless both. */
  readonly alarmMs: number | null;
  /** Writes answered 507 no_space between the fault's start and end: register writes, set CAS attempts. */
  readonly noSpaceRegister: number;
  readonly noSpaceSet: number;
  /** Nodes that exited on their own during the fault: none, if a low disk stops no node. */
  readonly stopped: readonly string[];
}

export interface NoSpaceSummary {
  readonly faults: readonly DiskFault[];
  /** Every write answered 507 no_space in the run, and those outside disk-full faults. */
  readonly total: number;
  readonly outsideFaults: number;
  /**
   * Set adds refused for space at least once, and how many of them were acknowledged in the end
   * (by a retry once the alarm cleared): those must be in the final read like any other.
   */
  readonly setAddsRefused: number;
  readonly setAddsRefusedThenAcknowledged: number;
}

export interface Report {
  readonly verdict: RunVerdict;
  readonly reasons: readonly string[];
  readonly settings: Readonly<Record<string, string | number | boolean>>;
  readonly counts: Readonly<Record<string, OutcomeCounts>>;
  readonly register: {
    readonly verdict: string;
    readonly keys: number;
    readonly steps: number;
    readonly unknownKeys: readonly string[];
    readonly failingKeys: readonly string[];
  };
  readonly set: SetCheck;
  /** The watch workload's check (watch-workload.ts), when it ran. */
  readonly watch?: WatchCheck;
  readonly availability: {
    readonly duringFaults: number;
    readonly outsideFaults: number;
    readonly perFault: readonly FaultAvailability[];
  };
  readonly timeline: readonly TimelineEntry[];
  /** One per pause-isolate-leader fault. */
  readonly wokenReads: readonly WokenReads[];
  readonly noSpace: NoSpaceSummary;
  readonly recovered: boolean;
  readonly notes: readonly string[];
  /** The smallest failing window, rendered, when the register history is not linearizable. */
  readonly failureWindow?: string;
  readonly checkMs: number;
  readonly durationMs: number;
}

export function countOutcomes(history: readonly KvOp[]): Record<string, OutcomeCounts> {
  const counts: Record<string, OutcomeCounts> = {};
  for (const op of history) {
    const c = counts[op.kind] ?? { ok: 0, fail: 0, info: 0 };
    c[op.outcome.type]++;
    counts[op.kind] = c;
  }
  return counts;
}

function answered(op: KvOp): boolean {
  return op.outcome.type === 'ok' || (op.outcome.type === 'fail' && op.outcome.precondition === true);
}

export function availability(
  history: readonly KvOp[],
  timeline: readonly TimelineEntry[],
  until: number,
): Report['availability'] {
  const faults = timeline.filter((t) => t.kind !== 'heal-all');
  const inFault = (t: number): boolean =>
    faults.some((f) => t >= f.start && t <= (Number.isNaN(f.end) ? until : f.end));
  let inN = 0;
  let inOk = 0;
  let outN = 0;
  let outOk = 0;
  for (const op of history) {
    if (op.invokedAt > until) continue;
    if (inFault(op.invokedAt)) {
      inN++;
      if (answered(op)) inOk++;
    } else {
      outN++;
      if (answered(op)) outOk++;
    }
  }
  const perFault = faults.map((f) => {
    const end = Number.isNaN(f.end) ? until : f.end;
    const ops = history.filter((op) => op.invokedAt >= f.start && op.invokedAt <= end);
    return {
      kind: f.kind,
      start: f.start,
      end,
      detail: f.detail,
      ops: ops.length,
      available: ops.length === 0 ? 0 : ops.filter(answered).length / ops.length,
    };
  });
  return {
    duringFaults: inN === 0 ? 1 : inOk / inN,
    outsideFaults: outN === 0 ? 1 : outOk / outN,
    perFault,
  };
}

/**
 * For each pause-isolate-leader fault: register reads sent to the old leader from its stop until
 * the heal began, split at its wake, and those it answered with a value before the heal.
 */
export function wokenReads(
  history: readonly RecordedOp[],
  timeline: readonly TimelineEntry[],
  until: number,
): WokenReads[] {
  const out: WokenReads[] = [];
  for (const f of timeline) {
    if (f.woken === undefined) continue;
    const { node, at } = f.woken;
    const healAt = Number.isNaN(f.woken.until) ? until : f.woken.until;
    const reads = history.filter((op) => op.kind === 'get' && op.node === node);
    const count = (from: number, to: number): number =>
      reads.filter((op) => op.invokedAt >= from && op.invokedAt < to).length;
    out.push({
      start: f.start,
      node,
      sentStopped: count(f.start, at),
      sentAwake: count(at, healAt),
      // Sent after the stop (the nemesis stops the node in the same synchronous step that
      // starts the fault, so no such read reached it awake) and answered before the heal: it can
      // only have been answered awake and cut off. A read sent earlier may legitimately have
      // been confirmed just before the stop and answered after the wake, so it is not counted.
      answered: reads.filter(
        (op) =>
          op.outcome.type === 'ok' &&
          op.invokedAt >= f.start &&
          op.completedAt !== null &&
          op.completedAt < healAt,
      ).length,
    });
  }
  return out;
}

/**
 * Writes answered 507 no_space, per disk-full fault and in all. A write belongs to a fault if it
 * was in flight at some time between the fault's start and end: the refusal was decided while the
 * alarm was applied, which is after the fill and before the nemesis saw it cleared everywhere, and
 * the write was in flight then. Any outside every fault means the cluster refused writes the
 * nemesis did not cause (a disk too small for the run, or an alarm that would not clear).
 */
export function noSpaceAnswers(
  history: readonly RecordedOp[],
  adds: readonly SetAdd[],
  timeline: readonly TimelineEntry[],
  until: number,
): NoSpaceSummary {
  type Span = readonly [number, number];
  const register: Span[] = history
    .filter((op) => op.outcome.type === 'fail' && op.outcome.error === noSpaceAnswer)
    .map((op) => [op.invokedAt, op.completedAt ?? op.invokedAt]);
  const set: Span[] = adds.flatMap((a) =>
    a.attempts.filter((t) => t.error === noSpaceAnswer).map((t): Span => [t.sentAt ?? t.at, t.at]),
  );
  const within = (spans: readonly Span[], from: number, to: number): number =>
    spans.filter(([sent, answered]) => sent <= to && answered >= from).length;
  const faults: DiskFault[] = [];
  let inside = 0;
  for (const f of timeline) {
    const d = f.disk;
    if (d === undefined) continue;
    const end = Number.isNaN(f.end) ? until : f.end;
    const fault: DiskFault = {
      start: f.start,
      node: d.node,
      leader: d.leader,
      raised: !Number.isNaN(d.raisedAt),
      cleared: !Number.isNaN(d.clearedAt),
      alarmMs: Number.isNaN(d.raisedAt) || Number.isNaN(d.clearedAt) ? null : d.clearedAt - d.raisedAt,
      noSpaceRegister: within(register, f.start, end),
      noSpaceSet: within(set, f.start, end),
      stopped: [...d.stopped],
    };
    inside += fault.noSpaceRegister + fault.noSpaceSet;
    faults.push(fault);
  }
  const total = register.length + set.length;
  const refused = adds.filter((a) => a.attempts.some((t) => t.error === noSpaceAnswer));
  return {
    faults,
    total,
    outsideFaults: total - inside,
    setAddsRefused: refused.length,
    setAddsRefusedThenAcknowledged: refused.filter((a) => a.outcome === 'ok').length,
  };
}

/** Of all failing keys, the failure with the fewest ops in its window. */
export function smallestFailure(result: KvCheckResult): KeyFailure | undefined {
  let best: KeyFailure | undefined;
  for (const r of result.perKey) {
    if (r.failure && (!best || r.failure.window.length < best.window.length)) best = r.failure;
  }
  return best;
}

/**
 * The checker's window, plus — since every written value is unique — where a stuck read's value
 * came from and the writes that completed after it and before the read began: together they show
 * a stale read at a glance.
 */
export function renderFailure(f: KeyFailure, history: readonly KvOp[]): string {
  const text = renderKeyFailure(f);
  const stuck = f.stuck;
  if (stuck.kind !== 'get' || stuck.outcome.type !== 'ok' || stuck.outcome.value === null) return text;
  const read = stuck.outcome.value;
  const sameKey = history.filter((op) => op.key === stuck.key);
  const writer = sameKey.find((op) => (op.kind === 'put' || op.kind === 'cas') && op.value === read);
  if (!writer) return `${text}\n\nNo operation wrote ${JSON.stringify(read)} to this key.`;
  const later = sameKey.filter(
    (op) =>
      (op.kind === 'put' || op.kind === 'cas') &&
      op.outcome.type === 'ok' &&
      op.invokedAt > writer.invokedAt &&
      op.completedAt !== null &&
      op.completedAt < stuck.invokedAt,
  );
  const shown = [writer, ...later.slice(-5), stuck];
  const note = (op: KvOp): string =>
    op === writer ? 'wrote the value read' : op === stuck ? 'the read' : 'completed before the read began';
  return [
    text,
    '',
    `Context: the value read was written by op ${writer.id}; ${later.length} later write(s) completed before the read began${later.length > 5 ? ' (last 5 shown)' : ''}:`,
    renderOps(shown, note)
      .split('\n')
      .map((l) => `  ${l}`)
      .join('\n'),
  ].join('\n');
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;
const secs = (ms: number): string => (ms / 1000).toFixed(1);
const mib = (bytes: number): string => String(Math.round((bytes / 2 ** 20) * 10) / 10);

export function renderReport(r: Report): string {
  const lines: string[] = [];
  const s = r.settings;
  lines.push(
    `raftkv jepsen: seed ${s.seed}, ${s.nodes} nodes, ${s.time} s, nemesis ${s.nemesis || 'none'}, ${s.clients} clients, read mode ${s.readMode}` +
      (s.unsafeStaleReads ? ', UNSAFE stale reads' : '') +
      (s.secure === true ? ', TLS (client certificates, peer TLS) and auth on' : '') +
      (typeof s.smallDiskBytes === 'number' && typeof s.minFreeBytes === 'number'
        ? `, small disks of ${mib(s.smallDiskBytes)} MiB (--min-free-bytes ${mib(s.minFreeBytes)} MiB)`
        : ''),
  );
  if (s.nodeCli !== undefined) lines.push(`Nodes ran ${s.nodeCli}`);
  const v = r.verdict === 'valid' ? 'VALID' : r.verdict === 'invalid' ? 'INVALID' : 'UNKNOWN';
  lines.push(`Verdict: ${v}${r.reasons.length > 0 ? ` (${r.reasons.join('; ')})` : ''}`);
  lines.push('');
  lines.push(
    `Register history: ${r.register.verdict} (${r.register.keys} keys, ${r.register.steps} search steps, checked in ${secs(r.checkMs)} s)`,
  );
  if (r.register.unknownKeys.length > 0) lines.push(`  undecided keys: ${r.register.unknownKeys.join(', ')}`);
  const failing = r.register.failingKeys;
  if (failing.length > 0) {
    lines.push(
      `  failing keys (${failing.length}): ${failing.slice(0, 10).join(', ')}${failing.length > 10 ? ', ...' : ''}`,
    );
  }
  lines.push('  ops by outcome:     ok    fail    info');
  let total: OutcomeCounts = { ok: 0, fail: 0, info: 0 };
  for (const [kind, c] of Object.entries(r.counts)) {
    lines.push(
      `    ${kind.padEnd(12)} ${String(c.ok).padStart(6)}  ${String(c.fail).padStart(6)}  ${String(c.info).padStart(6)}`,
    );
    total = { ok: total.ok + c.ok, fail: total.fail + c.fail, info: total.info + c.info };
  }
  lines.push(
    `    ${'total'.padEnd(12)} ${String(total.ok).padStart(6)}  ${String(total.fail).padStart(6)}  ${String(total.info).padStart(6)}`,
  );
  const wc = r.watch;
  if (wc !== undefined) {
    lines.push('');
    lines.push(
      `Watch: ${wc.reference === null ? 'UNKNOWN (no committed history read)' : wc.valid ? 'valid' : 'INVALID'}: ` +
        `${wc.watchers} watchers, ${wc.events} changes seen in ${wc.spans} streams (${wc.resumes} resumes on another node, ` +
        `${wc.compacted} compacted); committed history ${wc.reference === null ? '-' : `${wc.reference.events} changes, indexes ${wc.reference.from}..${wc.reference.to}`}` +
        (wc.unchecked > 0 ? `; ${wc.unchecked} streams began before it (not judged)` : ''),
    );
    for (const p of wc.problems.slice(0, 10)) lines.push(`  ${p}`);
  }
  const st = r.set;
  lines.push('');
  lines.push(
    `Set: ${st.valid ? 'valid' : 'INVALID'}: ${st.attempted} adds: ${st.acknowledged} acknowledged, ${st.indeterminate} indeterminate ` +
      `(${st.recovered} of them present), ${st.failed} failed; final read ${st.finalRead === 'ok' ? `found ${st.present}` : `failed (${st.finalReadError})`}`,
  );
  if (st.lost.length > 0)
    lines.push(
      `  LOST (acknowledged, missing): ${st.lost.slice(0, 20).join(', ')}${st.lost.length > 20 ? ' ...' : ''}`,
    );
  if (st.duplicated.length > 0) lines.push(`  DUPLICATED: ${st.duplicated.slice(0, 20).join(', ')}`);
  if (st.unexpected.length > 0)
    lines.push(`  UNEXPECTED (never added or failed): ${st.unexpected.slice(0, 20).join(', ')}`);
  lines.push('');
  lines.push(
    `Availability (ops answered ok or 409): ${pct(r.availability.duringFaults)} during faults, ${pct(r.availability.outsideFaults)} outside`,
  );
  lines.push(`Cluster healthy again after the final heal: ${r.recovered ? 'yes' : 'NO'}`);
  const ns = r.noSpace;
  if (ns.faults.length > 0 || ns.total > 0) {
    const up = ns.faults.reduce((sum, f) => sum + (f.alarmMs ?? 0), 0);
    const both = ns.faults.filter((f) => f.raised && f.cleared).length;
    const stopped = ns.faults.flatMap((f) => f.stopped);
    lines.push(
      `Disk full: ${ns.faults.length} episode${ns.faults.length === 1 ? '' : 's'}, alarm raised and cleared in ${both}, up ${secs(up)} s in all; ` +
        `${ns.total} writes answered 507 no_space (${ns.outsideFaults} outside the episodes); ` +
        (stopped.length === 0 ? 'no node stopped' : `NODES STOPPED: ${stopped.join('; ')}`),
    );
    lines.push(
      `  set adds refused for space at least once: ${ns.setAddsRefused}, acknowledged by a later attempt: ${ns.setAddsRefusedThenAcknowledged}`,
    );
  }
  lines.push('');
  lines.push('Fault timeline (seconds since start):');
  if (r.availability.perFault.length === 0) lines.push('  (no faults)');
  for (const f of r.availability.perFault) {
    lines.push(
      `  ${secs(f.start).padStart(6)} - ${secs(f.end).padStart(6)}  ${f.kind.padEnd(18)} ${f.detail}  [${f.ops} ops, ${pct(f.available)} available]`,
    );
    const d = r.noSpace.faults.find((x) => x.start === f.start);
    if (d) {
      lines.push(
        `${' '.repeat(19)}${d.noSpaceRegister + d.noSpaceSet} writes answered 507 no_space ` +
          `(${d.noSpaceRegister} register, ${d.noSpaceSet} set); ` +
          (d.stopped.length === 0 ? 'no node stopped' : `STOPPED: ${d.stopped.join('; ')}`),
      );
    }
    const w = r.wokenReads.find((x) => x.start === f.start);
    if (w) {
      lines.push(
        `${' '.repeat(19)}reads sent to n${w.node}: ${w.sentStopped} while stopped, ${w.sentAwake} while awake and cut off; ` +
          `${w.answered} answered with a value before the heal${w.answered > 0 ? ' (a node cut off from its peers should answer none)' : ''}`,
      );
    }
  }
  for (const n of r.notes) lines.push(`note: ${n}`);
  if (r.failureWindow) {
    lines.push('');
    lines.push('Smallest window showing the anomaly (times in ms since start):');
    lines.push(r.failureWindow);
  }
  lines.push('');
  lines.push(`Run took ${secs(r.durationMs)} s.`);
  return lines.join('\n');
}
