// Testing the counter deterministically: three replicas (the Replica the node runs), each on a
// simulated disk, an in-memory network that reorders and loses messages, a client incrementing at
// whoever leads, a power loss at the leader; time is a loop of ticks. All chance is drawn from one
// seed, so a failing seed replays exactly.

import { type Message, type NodeId, Prng } from 'raftkv/raft';
import { SimDisk } from 'raftkv/storage';
import { encodeIncrement } from './counter.js';
import { Replica } from './replica.js';

export interface SimulationResult {
  /** Each replica's counter once the faults have stopped and the cluster has settled. */
  readonly values: Readonly<Record<NodeId, number>>;
  /** Increments applied in the term they were proposed in: each is in every final value. */
  readonly acknowledged: number;
  /** Increments proposed but never seen applied in their term (their leader lost its post first). */
  readonly unknown: number;
}

export async function simulate(seed: number, ticks = 300, dropRate = 0.2): Promise<SimulationResult> {
  const rng = new Prng(seed);
  const ids: NodeId[] = ['a', 'b', 'c'];
  const disks = new Map(ids.map((id) => [id, new SimDisk(rng.fork())]));
  const open = (id: NodeId): Promise<Replica> =>
    Replica.open({
      id,
      members: ids,
      clusterId: 'sim',
      disk: disks.get(id)!,
      dir: `/${id}`,
      random: rng.fork(),
      snapshotEvery: 10, // often, so that lagging replicas are sent snapshots
      snapshotKeep: 3,
    });
  const replicas = new Map<NodeId, Replica>();
  for (const id of ids) replicas.set(id, await open(id));
  let network: Message[] = [];
  const pending = new Map<string, number>(); // `index/term` → by, until applied
  const valueAt = new Map<number, number>(); // index → the counter after it, on every replica
  let acknowledged = 0;
  const crashAt = Math.floor(ticks / 3);
  let down: NodeId | null = null;

  for (let t = 0; t < 2 * ticks; t++) {
    const faulty = t < ticks; // then as many ticks without faults to settle
    const arriving = rng.shuffle(network);
    network = [];
    for (const m of arriving) if (!(faulty && rng.chance(dropRate))) replicas.get(m.to)?.raw.step(m);
    for (const r of replicas.values()) r.raw.tick();
    const leader = [...replicas.values()].find((r) => r.raw.status().role === 'leader');
    if (faulty && leader !== undefined && t % 2 === 0) {
      const by = rng.int(1, 9);
      const p = leader.raw.propose(encodeIncrement(by));
      if (p.kind === 'accepted') pending.set(`${p.index}/${p.term}`, by);
    }
    if (t === crashAt) {
      // Power loss at the leader (if any): what it had not fsynced may be lost or torn.
      down = [...replicas].find(([, r]) => r === leader)?.[0] ?? rng.pick(ids);
      disks.get(down)!.crash();
      replicas.delete(down); // messages to it are lost meanwhile
    }
    if (t === crashAt + 80 && down !== null) {
      replicas.set(down, await open(down)); // back, from what its disk kept; far behind by now
      down = null;
    }
    for (const [id, r] of replicas) {
      while (r.raw.hasReady()) {
        const out = await r.handleReady((m) => network.push(m));
        for (const a of out.applied) {
          const before = valueAt.get(a.index);
          if (before !== undefined && before !== a.value)
            throw new Error(`seed ${seed}: ${id} applied ${a.index} as ${a.value}, another as ${before}`);
          valueAt.set(a.index, a.value);
          acknowledged += pending.get(`${a.index}/${a.term}`) ?? 0;
          pending.delete(`${a.index}/${a.term}`);
        }
      }
      r.raw.checkInvariants(); // the core's own structural checks
    }
  }
  const values = Object.fromEntries([...replicas].map(([id, r]) => [id, r.counter.value]));
  return { values, acknowledged, unknown: [...pending.values()].reduce((a, b) => a + b, 0) };
}
