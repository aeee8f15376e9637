// The faults' vocabulary (families and kinds, the --nemesis names) and the timeline both nemeses
// write to: an entry opened, and logged, as a fault starts, and closed, and logged, as it ends —
// one place, so that every fault reaches the report the same way whichever schedule ran it.

export const families = {
  partition: ['partition-halves', 'partition-leader', 'partition-bridge', 'partition-one-way'],
  kill: ['kill-random', 'kill-leader', 'kill-rolling'],
  pause: ['pause-random', 'pause-leader'],
  restart: ['restart-random', 'restart-rolling'],
  // Its own family rather than part of `pause`, so that the schedules of existing seeds for
  // `pause` stay as they were.
  'pause-isolate': ['pause-isolate-leader'],
  // Only with --small-disk, so `all` without it means what it meant before.
  disk: ['disk-full'],
  // Runs on a schedule of its own, at the same time as the other families (membership-nemesis.ts).
  membership: ['member-replace', 'member-shrink-grow'],
} as const;

export type Family = keyof typeof families;
export type FaultKind = (typeof families)[Family][number];

export function isFamily(s: string): s is Family {
  return Object.hasOwn(families, s);
}

export interface TimelineEntry {
  readonly kind: FaultKind | 'heal-all';
  readonly start: number;
  end: number;
  /** Whom the fault hit; a fault that unfolds in steps (pause-isolate-leader) adds to it. */
  detail: string;
  /**
   * pause-isolate-leader: the old leader, when it was woken while still cut off from its peers,
   * and when the heal began (NaN until then). The report counts the reads clients sent it and
   * those it answered in between.
   */
  woken?: { readonly node: number; readonly at: number; until: number };
  /** disk-full: the episode, for the report. */
  disk?: DiskEpisode;
}

/**
 * One disk-full fault. Times are on the run clock; NaN for what never happened. "Everywhere"
 * means on every running node, as its /debug reports `space.alarms`.
 */
export interface DiskEpisode {
  readonly node: number;
  /** Whether it led when it was picked (else a follower). */
  readonly leader: boolean;
  /** Its --min-free-bytes, and what its file system had free once the filler was written. */
  readonly minFreeBytes: number;
  readonly freeAfterFill: number;
  readonly filledAt: number;
  /** When its alarm was seen applied everywhere; the filler was removed; the alarm was seen gone everywhere. */
  raisedAt: number;
  freedAt: number;
  clearedAt: number;
  /** Nodes that exited on their own during the fault (the low node must keep running). */
  readonly stopped: string[];
}

export class TimelineWriter {
  constructor(
    private readonly entries: TimelineEntry[],
    private readonly now: () => number,
    private readonly log: (line: string) => void,
    /** What the log says when an entry is closed: `nemesis: ` and this. */
    private readonly ended: (e: TimelineEntry) => string,
  ) {}

  begin(kind: FaultKind, detail: string): TimelineEntry {
    const e: TimelineEntry = { kind, start: this.now(), end: Number.NaN, detail };
    this.entries.push(e);
    this.log(`nemesis: ${kind} ${detail}`);
    return e;
  }

  end(e: TimelineEntry): void {
    e.end = this.now();
    this.log(`nemesis: ${this.ended(e)}`);
  }
}
