// The replicated lease table: each lease's TTL, the index of its last renewal, and the keys tied
// to it. Time is not here — the state machine knows no clock. When a lease runs out is decided
// by the leader's timer (src/node/lease-keeper.ts), which proposes an expiry through the log, so
// every replica deletes the lease's keys at the same entry.

export class Lease {
  /** The keys tied to the lease (deleted with it). */
  readonly keys = new Set<string>();

  constructor(
    /** The index of the entry that granted it. */
    readonly id: number,
    /** Seconds. */
    readonly ttl: number,
    /** The index of its grant or latest keepalive: an expiry counting from an older one is void. */
    public renewIndex: number,
  ) {}
}

/** What a snapshot keeps of a lease (its keys are found from the keys' records). */
export interface LeaseRecord {
  readonly id: number;
  readonly ttl: number;
  readonly renewIndex: number;
}

export class LeaseTable {
  private readonly leases = new Map<number, Lease>();

  /** Rebuilds the table from a snapshot's records (keys are attached afterwards). */
  static fromRecords(records: Iterable<LeaseRecord>): LeaseTable {
    const t = new LeaseTable();
    for (const r of records) t.leases.set(r.id, new Lease(r.id, r.ttl, r.renewIndex));
    return t;
  }

  get size(): number {
    return this.leases.size;
  }

  get(id: number): Lease | undefined {
    return this.leases.get(id);
  }

  grant(id: number, ttl: number): Lease {
    const lease = new Lease(id, ttl, id);
    this.leases.set(id, lease);
    return lease;
  }

  delete(id: number): void {
    this.leases.delete(id);
  }

  /** Every lease, in id order (grant order). */
  all(): IterableIterator<Lease> {
    return this.leases.values();
  }

  /** A copy of the records, in id order, unaffected by later changes. */
  records(): LeaseRecord[] {
    return [...this.leases.values()].map(({ id, ttl, renewIndex }) => ({ id, ttl, renewIndex }));
  }
}
