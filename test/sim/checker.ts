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
// Membership changes (thesis chapter 4) make "a majority" a question of which configuration:
//  - durability is judged against the configuration the committing leader counted with (its
//    log's latest configuration when it advanced its commit index): the entry must be held by a
//    majority of its voters — of both voter sets while joint (§4.3) — learners never count; an
//    index that no leader has committed must never be applied;
//  - only a voter of the configuration in its log campaigns (learners, nodes not yet joined and
//    removed ones never do) — or, while its own removal is not committed, a voter of the
//    committed configuration (§4.2.2);
//  - every election is checked: the new leader is a voter of the configuration in its log, and
//    the votes granted to it (votes leave a node only once durable, so none is missed) include a
//    majority of that configuration's voters — of both sets while joint; a learner's vote never
//    makes up for a missing voter's;
//  - committed configurations agree: wherever a node's configuration in force is committed on it,
//    it is the one the committed log says (a snapshot records it too), so no two nodes ever
//    decide with different committed memberships;
//  - quorum intersection: every majority that could elect a leader meets every majority that
//    committed an entry — checked as "a node that lacks a committed entry cannot be elected": at
//    every commit and every change to a node's durable log, no voter whose durable log lacks the
//    latest committed entry has, among the voters of the configuration its log puts in force, a
//    majority (of each set, while joint) whose durable logs are no more up-to-date than its own
//    (§3.6.1: the only logs that would grant it their vote). This is what Leader Completeness
//    rests on (§3.6.3) and what a membership change done wrong breaks first — two changes that
//    decide with majorities that do not meet (§4.2, the single-server bug of 2015) — so it is
//    caught as soon as the commit happens, not only once the stray node wins an election;
//  - election safety, vote uniqueness and the log properties above span every node ever created,
//    those that joined at run time and those removed since.

import {
  decodeMembership,
  type Entry,
  type Membership,
  type MemoryLogStorage,
  type NodeId,
  type Role,
  type Snapshot,
} from '../../src/raft/index.js';
import { isVoter, sameMembership } from '../../src/raft/membership.js';
import { describeEntry, describeMembership } from './kv.js';

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
  /** The configuration in force on the node (its log's latest), and the index of its entry. */
  readonly membership: Membership;
  readonly membershipIndex: number;
  /** The configuration its commit index has reached (the same unless a change is in flight). */
  readonly committedMembership: Membership;
}

/**
 * Who may campaign and lead: a voter of the configuration in its log — or, while that
 * configuration (its own removal) is not committed, a voter of the committed one (§4.2.2).
 */
function mayLead(s: StatusView, id: NodeId): boolean {
  return (
    isVoter(s.membership, id) || (s.membershipIndex > s.commitIndex && isVoter(s.committedMembership, id))
  );
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
  /** Committed copies dropped by the storage change in progress (checked once it is done). */
  private readonly drops: { id: NodeId; rec: AppliedRecord }[] = [];
  /** commitConfig[i]: the configuration the first leader to commit index i counted with. */
  private readonly commitConfig: (Membership | undefined)[] = [];
  /** Configuration entries in the order they were first applied (so by index). */
  private readonly committedConfigs: { readonly index: number; readonly membership: Membership }[] = [];
  /** Per node: the configuration last found to agree with the committed log. */
  private readonly agreed = new Map<NodeId, Membership>();
  /**
   * Per node, kept up to date as its durable log changes: the configuration entries in it, and
   * the membership its snapshot records (what a restart would put in force).
   */
  private readonly durable = new Map<
    NodeId,
    { base: Membership; configs: { index: number; membership: Membership }[] }
  >();

  /** `storages` holds every node ever created; the cluster adds joining nodes to it. */
  constructor(
    private readonly seed: number,
    private readonly clock: () => number,
    private readonly storages: ReadonlyMap<NodeId, MemoryLogStorage>,
    private readonly replay: string,
    private readonly bootstrap: Membership,
  ) {}

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

  /** The membership the committed log puts in force at `index` (the bootstrap one before any change). */
  committedMembershipAt(index: number): Membership {
    for (let k = this.committedConfigs.length - 1; k >= 0; k--) {
      const c = this.committedConfigs[k]!;
      if (c.index <= index) return c.membership;
    }
    return this.bootstrap;
  }

  /** Configuration entries committed so far, and how many of them entered a joint configuration. */
  committedConfigCounts(): { readonly configs: number; readonly joint: number } {
    const joint = this.committedConfigs.filter((c) => c.membership.outgoingVoters.length > 0).length;
    return { configs: this.committedConfigs.length, joint };
  }

  /** The latest committed configuration known (committed = applied somewhere). */
  latestCommittedMembership(): { readonly index: number; readonly membership: Membership } {
    return this.committedConfigs.at(-1) ?? { index: 0, membership: this.bootstrap };
  }

  /**
   * After every call into a core: election safety, the election's quorum, the commit's
   * configuration, agreement on committed configurations, and monotonicity within one incarnation.
   */
  observeStatus(id: NodeId, now: StatusView, before: StatusView | null): void {
    if (now.role === 'leader') {
      const other = this.leaderOf.get(now.term);
      if (other === undefined) this.leaderOf.set(now.term, id);
      else if (other !== id)
        this.fail('election safety', `term ${now.term} has two leaders: ${other} and ${id}`);
      if (before === null || before.role !== 'leader' || before.term !== now.term) this.onElected(id, now);
    } else if (
      (now.role === 'candidate' || now.role === 'precandidate') &&
      (before === null || before.role !== now.role || before.term !== now.term) &&
      !mayLead(now, id)
    ) {
      // A learner, a node that has not joined yet and a removed one never campaign.
      this.fail(
        'only voters campaign',
        `${id} became ${now.role} in term ${now.term} but is not a voter of the configuration in its log ` +
          `(${describeMembership(now.membership)} at ${now.membershipIndex})`,
      );
    }
    if (now.membership !== this.agreed.get(id)) this.checkAgreement(id, now);
    if (before === null) return;
    if (now.commitIndex > before.commitIndex) {
      // A leader's commit, counted with the configuration in force when the call began: within
      // one call a leader's configuration changes only by what it appends after committing (the
      // entry leaving a joint configuration), and a leader removed by the configuration it just
      // committed steps down in the same call, in the same term.
      if (before.role === 'leader' && before.term === now.term)
        this.onLeaderCommit(before.commitIndex, now.commitIndex, before.membership);
      else if (now.role === 'leader')
        this.onLeaderCommit(before.commitIndex, now.commitIndex, now.membership);
    }
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

  private onLeaderCommit(from: number, to: number, membership: Membership): void {
    for (let i = from + 1; i <= to; i++) this.commitConfig[i] ??= membership;
  }

  /**
   * `id` just became leader of `s.term`: it must be a voter of the configuration in its log
   * (which the election counted with: a candidate's log does not change during its campaign), and
   * the votes granted to it must include a majority of that configuration's voters (§4.3: of
   * each set while joint).
   */
  private onElected(id: NodeId, s: StatusView): void {
    const m = s.membership;
    if (!mayLead(s, id)) {
      this.fail(
        'only voters lead',
        `${id} became leader of term ${s.term} but is not a voter of the configuration in its log (${describeMembership(m)} at ${s.membershipIndex})`,
      );
    }
    const grantedBy = (v: NodeId): boolean => v === id || this.votes.get(`${s.term} ${v}`) === id;
    const short = (set: readonly NodeId[]): boolean =>
      set.length > 0 && 2 * set.filter(grantedBy).length <= set.length;
    if (short(m.voters) || short(m.outgoingVoters)) {
      const voters = [...new Set([...m.voters, ...m.outgoingVoters])].filter(grantedBy);
      const others = [...this.votes.entries()]
        .filter(([k, c]) => c === id && k.startsWith(`${s.term} `))
        .map(([k]) => k.slice(k.indexOf(' ') + 1))
        .filter((v) => !isVoter(m, v));
      const learners = others.filter((v) => m.learners.includes(v));
      this.fail(
        learners.length > 0 ? 'learner vote counted' : 'election quorum',
        `${id} became leader of term ${s.term} with the votes of voters {${voters.join(',')}}` +
          (others.length > 0 ? ` and of non-voters {${others.join(',')}}` : '') +
          `: not a majority of the voters of ${describeMembership(m)}`,
      );
    }
  }

  /**
   * A node's configuration in force, once committed on it, must be the one the committed log puts
   * in force there. (A new node's empty configuration, at index 0, is no committed one.)
   */
  private checkAgreement(id: NodeId, s: StatusView): void {
    const at = s.membershipIndex;
    if (at === 0 || at > s.commitIndex || at > this.maxApplied()) return;
    const expected = this.committedMembershipAt(at);
    if (!sameMembership(s.membership, expected)) {
      this.fail(
        'configuration agreement',
        `${id} has ${describeMembership(s.membership)} in force from index ${at} (committed on it), ` +
          `but the committed log puts ${describeMembership(expected)} in force there`,
      );
    }
    this.agreed.set(id, s.membership);
  }

  /** A snapshot taken or installed must record the configuration the committed log has at its index. */
  checkSnapshotMembership(id: NodeId, snap: Snapshot, what: string): void {
    const { index } = snap.meta;
    if (index > this.maxApplied()) return;
    const expected = this.committedMembershipAt(index);
    if (!sameMembership(snap.meta.membership, expected)) {
      this.fail(
        'configuration agreement',
        `${id} ${what} snapshot ${index}/t${snap.meta.term} recording ${describeMembership(snap.meta.membership)}, ` +
          `but the committed log has ${describeMembership(expected)} in force at ${index}`,
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

  /** Whether `id`'s durable state holds committed entry `e` (in the log, or folded into a snapshot). */
  private holds(id: NodeId, e: Entry): boolean {
    const s = this.storages.get(id);
    if (s === undefined) return false;
    return e.index < s.firstIndex() ? e.index <= s.snapshot().meta.index : s.term(e.index) === e.term;
  }

  /**
   * Null if a majority of `m`'s voters (of each set, while joint) hold `e` durably; otherwise
   * which voters do and which configuration that falls short of.
   */
  private quorumShortfall(e: Entry, m: Membership): string | null {
    const short = (set: readonly NodeId[]): boolean =>
      2 * set.filter((v) => this.holds(v, e)).length <= set.length;
    if (!short(m.voters) && (m.outgoingVoters.length === 0 || !short(m.outgoingVoters))) return null;
    const all = [...new Set([...m.voters, ...m.outgoingVoters, ...m.learners])];
    const holders = all.filter((v) => this.holds(v, e));
    return `only {${holders.join(',')}} hold it durably: not a majority of the voters of ${describeMembership(m)}`;
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

  /**
   * After a storage change that dropped committed copies: a majority of the configuration that
   * committed each must still hold it (the voters that acknowledged it never lose it).
   */
  private checkDrops(): void {
    for (const { id, rec } of this.drops) {
      const m = this.commitConfig[rec.entry.index] ?? this.bootstrap;
      const short = this.quorumShortfall(rec.entry, m);
      if (short !== null) {
        this.fail('committed entry lost', `${id} dropped committed ${describeEntry(rec.entry)}: ${short}`);
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
    const rec = this.durable.get(id);
    if (rec !== undefined && entries.length > 0) {
      const first = entries[0]!.index;
      while (rec.configs.length > 0 && rec.configs.at(-1)!.index >= first) rec.configs.pop();
      for (const e of entries) {
        if (e.type === 'config') rec.configs.push({ index: e.index, membership: decodeMembership(e.data) });
      }
    }
    this.checkElectable(id);
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

  afterSnapshotInstall(id: NodeId): void {
    this.checkDrops();
    this.durable.delete(id);
    this.checkElectable(id);
  }

  /** The configuration `id`'s durable log puts in force: its latest configuration entry, else its snapshot's. */
  private durableMembership(id: NodeId, storage: MemoryLogStorage): Membership {
    let rec = this.durable.get(id);
    if (rec === undefined) {
      rec = { base: storage.snapshot().meta.membership, configs: [] };
      for (let i = storage.firstIndex(); i <= storage.lastIndex(); i++) {
        const e = storage.entries(i, i + 1, Number.MAX_SAFE_INTEGER)[0]!;
        if (e.type === 'config') rec.configs.push({ index: i, membership: decodeMembership(e.data) });
      }
      this.durable.set(id, rec);
    }
    return rec.configs.at(-1)?.membership ?? rec.base;
  }

  /**
   * Quorum intersection (see the top of this file): if `id`'s durable log lacks the latest
   * committed entry, the voters whose durable logs it is at least as up-to-date as must not make
   * a majority of the configuration its log puts in force.
   */
  private checkElectable(id: NodeId): void {
    const k = this.maxApplied();
    if (k <= 0) return;
    const storage = this.storages.get(id)!;
    const committed = this.applied[k]!.entry;
    if (k < storage.firstIndex() || storage.term(k) === committed.term) return;
    const m = this.durableMembership(id, storage);
    if (!isVoter(m, id)) return;
    const lastIndex = storage.lastIndex();
    const lastTerm = storage.term(lastIndex)!;
    const wouldGrant = (v: NodeId): boolean => {
      const s = this.storages.get(v);
      if (s === undefined) return false;
      const vi = s.lastIndex();
      const vt = s.term(vi)!;
      return vt < lastTerm || (vt === lastTerm && vi <= lastIndex);
    };
    const majority = (set: readonly NodeId[]): boolean => 2 * set.filter(wouldGrant).length > set.length;
    if (!majority(m.voters) || (m.outgoingVoters.length > 0 && !majority(m.outgoingVoters))) return;
    const electors = [...new Set([...m.voters, ...m.outgoingVoters])].filter(wouldGrant);
    const by = this.commitConfig[k];
    this.fail(
      'quorum intersection',
      `${id} lacks committed ${describeEntry(committed)} yet could be elected: {${electors.join(',')}}, a majority of ` +
        `the voters of its configuration ${describeMembership(m)}, hold logs no more up-to-date than its own ` +
        `(last ${lastIndex}/t${lastTerm})` +
        (by !== undefined ? `; the entry was committed under ${describeMembership(by)}` : ''),
    );
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
    // First time anyone applies index e.index: it is committed from now on, by a leader that
    // counted a majority of its configuration.
    const m = this.commitConfig[e.index];
    if (m === undefined) {
      this.fail(
        'committed entry durability',
        `${id} applied ${describeEntry(e)} but no leader has committed it`,
      );
    }
    const short = this.quorumShortfall(e, m);
    if (short !== null)
      this.fail('committed entry durability', `${id} applied ${describeEntry(e)} but ${short}`);
    if (e.type === 'config')
      this.committedConfigs.push({ index: e.index, membership: decodeMembership(e.data) });
    for (const log of this.electionLogs) {
      if (log.term > term) this.checkCompleteness(log, e);
    }
    for (const other of this.storages.keys()) this.checkElectable(other);
  }
}
