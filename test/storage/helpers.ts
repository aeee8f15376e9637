// Shared pieces of the storage tests: entry builders, a logger that records, temp dirs for
// RealDisk, the oracle the WAL is checked against — the core's own MemoryLogStorage, which
// defines what the node driver expects the durable log to look like — and the compat tests'
// reading of an old release's data dir and of what it is known to hold.

import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger, LogLevel } from '../../src/raft/config.js';
import { initialMembership } from '../../src/raft/index.js';
import { MemoryLogStorage } from '../../src/raft/storage.js';
import type { Entry, HardState } from '../../src/raft/types.js';
import { emptyHardState } from '../../src/raft/types.js';
import { readFrame } from '../../src/storage/frame.js';
import type { LogPosition, SimDisk, WalRecovery } from '../../src/storage/index.js';
import { decodeWalRecord, type WalRecord } from '../../src/storage/wal-record.js';

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

/**
 * Starts `work` with the disk's fsyncs held, lets the first `k` of them complete, then crashes the
 * disk while the next one is pending (or once `work` is over, if it makes no more); resolves when
 * `work` has settled. `k` may be drawn once `work` has started (a seeded test keeps its order of
 * draws).
 */
export async function crashAfterSyncs(
  disk: SimDisk,
  work: () => Promise<unknown>,
  k: number | (() => number),
): Promise<void> {
  disk.holdSyncs();
  const over = settled(work());
  const syncs = typeof k === 'number' ? k : k();
  for (let i = 0; i < syncs; i++) {
    await Promise.race([disk.whenSyncsPending(1), over]);
    disk.releaseSyncs(1);
  }
  await Promise.race([disk.whenSyncsPending(1), over]);
  disk.crash();
  await over;
}

/** Resolves when `p` settles, whichever way. */
export function settled(p: Promise<unknown>): Promise<void> {
  return p.then(
    () => {},
    () => {},
  );
}

/** The compat tests' fixtures: the compiled tests run from dist/test/storage, the fixtures stay in the source tree. */
export const FIXTURES = fileURLToPath(new URL('../../../test/storage/fixtures/', import.meta.url));

/** A WAL record as a fixture's NAME.records.json holds it: an entry's data in hex. */
type JsonRecord = WalRecord | { kind: 'entry'; entry: Omit<Entry, 'data'> & { data: string } };

function fromJson(rec: JsonRecord): WalRecord {
  if (rec.kind !== 'entry') return rec;
  const data = Uint8Array.from(Buffer.from(rec.entry.data as string, 'hex'));
  return { kind: 'entry', entry: { ...rec.entry, data } };
}

/** What FIXTURES/`name`.records.json says each WAL segment of the fixture holds, by segment name. */
export async function expectedRecords(name: string): Promise<Record<string, WalRecord[]>> {
  const json = JSON.parse(await readFile(join(FIXTURES, `${name}.records.json`), 'utf8')) as Record<
    string,
    JsonRecord[]
  >;
  return Object.fromEntries(
    Object.entries(json).map(([segment, records]) => [segment, records.map(fromJson)]),
  );
}

/** Every record of every segment in `dir`/wal, by segment name, in name order. */
export async function readSegments(dir: string): Promise<Record<string, WalRecord[]>> {
  const out: Record<string, WalRecord[]> = {};
  for (const name of (await readdir(join(dir, 'wal'))).sort()) {
    const buf = new Uint8Array(await readFile(join(dir, 'wal', name)));
    const records: WalRecord[] = [];
    for (let off = 0; off < buf.length; ) {
      const f = readFrame(buf, off);
      assert.ok(f.ok, `${name} at ${off}`);
      records.push(decodeWalRecord(f.payload));
      off = f.end;
    }
    out[name] = records;
  }
  return out;
}
