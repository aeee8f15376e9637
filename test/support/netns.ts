// Real network partitions for the real-process tests, on the Jepsen runner's network
// (src/jepsen/netns.ts): one network namespace per node on one bridge, a partition made of
// iptables DROP rules inside the namespaces (packets dropped, as in a real partition: no resets).
// The test process lives in the root namespace and always reaches every node.
//
// The names carry this process's id ("rkvt<pid in base 36>-"), so tests in several processes, and
// a Jepsen run ("rkvj-"), never share one; leftovers of a test process that died without its
// cleanup are swept by the next test that builds a network.

import {
  linksStartingWith,
  Network,
  namespacesStartingWith,
  networkSupportProblem,
  pidAlive,
  sweep,
} from '../../src/jepsen/netns.js';
import type { AfterHook, NodeSpec } from './node-process.js';
import type { Prng } from './random.js';

const family = 'rkvt';

/** Why real partitions cannot be made here (not root, no `ip netns`, no iptables), or null. */
export function netnsUnavailable(): string | null {
  return networkSupportProblem();
}

export class NetnsNetwork {
  /** Every node's port (each node has its own address). */
  static readonly port = 7001;
  private readonly ids: string[] = [];

  private constructor(private readonly net: Network) {}

  /** Builds the namespaces and links (cleanup registered on `t` first); the subnet comes from `prng`. */
  static async create(t: AfterHook, size: number, prng: Prng): Promise<NetnsNetwork> {
    sweepAbandoned();
    const subnet = `10.${prng.int(100, 199)}.${prng.int(0, 255)}`;
    const net = new Network(size, subnet, `${family}${process.pid.toString(36)}-`);
    t.after(() => net.teardown());
    net.setup();
    return new NetnsNetwork(net);
  }

  get size(): number {
    return this.net.nodes;
  }

  /** Where node `id` (the `index`th, from 0) runs: its namespace and its address on the bridge. */
  nodeSpec(id: string, index: number): NodeSpec {
    this.ids[index] = id;
    const address = this.net.address(index + 1);
    return {
      id,
      peerHost: address,
      peerPort: NetnsNetwork.port,
      clientHost: address,
      clientPort: NetnsNetwork.port,
      netns: this.net.namespace(index + 1),
    };
  }

  private numberOf(id: string): number {
    const i = this.ids.indexOf(id);
    if (i < 0) throw new Error(`no node ${id} in this network`);
    return i + 1;
  }

  /** Cuts the nodes `ids` off from the others, both ways (they still reach each other). */
  async partition(ids: readonly string[]): Promise<void> {
    const inside = ids.map((id) => this.numberOf(id));
    const outside = this.ids.map((id) => this.numberOf(id)).filter((i) => !inside.includes(i));
    this.net.cut(inside, outside);
  }

  /** Puts every node back on one network. */
  async heal(): Promise<void> {
    this.net.heal();
  }
}

/** Removes the networks of test processes that are gone (killed before their cleanup ran). */
function sweepAbandoned(): void {
  const owners = new Set(
    [...namespacesStartingWith(family), ...linksStartingWith(family)]
      .map((name) => /^rkvt([0-9a-z]+)-/.exec(name)?.[1])
      .filter((owner): owner is string => owner !== undefined),
  );
  for (const owner of owners) {
    const pid = Number.parseInt(owner, 36);
    if (pid !== process.pid && !pidAlive(pid)) sweep(`${family}${owner}-`);
  }
}
