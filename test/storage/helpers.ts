// Shared pieces of the storage tests: entry builders, a logger that records, temp dirs for
// RealDisk, and the oracle the WAL is checked against — the core's own MemoryLogStorage, which
// defines what the node driver expects the durable log to look like.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger, LogLevel } from '../../src/raft/config.js';
import { initialMembership } from '../../src/raft/index.js';
import { MemoryLogStorage } from '../../src/raft/storage.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { emptyHardState } from '../../src/raft/types.js';
import type { LogPosition, WalRecovery } from '../../src/storage/index.js';

export function entry(index: number, term: number, text = `e${index}t${term}`): Entry {
  return { index, term, type: 'command', data: new TextEncoder().encode(text) };
}

export function entries(from: number, to: number, term: number): Entry[] {
  const out: Entry[] = [];
  for (let i = from; i <= to; i++) out.push(entry(i, term));
  return out;
}

export function hs(term: number, commitIndex: number, votedFor: string | null = null): HardState {
  return { term, votedFor, commitIndex };
}

export interface LogLine {
  readonly level: LogLevel;
  readonly event: string;
  readonly fields: Readonly<Record<string, string | number | boolean | null>>;
}

export function recordingLogger(): Logger & { lines: LogLine[] } {
  const lines: LogLine[] = [];
  return { lines, log: (level, event, fields) => lines.push({ level, event, fields }) };
}

/** A fresh directory under the OS temp dir; `cleanup` removes it. */
export async function tempDir(prefix: string): Promise<{ path: string; cleanup: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), `raftkv-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

/** What recovery should return, in comparable form. */
export interface LogView {
  readonly hardState: HardState;
  readonly snapshot: LogPosition | null;
  readonly entries: readonly Entry[];
}

export function viewOf(r: WalRecovery): LogView {
  return { hardState: r.hardState, snapshot: r.snapshot, entries: r.entries };
}

/** The oracle: MemoryLogStorage fed the same saves, plus the last hard state. */
export class Oracle {
  readonly log = new MemoryLogStorage(initialMembership(['n1']));
  hardState: HardState = emptyHardState;

  append(es: readonly Entry[]): void {
    this.log.append(es);
  }

  snapshot(p: LogPosition): void {
    this.log.applySnapshot({
      meta: { index: p.index, term: p.term, membership: initialMembership(['n1']) },
      data: new Uint8Array(0),
    });
  }

  get snapshotIndex(): number {
    return this.log.snapshot().meta.index;
  }

  view(): LogView {
    const meta = this.log.snapshot().meta;
    const first = this.log.firstIndex();
    return {
      hardState: this.hardState,
      snapshot: meta.index === 0 ? null : { index: meta.index, term: meta.term },
      entries: this.log.entries(first, this.log.lastIndex() + 1, Number.POSITIVE_INFINITY),
    };
  }
}

/** Resolves when `p` settles, whichever way. */
export function settled(p: Promise<unknown>): Promise<void> {
  return p.then(
    () => {},
    () => {},
  );
}
