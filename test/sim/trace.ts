// Goal: a readable, replayable account of a simulated run. With --trace every event (send,
// deliver, drop, crash, restart, role change, commit, read, ...) is printed on one line prefixed
// by its tick, so a failing seed can be replayed and read like a story. Disabled tracing costs
// one boolean test per event: callers check `tracer.on` before building a line.

import { type Entry, heldSnapshot, type Message } from '../../src/raft/index.js';
import { describeEntry } from './kv.js';

export class Tracer {
  tick = 0;

  constructor(
    readonly on: boolean,
    private readonly out: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  event(kind: string, text: string): void {
    if (!this.on) return;
    this.out(`[t=${String(this.tick).padStart(5)}] ${kind.padEnd(8)} ${text}`);
  }
}

export const silentTracer = new Tracer(false);

function entriesSummary(entries: readonly { index: number; term: number }[]): string {
  if (entries.length === 0) return 'none';
  const first = entries[0]!;
  const last = entries[entries.length - 1]!;
  return entries.length === 1
    ? `${first.index}/t${first.term}`
    : `${first.index}..${last.index}/t${last.term}`;
}

/** How the simulator shows an AppendEntries' entries: a range, and the entry itself if only one. */
function summarizeEntries(entries: readonly Entry[]): string {
  const first = entries.length === 1 ? ` [${describeEntry(entries[0]!)}]` : '';
  return `entries=${entriesSummary(entries)}${first}`;
}

/**
 * One line per message: who, what, and the fields a reader needs to follow the protocol.
 * `showEntries` renders an AppendEntries' entries (the core's tests print each one).
 */
export function describeMessage(
  m: Message,
  showEntries: (entries: readonly Entry[]) => string = summarizeEntries,
): string {
  const head = `${m.from}->${m.to} ${m.type} t${m.term}`;
  switch (m.type) {
    case 'RequestVote':
      return `${head} last=${m.lastLogIndex}/t${m.lastLogTerm}${m.transfer ? ' transfer' : ''}`;
    case 'PreVote':
      return `${head} last=${m.lastLogIndex}/t${m.lastLogTerm}`;
    case 'RequestVoteResponse':
    case 'PreVoteResponse':
      return `${head} ${m.granted ? 'granted' : 'rejected'}`;
    case 'AppendEntries':
      return `${head} prev=${m.prevLogIndex}/t${m.prevLogTerm} ${showEntries(m.entries)} commit=${m.leaderCommit}`;
    case 'AppendEntriesResponse':
      return m.success
        ? `${head} ok match=${m.matchIndex}`
        : `${head} reject at=${m.rejectedIndex} hint=${m.hintIndex}/t${m.hintTerm}`;
    case 'Heartbeat':
      return `${head} commit=${m.leaderCommit} round=${m.readRound}`;
    case 'HeartbeatResponse':
      return `${head} round=${m.readRound}`;
    case 'InstallSnapshot':
      return `${head} snap=${m.snapshot.meta.index}/t${m.snapshot.meta.term}`;
    case 'TimeoutNow':
      return head;
    case 'ReadIndexRequest':
      return `${head} ctx=${m.context}`;
    case 'LeaseReadIndexRequest':
      return `${head} ctx=${m.context} lease`;
    case 'ReadIndexResponse':
      return `${head} ctx=${m.context} readIndex=${m.readIndex}`;
  }
}

/** Deep-enough copy: the network must never let two nodes share a mutable buffer. */
export function cloneMessage(m: Message): Message {
  switch (m.type) {
    case 'AppendEntries':
      return { ...m, entries: m.entries.map((e) => ({ ...e, data: e.data.slice() })) };
    case 'InstallSnapshot':
      return { ...m, snapshot: { meta: m.snapshot.meta, data: heldSnapshot(m.snapshot).data.slice() } };
    default:
      return { ...m };
  }
}
