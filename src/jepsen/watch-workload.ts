// The watch workload: watchers that follow every key for the whole run, each through the API
// client's watch (resuming on another node with Last-Event-ID when its node is partitioned,
// killed or paused), while the other workloads write and the nemesis breaks things.
//
// The check: once the faults are healed, a marker write gives an index M; the committed history
// up to M is read back as a watch from the oldest index the window keeps, on two nodes, which
// must agree. Each watcher's stream — a span from the index it asked for to the last event it
// was given, restarted as a new span after a `compacted` — must equal that history restricted to
// the span: the same changes in the same order, none missed, none repeated, none invented. And
// every write the register workload saw acknowledged must be in the history, so the reference
// is the cluster's real one and not some other agreement.

import type { KvOp } from '../check/index.js';
import { type RaftkvClient, WatchCompactedError, type WatchEvent } from '../client/index.js';
import type { Prng } from '../random.js';

export interface WatchSpan {
  readonly watcher: number;
  /** The first index the span asked for. */
  readonly from: number;
  readonly events: WatchEvent[];
  /** How it ended: stopped at the end of the run, or compacted (a new span follows). */
  end: 'running' | 'stopped' | 'compacted';
}

export interface WatchCheck {
  readonly valid: boolean;
  readonly watchers: number;
  readonly spans: number;
  readonly events: number;
  /** Changes in the reference history, and the index range it covers. */
  readonly reference: { readonly events: number; readonly from: number; readonly to: number } | null;
  /** Spans that started before the reference's window (not comparable: counted, not judged). */
  readonly unchecked: number;
  readonly resumes: number;
  readonly compacted: number;
  /** What was wrong, smallest first; empty when valid. */
  readonly problems: readonly string[];
}

/** The committed history: every change from index `from` (the oldest the window kept) on. */
export interface Reference {
  readonly from: number;
  readonly events: readonly WatchEvent[];
}

export interface WatchWorkloadOptions {
  readonly watchers: number;
  /** Retry pause after every node failed in turn. */
  readonly retryMs: number;
  readonly log: (line: string) => void;
}

const fmt = (e: WatchEvent): string =>
  `${e.index} ${e.type} ${JSON.stringify(e.key)}=${JSON.stringify(e.value)} (was ${JSON.stringify(e.prevValue)})`;

export class WatchWorkload {
  readonly spans: WatchSpan[] = [];
  private readonly abort = new AbortController();
  private running: Promise<void>[] = [];
  private resumes = 0;

  constructor(private readonly options: WatchWorkloadOptions) {}

  /** Starts the watchers from index 1, each on its own order of the nodes. */
  start(rng: Prng, clients: readonly RaftkvClient[]): void {
    for (let w = 0; w < this.options.watchers; w++) {
      const order = [...clients];
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.nextInt(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      this.running.push(this.watcher(w, order));
    }
  }

  private async watcher(w: number, nodes: readonly RaftkvClient[]): Promise<void> {
    let from = 1;
    const signal = this.abort.signal;
    while (!signal.aborted) {
      const span: WatchSpan = { watcher: w, from, events: [], end: 'running' };
      this.spans.push(span);
      try {
        for await (const e of nodes[0]!.watch(
          { prefix: '' },
          {
            fromIndex: from,
            failover: nodes.slice(1),
            signal,
            retryMs: this.options.retryMs,
            onResume: () => this.resumes++,
          },
        )) {
          span.events.push(e);
        }
        span.end = 'stopped';
        return;
      } catch (e) {
        if (signal.aborted) {
          span.end = 'stopped';
          return;
        }
        if (e instanceof WatchCompactedError) {
          span.end = 'compacted';
          this.options.log(
            `watcher ${w}: compacted after index ${e.after ?? 'none'}; oldest kept ${e.oldestIndex}`,
          );
          from = e.oldestIndex;
          continue;
        }
        // Anything else ends the watcher's run (an auth error, a bug): the check reports the span.
        span.end = 'stopped';
        this.options.log(`watcher ${w}: ended by ${e instanceof Error ? e.message : String(e)}`);
        return;
      }
    }
  }

  /** The lowest index every running watcher has been given (0 before any event). */
  reached(): number {
    const running = this.spans.filter((s) => s.end === 'running');
    if (running.length === 0) return 0;
    return Math.min(...running.map((s) => s.events.at(-1)?.index ?? 0));
  }

  /** Stops the watchers (their streams end where they are). */
  async stop(): Promise<void> {
    this.abort.abort();
    await Promise.all(this.running);
    this.running = [];
  }

  /**
   * The committed history up to `until` (an index the nodes have applied), read as a watch from
   * the oldest kept index on `node`; null if it cannot be read within `timeoutMs`.
   */
  static async readReference(
    node: RaftkvClient,
    until: number,
    timeoutMs: number,
  ): Promise<Reference | null> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    const events: WatchEvent[] = [];
    let from = 1;
    try {
      for (;;) {
        try {
          for await (const e of node.watch({ prefix: '' }, { fromIndex: from, signal: abort.signal })) {
            events.push(e);
            if (e.index >= until) {
              // The marker is the last change of its index: nothing of it is left unread.
              abort.abort();
              break;
            }
          }
          return events.length > 0 && events.at(-1)!.index >= until ? { from, events } : null;
        } catch (e) {
          if (e instanceof WatchCompactedError && events.length === 0) {
            from = e.oldestIndex;
            continue;
          }
          return null;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Judges every span against the reference (the history up to the marker at `until`) and the
   * reference against the acknowledged register writes.
   */
  check(ref: Reference | null, until: number, register: readonly KvOp[]): WatchCheck {
    const problems: string[] = [];
    const events = this.spans.reduce((n, s) => n + s.events.length, 0);
    const base = {
      watchers: this.options.watchers,
      spans: this.spans.length,
      events,
      resumes: this.resumes,
      compacted: this.spans.filter((s) => s.end === 'compacted').length,
    };
    if (ref === null) {
      return {
        valid: false,
        ...base,
        reference: null,
        unchecked: this.spans.length,
        problems: ['the reference history could not be read'],
      };
    }
    const reference = ref.events;
    const refFrom = ref.from;
    let unchecked = 0;
    for (let w = 0; w < this.options.watchers; w++) {
      const spans = this.spans.filter((s) => s.watcher === w);
      const last = spans.at(-1)?.events.at(-1)?.index ?? 0;
      if (last < until)
        problems.push(`watcher ${w} was given changes up to index ${last} only, not the last one (${until})`);
    }
    for (const span of this.spans) {
      const last = span.events.at(-1)?.index ?? span.from - 1;
      if (last > until) {
        // Changes after the marker: only the marker's own writers made any (none), so a bug.
        problems.push(`watcher ${span.watcher}: an event after the end of the run (index ${last})`);
        continue;
      }
      if (span.from < refFrom && span.from > 1) {
        unchecked++;
        continue;
      }
      // From index 1, only what the reference's window still covers is comparable.
      const start = span.from === 1 ? refFrom : span.from;
      const got = span.events.filter((e) => e.index >= start);
      const want = reference.filter((e) => e.index >= start && e.index <= last);
      const n = Math.max(got.length, want.length);
      for (let i = 0; i < n; i++) {
        const g = got[i];
        const r = want[i];
        if (g === undefined || r === undefined || fmt(g) !== fmt(r)) {
          problems.push(
            `watcher ${span.watcher} (span from ${span.from}), event ${i}: got ${g === undefined ? 'nothing' : fmt(g)}, committed ${r === undefined ? 'nothing' : fmt(r)}`,
          );
          break;
        }
      }
    }
    // The reference is the cluster's history: every acknowledged register write is in it.
    const written = new Set(reference.filter((e) => e.type === 'put').map((e) => `${e.key}\u0000${e.value}`));
    let missing = 0;
    // When the window lost the start of the run, earlier writes are not comparable.
    for (const op of refFrom > 1 ? [] : register) {
      if ((op.kind !== 'put' && op.kind !== 'cas') || op.outcome.type !== 'ok') continue;
      if (!written.has(`${op.key}\u0000${op.value}`)) {
        missing++;
        if (missing <= 3)
          problems.push(`acknowledged write ${op.key}=${op.value} is not in the committed history`);
      }
    }
    return {
      valid: problems.length === 0,
      ...base,
      reference: { events: reference.length, from: refFrom, to: until },
      unchecked,
      problems,
    };
  }
}
