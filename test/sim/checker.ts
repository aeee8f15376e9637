// Goal: the safety properties of Raft (thesis Figure 3.2, §3.6) checked incrementally while a
// simulation runs, so a violation is reported at the exact step that caused it:
//  - Election Safety: at most one leader per term, over the whole run, and the vote it rests on:
//    a node grants its vote to at most one candidate per term (§3.4), across restarts;
//  - Log Matching: two durable logs holding an entry with the same index and term agree on it and
//    on every entry before it (checked by induction: same entry, same predecessor term);
//  - Leader Completeness: a leader of term T holds every entry committed in a term < T (the
//    commit term is bounded above by the term of the first node to apply the entry);
//  - State Machine Safety: no two nodes apply different entries at one index (a hash chained
//    over applied entries also compares the whole history, including snapshot contents);
//  - durability ("committed entries are never lost"): an entry is applied only once a majority
//    holds it durably, and a majority keeps holding it (or a snapshot covering it) for ever. A
//    single follower may still lose its copy: a deposed leader of a term older than the commit
//    may overwrite it there (that follower had not learned the commit) — but a leader of a later
//    term never may, since it must hold the entry itself;
//  - commit and applied indexes (and terms) never decrease within one incarnation of a node.
// "Committed" here means "applied by some node": an entry reaches a state machine only once
// committed, so this is exactly the set of entries the outside world may have observed.

import type { Entry, MemoryLogStorage, NodeId, Role, Snapshot } from '../../src/raft/index.js';
import { describeEntry } from './kv.js';

export class SafetyViolation extends Error {
  override readonly name = 'SafetyViolation';

  constructor(
    readonly seed: number,
    readonly tick: number,
    readonly property: string,
    readonly detail: string,
    readonly replay: string,
  ) {
    super(`seed ${seed}, tick ${tick}: ${property} violated: ${detail}\n  replay with: ${replay}`);
  }
}

export interface StatusView {
  readonly role: Role;
  readonly term: number;
  readonly commitIndex: number;
  readonly lastApplied: number;
}

interface AppliedRecord {
  readonly entry: Entry;
  /**
   * The first applier's term when it applied the entry: the entry was committed by a leader of
   * this term or an earlier one, so every leader of a later term must hold it (§3.6.3).
   */
  readonly commitTermBound: number;
  /** State hash after applying it. */
  readonly chain: number;
  readonly node: NodeId;
  readonly tick: number;
}

interface LogRecord {
  readonly entry: Entry;
  readonly prevTerm: number;
  readonly node: NodeId;
}

/** A new leader's durable log at the moment it appended the first entry of its term. */
interface ElectionLog {
  readonly term: number;
  readonly leader: NodeId;
  /** Indexes ≤ covered are folded into its snapshot (and so committed and hash-checked). */
  readonly covered: number;
  /** terms[i - covered - 1] is the term of entry i; entries ≥ the new leader's first one are absent. */
  readonly terms: number[];
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a.term !== b.term || a.type !== b.type || a.data.byteLength !== b.data.byteLength) return false;
  for (let i = 0; i < a.data.byteLength; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}

export class SafetyChecker {
  /** term → the one node that led it. */
  readonly leaderOf = new Map<number, NodeId>();
  /** "term voter" → the candidate it granted its vote to. */
  private readonly votes = new Map<string, NodeId>();
  /** applied[i]: the entry the first node to apply index i applied. */
  private readonly applied: (AppliedRecord | undefined)[] = [];
  /** logs[i] maps term → the first durable copy of the entry (i, term) seen on any node. */
  private readonly logs: (Map<number, LogRecord> | undefined)[] = [];
  private readonly electionLogs: ElectionLog[] = [];
  private readonly quorum: number;
  /** Committed copies dropped by the storage change in progress (checked once it is done). */
  private readonly drops: { id: NodeId; rec: AppliedRecord }[] = [];

  constructor(
    private readonly seed: number,
    private readonly clock: () => number,
    private readonly storages: ReadonlyMap<NodeId, MemoryLogStorage>,
    private readonly replay: string,
  ) {
    this.quorum = Math.floor(storages.size / 2) + 1;
  }

  fail(property: string, detail: string): never {
    throw new SafetyViolation(this.seed, this.clock(), property, detail, this.replay);
  }

  /** Highest index applied anywhere so far. */
  maxApplied(): number {
    return this.applied.length - 1;
  }

  appliedAt(index: number): Entry | undefined {
    return this.applied[index]?.entry;
  }

  /** After every call into a core: election safety and monotonicity within one incarnation. */
  observeStatus(id: NodeId, now: StatusView, before: StatusView | null): void {
    if (now.role === 'leader') {
      const other = this.leaderOf.get(now.term);
      if (other === undefined) this.leaderOf.set(now.term, id);
      else if (other !== id)
        this.fail('election safety', `term ${now.term} has two leaders: ${other} and ${id}`);
    }
    if (before === null) return;
    if (now.term < before.term)
      this.fail('term monotonicity', `${id} went from term ${before.term} to ${now.term}`);
    if (now.commitIndex < before.commitIndex) {
      this.fail(
        'commit monotonicity',
        `${id} commit index went from ${before.commitIndex} to ${now.commitIndex}`,
      );
    }
    if (now.lastApplied < before.lastApplied) {
      this.fail(
        'applied monotonicity',
        `${id} applied index went from ${before.lastApplied} to ${now.lastApplied}`,
      );
    }
  }

  /** A RequestVoteResponse granting `candidate` a vote leaves `voter`. */
  onVoteGranted(voter: NodeId, candidate: NodeId, term: number): void {
    const key = `${term} ${voter}`;
    const prior = this.votes.get(key);
    if (prior === undefined) this.votes.set(key, candidate);
    else if (prior !== candidate) {
      this.fail(
        'one vote per term',
        `${voter} granted its term-${term} vote to ${prior} and then to ${candidate}`,
      );
    }
  }

  private heldCommitted(storage: MemoryLogStorage, j: number): AppliedRecord | null {
    const c = this.applied[j];
    return c !== undefined && storage.term(j) === c.entry.term ? c : null;
  }

  /** Nodes whose durable state holds committed entry `e` (in the log, or folded into a snapshot). */
  private holders(e: Entry): number {
    let n = 0;
    for (const s of this.storages.values()) {
      if (e.index < s.firstIndex() ? e.index <= s.snapshot().meta.index : s.term(e.index) === e.term) n++;
    }
    return n;
  }

  /**
   * `id` is about to drop its copy of committed `rec` because a leader of term `byTerm` says so.
   * Only a leader of a term up to the commit term may lack the entry (Leader Completeness).
   */
  private dropCommitted(id: NodeId, rec: AppliedRecord, byTerm: number, what: string): void {
    if (byTerm > rec.commitTermBound) {
      this.fail(
        'committed entry lost',
        `${id} replaces committed ${describeEntry(rec.entry)} (committed by term ${rec.commitTermBound} at the latest) ` +
          `with ${what} from a leader of term ${byTerm}`,
      );
    }
    this.drops.push({ id, rec });
  }

  /** After a storage change that dropped committed copies: a majority must still hold each. */
  private checkDrops(): void {
    for (const { id, rec } of this.drops) {
      const n = this.holders(rec.entry);
      if (n < this.quorum) {
        this.fail(
          'committed entry lost',
          `${id} dropped committed ${describeEntry(rec.entry)}: only ${n} of ${this.storages.size} nodes still hold it`,
        );
      }
    }
    this.drops.length = 0;
  }

  /** Before the driver appends `entries` to `id`'s durable log (THE ORDER, step 3). */
  beforeAppend(id: NodeId, storage: MemoryLogStorage, entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0]!.index;
    for (let k = 1; k < entries.length; k++) {
      if (entries[k]!.index !== first + k)
        this.fail('log shape', `${id} got non-contiguous entries at ${first + k}`);
    }
    const senderTerm = Math.max(...entries.map((e) => e.term));
    for (let j = first; j <= storage.lastIndex(); j++) {
      const c = this.heldCommitted(storage, j);
      if (c === null) continue;
      const replacement = entries[j - first];
      if (replacement === undefined || replacement.term !== c.entry.term) {
        const what = replacement ? describeEntry(replacement) : 'nothing (log truncated)';
        this.dropCommitted(id, c, senderTerm, what);
      }
    }
    let prevTerm = storage.term(first - 1);
    if (prevTerm === null) this.fail('log shape', `${id} appends at ${first} after an unknown entry`);
    for (const e of entries) {
      let byTerm = this.logs[e.index];
      if (byTerm === undefined) {
        byTerm = new Map();
        this.logs[e.index] = byTerm;
      }
      const seen = byTerm.get(e.term);
      if (seen === undefined) {
        byTerm.set(e.term, { entry: e, prevTerm, node: id });
      } else if (!sameEntry(seen.entry, e) || seen.prevTerm !== prevTerm) {
        this.fail(
          'log matching',
          `${id} stores ${describeEntry(e)} after an entry of term ${prevTerm}, but ${seen.node} stores ` +
            `${describeEntry(seen.entry)} after an entry of term ${seen.prevTerm}`,
        );
      }
      prevTerm = e.term;
    }
  }

  /** After the append: a new leader's first own entry pins down the log it was elected with. */
  afterAppend(id: NodeId, storage: MemoryLogStorage, entries: readonly Entry[]): void {
    this.checkDrops();
    for (const e of entries) {
      if (this.leaderOf.get(e.term) !== id || this.electionLogs.some((l) => l.term === e.term)) continue;
      const covered = storage.firstIndex() - 1;
      const terms: number[] = [];
      for (let i = covered + 1; i < e.index; i++) terms.push(storage.term(i)!);
      const log: ElectionLog = { term: e.term, leader: id, covered, terms };
      this.electionLogs.push(log);
      for (let c = 1; c < this.applied.length; c++) {
        const rec = this.applied[c];
        if (rec !== undefined && rec.commitTermBound < e.term) this.checkCompleteness(log, rec.entry);
      }
    }
  }

  private checkCompleteness(log: ElectionLog, committed: Entry): void {
    if (committed.index <= log.covered) return;
    const held = log.terms[committed.index - log.covered - 1];
    if (held !== committed.term) {
      const what = held === undefined ? 'has no entry there' : `has an entry of term ${held} there`;
      this.fail(
        'leader completeness',
        `${log.leader} became leader of term ${log.term} without committed ${describeEntry(committed)}: its log ${what}`,
      );
    }
  }

  /** Before the driver installs a snapshot sent by the leader of `term` (THE ORDER, step 2). */
  beforeSnapshotInstall(
    id: NodeId,
    storage: MemoryLogStorage,
    snap: Snapshot,
    smApplied: number,
    term: number,
  ): void {
    const { index } = snap.meta;
    const snapTerm = snap.meta.term;
    if (index <= smApplied) {
      this.fail(
        'applied monotonicity',
        `${id} is told to install snapshot ${index}/t${snapTerm} but has applied ${smApplied}`,
      );
    }
    const c = this.applied[index];
    if (c !== undefined && c.entry.term !== snapTerm) {
      this.fail(
        'snapshot safety',
        `snapshot ${index}/t${snapTerm} for ${id}, but ${describeEntry(c.entry)} was applied there`,
      );
    }
    if (storage.term(index) === snapTerm) return;
    for (let j = index + 1; j <= storage.lastIndex(); j++) {
      const held = this.heldCommitted(storage, j);
      if (held) this.dropCommitted(id, held, term, `snapshot ${index}/t${snapTerm}`);
    }
  }

  afterSnapshotInstall(): void {
    this.checkDrops();
  }

  /** A state machine was restored (snapshot install or restart): its content must match history. */
  onRestore(id: NodeId, applied: number, chain: number): void {
    if (applied === 0) return;
    const rec = this.applied[applied];
    if (rec !== undefined && rec.chain !== chain) {
      this.fail(
        'state machine safety',
        `${id} restored a snapshot at ${applied} whose state differs from the state ${rec.node} had after applying ${describeEntry(rec.entry)}`,
      );
    }
  }

  /** A node in term `term` applied `e`, reaching state hash `chain`. */
  onApply(id: NodeId, term: number, e: Entry, chain: number): void {
    const rec = this.applied[e.index];
    if (rec !== undefined) {
      if (!sameEntry(rec.entry, e)) {
        this.fail(
          'state machine safety',
          `${id} applied ${describeEntry(e)} but ${rec.node} applied ${describeEntry(rec.entry)} at tick ${rec.tick}`,
        );
      }
      if (rec.chain !== chain) {
        this.fail(
          'state machine safety',
          `${id} applied ${describeEntry(e)} on top of a different history than ${rec.node}`,
        );
      }
      return;
    }
    this.applied[e.index] = { entry: e, commitTermBound: term, chain, node: id, tick: this.clock() };
    // First time anyone applies index e.index: it is committed from now on.
    const holders = this.holders(e);
    if (holders < this.quorum) {
      this.fail(
        'committed entry durability',
        `${id} applied ${describeEntry(e)} but only ${holders} of ${this.storages.size} nodes hold it durably (quorum ${this.quorum})`,
      );
    }
    for (const log of this.electionLogs) {
      if (log.term > term) this.checkCompleteness(log, e);
    }
  }
}
