// A minimal synchronous cluster for the core's unit tests: every node's Ready is carried out in
// the documented order, messages go into one queue that the test delivers, drops or cuts.
// (The seeded, faulty network lives in test/sim/; this one is for readable step-by-step tests.)

import {
  defaultRaftConfig,
  type Entry,
  initialMembership,
  MemoryLogStorage,
  type Message,
  type NodeId,
  type RaftConfig,
  RawNode,
  type ReadFailure,
  type ReadState,
} from '../../src/raft/index.js';
import { Prng } from '../../src/random.js';

export interface TestNode {
  id: NodeId;
  raw: RawNode;
  storage: MemoryLogStorage;
  applied: Entry[];
  readStates: ReadState[];
  readFailures: ReadFailure[];
}

export class Cluster {
  readonly nodes = new Map<NodeId, TestNode>();
  queue: Message[] = [];
  /** Messages delivered, by type, since the test last cleared it. */
  readonly sentByType = new Map<string, number>();
  /** Pairs "a->b" whose messages are dropped. */
  readonly cut = new Set<string>();
  /** Messages for which this returns true are dropped. */
  drop: ((m: Message) => boolean) | null = null;
  /** Seeds each node's PRNG (election timeouts), one after another from the cluster's seed. */
  private seed: number;

  constructor(
    readonly ids: NodeId[],
    readonly overrides: Partial<RaftConfig> = {},
    seed = 1,
  ) {
    this.seed = seed;
    for (const id of ids) this.start(id, new MemoryLogStorage(initialMembership(ids)));
  }

  /** A brand-new node with an empty log and no membership: it waits to hear from a leader. */
  addNode(id: NodeId): TestNode {
    this.ids.push(id);
    return this.start(id, new MemoryLogStorage(initialMembership([])));
  }

  start(id: NodeId, storage: MemoryLogStorage, applied = 0): TestNode {
    const config: RaftConfig = { ...defaultRaftConfig, ...this.overrides, id, lastApplied: applied };
    const node: TestNode = {
      id,
      raw: new RawNode(config, storage, new Prng(this.seed++)),
      storage,
      applied: [],
      readStates: [],
      readFailures: [],
    };
    this.nodes.set(id, node);
    return node;
  }

  /** Crash: the node loses everything not in storage. Restart rebuilds it from storage. */
  restart(id: NodeId): TestNode {
    const old = this.node(id);
    this.queue = this.queue.filter((m) => m.to !== id);
    return this.start(id, old.storage, 0);
  }

  node(id: NodeId): TestNode {
    const n = this.nodes.get(id);
    if (!n) throw new Error(`no node ${id}`);
    return n;
  }

  isolate(id: NodeId): void {
    for (const other of this.ids) {
      if (other === id) continue;
      this.cut.add(`${id}->${other}`);
      this.cut.add(`${other}->${id}`);
    }
  }

  heal(): void {
    this.cut.clear();
  }

  /** Carries out every pending Ready in THE ORDER of types.ts. */
  processReady(): boolean {
    let any = false;
    for (const n of this.nodes.values()) {
      while (n.raw.hasReady()) {
        any = true;
        const rd = n.raw.ready();
        this.queue.push(...rd.messages);
        if (rd.snapshot) {
          n.storage.applySnapshot(rd.snapshot);
          n.applied = [];
        }
        n.storage.append(rd.entries);
        if (rd.hardState) n.storage.setHardState(rd.hardState);
        this.queue.push(...rd.messagesAfterPersist);
        n.applied.push(...rd.committedEntries);
        n.readStates.push(...rd.readStates);
        n.readFailures.push(...rd.readFailures);
        n.raw.advance(rd);
        n.raw.checkInvariants();
      }
    }
    return any;
  }

  /** Delivers messages until the cluster is quiet; returns how many were delivered. */
  stabilize(limit = 100_000): number {
    let delivered = 0;
    for (;;) {
      this.processReady();
      if (this.queue.length === 0) return delivered;
      const batch = this.queue;
      this.queue = [];
      for (const m of batch) {
        if (this.cut.has(`${m.from}->${m.to}`) || this.drop?.(m)) continue;
        const to = this.nodes.get(m.to);
        if (!to) continue;
        this.sentByType.set(m.type, (this.sentByType.get(m.type) ?? 0) + 1);
        to.raw.step(m);
        to.raw.checkInvariants();
        if (++delivered > limit) throw new Error('cluster did not stabilize');
      }
    }
  }

  tick(id: NodeId, times = 1): void {
    for (let i = 0; i < times; i++) this.node(id).raw.tick();
  }

  tickAll(times = 1): void {
    for (let i = 0; i < times; i++) {
      for (const n of this.nodes.values()) n.raw.tick();
      this.stabilize();
    }
  }

  /** Makes `id` campaign now (as if its election timer fired) and settles the cluster. */
  elect(id: NodeId): void {
    this.node(id).raw.campaign();
    this.stabilize();
  }

  leader(): TestNode | null {
    for (const n of this.nodes.values()) if (n.raw.status().role === 'leader') return n;
    return null;
  }

  leaderAmong(ids: NodeId[]): NodeId {
    for (const id of ids) if (this.node(id).raw.status().role === 'leader') return id;
    throw new Error(`no leader among ${ids.join(',')}`);
  }

  propose(id: NodeId, text: string): ReturnType<RawNode['propose']> {
    const r = this.node(id).raw.propose(new TextEncoder().encode(text));
    this.stabilize();
    return r;
  }

  appliedTexts(id: NodeId): string[] {
    return this.node(id)
      .applied.filter((e) => e.type === 'command')
      .map((e) => new TextDecoder().decode(e.data));
  }
}
