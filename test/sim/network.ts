// Goal: a simulated network that does everything the thesis's system model allows (§3.1: messages
// may be delayed, dropped, duplicated and reordered; partitions may split the cluster) and nothing
// else (no corruption, no forgery), every decision drawn from the scenario's seed. Time is ticks:
// a message sent during tick t is delivered at tick t + delay with 1 ≤ delay ≤ maxDelay; random
// delays are what reorder messages. Links are directed, so one-way (asymmetric) partitions exist.

import type { Message, NodeId } from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import { cloneMessage, describeMessage, type Tracer } from './trace.js';

export interface LinkFaults {
  /** Delay in ticks, drawn uniformly in [minDelay, maxDelay]; minDelay ≥ 1. */
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  dupRate: number;
}

export const reliableLinks: LinkFaults = { minDelay: 1, maxDelay: 1, dropRate: 0, dupRate: 0 };

interface InFlight {
  readonly message: Message;
  readonly sentAt: number;
}

function link(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

export class SimNetwork {
  faults: LinkFaults;
  /**
   * Scenario tests' scalpel: return false to drop one particular message (e.g. "S3 must not get
   * the entry at index 3"), so a figure of the thesis can be reproduced step by step.
   */
  filter: ((m: Message) => boolean) | null = null;
  private readonly buckets = new Map<number, InFlight[]>();
  private readonly blocked = new Set<string>();
  private inFlightCount = 0;
  sent = 0;
  delivered = 0;
  dropped = 0;

  constructor(
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    faults: LinkFaults = reliableLinks,
  ) {
    this.faults = { ...faults };
  }

  send(m: Message, now: number): void {
    this.sent++;
    if (this.filter && !this.filter(m)) {
      this.drop(m, 'filtered');
      return;
    }
    if (this.blocked.has(link(m.from, m.to))) {
      this.drop(m, 'partitioned');
      return;
    }
    if (this.rng.chance(this.faults.dropRate)) {
      this.drop(m, 'lost');
      return;
    }
    const copies = this.rng.chance(this.faults.dupRate) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.faults.minDelay, Math.max(this.faults.minDelay, this.faults.maxDelay));
      const at = now + delay;
      let bucket = this.buckets.get(at);
      if (!bucket) {
        bucket = [];
        this.buckets.set(at, bucket);
      }
      bucket.push({ message: cloneMessage(m), sentAt: now });
      this.inFlightCount++;
      if (this.tracer.on) {
        this.tracer.event(i === 0 ? 'send' : 'dup', `${describeMessage(m)} (arrives t=${at})`);
      }
    }
  }

  /**
   * Messages due at tick `now`, in sending order. A partition that started while a message was
   * in flight cuts it too: links are checked again on delivery.
   */
  takeDue(now: number): Message[] {
    const bucket = this.buckets.get(now);
    if (!bucket) return [];
    this.buckets.delete(now);
    this.inFlightCount -= bucket.length;
    const out: Message[] = [];
    for (const f of bucket) {
      if (this.blocked.has(link(f.message.from, f.message.to))) {
        this.drop(f.message, 'partitioned in flight');
        continue;
      }
      out.push(f.message);
    }
    return out;
  }

  inFlight(): number {
    return this.inFlightCount;
  }

  /** Drops every message in flight: used to model "faults stop" for liveness checks. */
  clear(): void {
    this.buckets.clear();
    this.inFlightCount = 0;
  }

  /** Cuts the link from → to (one way). */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(link(from, to));
  }

  unblock(from: NodeId, to: NodeId): void {
    this.blocked.delete(link(from, to));
  }

  isBlocked(from: NodeId, to: NodeId): boolean {
    return this.blocked.has(link(from, to));
  }

  /** Symmetric partition: no message crosses between the groups, in either direction. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.block(x, y);
      }
    }
  }

  /** Isolates one node in both directions. */
  isolate(id: NodeId, all: readonly NodeId[]): void {
    for (const other of all) {
      if (other === id) continue;
      this.block(id, other);
      this.block(other, id);
    }
  }

  hasPartition(): boolean {
    return this.blocked.size > 0;
  }

  describePartition(): string {
    return [...this.blocked].sort().join(' ');
  }

  heal(): void {
    this.blocked.clear();
  }

  private drop(m: Message, why: string): void {
    this.dropped++;
    if (this.tracer.on) this.tracer.event('drop', `${describeMessage(m)} (${why})`);
  }
}
