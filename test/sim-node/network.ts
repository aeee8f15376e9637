// Goal: the peer network of a simulated cluster, as hostile as the thesis's system model allows
// (§3.1): messages are delayed, dropped, duplicated and reordered, and partitions (one-way too)
// cut links; nothing is corrupted or forged. Each node incarnation gets its own MessageTransport;
// messages go through the real wire codec (encoded when sent, decoded when delivered, so no
// object is shared between two nodes) and are delivered by the scheduler to whichever
// incarnation of the addressee is running then. A crashed incarnation sends nothing more.
//
// A message that arrives for a paused incarnation (see virtual-clock.ts) is either held and
// handed over on resume, in arrival order (TCP buffered it), or lost (the connection was reset
// meanwhile and the sender's queue went with it): the cluster chooses, per pause, from the seed.

import type { MessageTransport } from '../../src/node/clock.js';
import type { Message, NodeId } from '../../src/raft/index.js';
import type { Prng } from '../../src/random.js';
import { decodeMessage, encodeMessage, type TransportEvent } from '../../src/transport/index.js';
import type { Tracer } from './trace.js';
import { Domain, type Scheduler } from './virtual-clock.js';

export interface NetFaults {
  /** Delay in virtual ms, uniform in [minDelay, maxDelay]; random delays reorder messages. */
  minDelay: number;
  maxDelay: number;
  dropRate: number;
  /** Probability that a message is delivered twice (each copy with its own delay). */
  dupRate: number;
}

export interface NetStats {
  sent: number;
  delivered: number;
  dropped: number;
  duplicated: number;
  /** Arrived while the addressee was paused: handed over on resume, or lost. */
  heldWhilePaused: number;
  lostWhilePaused: number;
}

function link(from: NodeId, to: NodeId): string {
  return `${from}>${to}`;
}

function describe(m: Message): string {
  return `${m.from}->${m.to} ${m.type} t${m.term}`;
}

export class SimNetwork {
  readonly stats: NetStats = {
    sent: 0,
    delivered: 0,
    dropped: 0,
    duplicated: 0,
    heldWhilePaused: 0,
    lostWhilePaused: 0,
  };
  private readonly blocked = new Set<string>();
  /** Nodes whose messages are lost, not held, while they are paused. */
  private readonly losesWhilePaused = new Set<NodeId>();
  private readonly receivers = new Map<NodeId, (m: Message) => void>();
  private readonly domain = new Domain('network');
  /** A test's own loss rule: a message for which it returns true is lost (besides dropRate). */
  lose: ((m: Message) => boolean) | null = null;

  constructor(
    private readonly sched: Scheduler,
    private readonly rng: Prng,
    private readonly tracer: Tracer,
    public faults: NetFaults,
  ) {}

  /** The transport of one incarnation of node `id`; dead once `owner` is. */
  transportFor(id: NodeId, owner: Domain): MessageTransport {
    return {
      send: (m) => {
        if (!owner.alive) return false;
        this.send(m);
        return true;
      },
      onMessage: (handler) => {
        const h = (m: Message): void => {
          if (!owner.alive) return;
          if (!owner.paused) {
            handler(m);
          } else if (this.losesWhilePaused.has(id)) {
            this.stats.lostWhilePaused++;
            this.drop(m, 'addressee paused, connection reset');
          } else {
            this.stats.heldWhilePaused++;
            owner.runOrHold(() => handler(m));
          }
        };
        this.receivers.set(id, h);
        return () => {
          if (this.receivers.get(id) === h) this.receivers.delete(id);
        };
      },
      onEvent: (_listener: (e: TransportEvent) => void) => () => {},
      // Simulated links are by id: there are no addresses to learn or forget.
      setPeer: () => {},
      removePeer: async () => {},
      stats: () => ({ simulated: true }),
    };
  }

  /** The node is down: messages arriving for it are lost until an incarnation listens again. */
  detach(id: NodeId): void {
    this.receivers.delete(id);
  }

  /** While node `id` is paused, messages for it are lost (true) or held until it resumes. */
  setLossWhilePaused(id: NodeId, lose: boolean): void {
    if (lose) this.losesWhilePaused.add(id);
    else this.losesWhilePaused.delete(id);
  }

  /** Symmetric partition: no message crosses between the groups. */
  partition(groups: readonly (readonly NodeId[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.blocked.add(link(x, y));
      }
    }
  }

  /** Cuts one direction only. */
  block(from: NodeId, to: NodeId): void {
    this.blocked.add(link(from, to));
  }

  /**
   * Cuts every link to and from `id`; returns a function that restores only the links this cut
   * (another fault's cuts stay).
   */
  isolate(id: NodeId, peers: readonly NodeId[]): () => void {
    const added: string[] = [];
    for (const p of peers) {
      if (p === id) continue;
      for (const l of [link(id, p), link(p, id)]) {
        if (this.blocked.has(l)) continue;
        this.blocked.add(l);
        added.push(l);
      }
    }
    return () => {
      for (const l of added) this.blocked.delete(l);
    };
  }

  heal(): void {
    this.blocked.clear();
  }

  describePartition(): string {
    return [...this.blocked].join(' ');
  }

  private send(m: Message): void {
    this.stats.sent++;
    if (this.blocked.has(link(m.from, m.to))) {
      this.drop(m, 'partitioned');
      return;
    }
    if (this.lose?.(m) === true || this.rng.chance(this.faults.dropRate)) {
      this.drop(m, 'lost');
      return;
    }
    const bytes = encodeMessage(m);
    const copies = this.rng.chance(this.faults.dupRate) ? 2 : 1;
    if (copies === 2) this.stats.duplicated++;
    for (let i = 0; i < copies; i++) {
      const delay = this.rng.int(this.faults.minDelay, Math.max(this.faults.minDelay, this.faults.maxDelay));
      if (this.tracer.net) this.tracer.event(i === 0 ? 'send' : 'dup', `${describe(m)} +${delay}ms`);
      this.sched.after(delay, () => this.deliver(m.from, m.to, bytes), this.domain);
    }
  }

  private deliver(from: NodeId, to: NodeId, bytes: Uint8Array): void {
    const m = decodeMessage(bytes);
    if (this.blocked.has(link(from, to))) {
      this.drop(m, 'partitioned in flight');
      return;
    }
    const h = this.receivers.get(to);
    if (h === undefined) {
      this.drop(m, 'addressee down');
      return;
    }
    this.stats.delivered++;
    if (this.tracer.net) this.tracer.event('deliver', describe(m));
    h(m);
  }

  private drop(m: Message, why: string): void {
    this.stats.dropped++;
    if (this.tracer.net) this.tracer.event('drop', `${describe(m)} (${why})`);
  }
}
