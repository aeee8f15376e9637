// Which membership is in force, read off the log (§4.1): the one in the latest configuration
// entry, committed or not, else the one the snapshot recorded. The log tells this class about
// every append (which may first cut off a conflicting suffix, taking configurations with it) and
// every snapshot it installs, so the answer is always the log's.

import { assert, present } from '../assert.js';
import { decodeMembership, type Membership } from './membership.js';
import type { Entry } from './types.js';

interface Configuration {
  /** The entry that holds it (the snapshot's index for the base). */
  readonly index: number;
  /** That entry's term (the snapshot's for the base). */
  readonly term: number;
  readonly membership: Membership;
}

export class MembershipLog {
  private base: Configuration;
  /** Configuration entries above the base, by increasing index. */
  private entries: Configuration[] = [];
  /**
   * What the log held below the snapshot last installed (its base and configurations), for
   * `at()` below the new base: a state machine still applying entries the core has already
   * replaced by a leader's snapshot may be asked for their membership (they were committed, so
   * the leader's log agrees).
   */
  private beforeRestore: Configuration[] = [];

  /** `snapshotIndex` and its membership, then the log's entries after it (any configuration among them). */
  constructor(
    snapshotIndex: number,
    snapshotTerm: number,
    snapshotMembership: Membership,
    after: Iterable<Entry>,
  ) {
    this.base = { index: snapshotIndex, term: snapshotTerm, membership: snapshotMembership };
    for (const e of after) if (e.type === 'config') this.push(e);
  }

  /** The membership in force. */
  current(): Membership {
    return this.latest().membership;
  }

  /** Index of the entry that holds the membership in force (the snapshot's when none is above it). */
  currentIndex(): number {
    return this.latest().index;
  }

  /** The membership in force once the log ends at `index` (what a snapshot at `index` records). */
  at(index: number): Membership {
    return this.configurationAt(index).membership;
  }

  /** Index of the entry holding the membership in force once the log ends at `index`. */
  indexAt(index: number): number {
    return this.configurationAt(index).index;
  }

  private configurationAt(index: number): Configuration {
    if (index < this.base.index) {
      let earlier: Configuration | undefined;
      for (const c of this.beforeRestore) if (c.index <= index) earlier = c;
      assert(
        earlier !== undefined,
        () => `membership at ${index} is below what this log knew (${this.base.index})`,
      );
      return earlier;
    }
    let found = this.base;
    for (const c of this.entries) {
      if (c.index > index) break;
      found = c;
    }
    return found;
  }

  /** How many configuration entries of `term` lie above `index` (uncommitted, if it is the commit index). */
  changesAfter(index: number, term: number): number {
    let n = 0;
    for (const c of this.entries) if (c.index > index && c.term === term) n++;
    return n;
  }

  /** `entries` were appended, replacing whatever the log held from entries[0].index on. */
  onAppend(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = present(entries[0], 'the first appended entry').index;
    assert(first > this.base.index, () => `append at ${first} below the snapshot at ${this.base.index}`);
    while (this.entries.length > 0 && present(this.entries.at(-1), 'a configuration').index >= first) {
      this.entries.pop();
    }
    for (const e of entries) if (e.type === 'config') this.push(e);
  }

  /** The log was replaced by a snapshot at `index` whose state had `membership` (chapter 5). */
  onRestore(index: number, term: number, membership: Membership): void {
    this.beforeRestore = [this.base, ...this.entries].filter((c) => c.index < index);
    this.base = { index, term, membership };
    this.entries = [];
  }

  private latest(): Configuration {
    return this.entries.at(-1) ?? this.base;
  }

  private push(e: Entry): void {
    this.entries.push({ index: e.index, term: e.term, membership: decodeMembership(e.data) });
  }
}
