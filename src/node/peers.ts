// Who this node talks to: the members of the configuration in force (the core's membership, which
// carries each member's address), kept in step with the transport. A configuration is in force
// from the moment it is appended (§4.1), so the peers are synced before every batch of messages:
// the leader's first AppendEntries to a member it has just added must find its address.

import { parseHostPort } from '../api/addresses.js';
import type { ClusterMembership, NodeId } from '../raft/index.js';
import { allMembers } from '../raft/index.js';
import type { PeerAddress } from '../transport/index.js';

/** What the peer book needs of a transport. */
export interface PeerDirectory {
  setPeer(id: NodeId, address: PeerAddress): void;
  removePeer(id: NodeId): Promise<void>;
}

export class PeerBook {
  private synced: ClusterMembership | null = null;
  private syncedCommitted: ClusterMembership | null = null;
  private readonly known = new Map<NodeId, string>();
  /** Peers that left, with the cancel of their pending removal. */
  private readonly leaving = new Map<NodeId, () => void>();

  /**
   * `later(fn)` runs fn after a grace period: a peer that leaves is forgotten only then, so the
   * last messages for it (the leader tells a removed member its removal committed) still go out.
   */
  constructor(
    private readonly self: NodeId,
    private readonly transport: PeerDirectory,
    private readonly later: (fn: () => void) => () => void,
    private readonly onBadAddress: (id: NodeId, address: string) => void,
    /** The peers the transport was started with (the bootstrap list, or the cluster a node joins). */
    initial: Readonly<Record<NodeId, string>> = {},
  ) {
    for (const [id, address] of Object.entries(initial)) if (id !== self) this.known.set(id, address);
  }

  /**
   * Adds the members the transport does not know yet, and forgets those that left. A member
   * removed by a configuration not yet committed stays: the leader still replicates to it.
   */
  sync(membership: ClusterMembership, committed: ClusterMembership): void {
    if (membership === this.synced && committed === this.syncedCommitted) return;
    this.synced = membership;
    this.syncedCommitted = committed;
    const members = allMembers(membership);
    for (const id of allMembers(committed)) if (!members.includes(id)) members.push(id);
    for (const id of members) {
      this.leaving.get(id)?.();
      this.leaving.delete(id);
      if (id === this.self) continue;
      const address = membership.addresses[id] ?? committed.addresses[id];
      // A bootstrap membership from an older data dir may name no addresses: keep what we have.
      if (address === undefined || this.known.get(id) === address) continue;
      const parsed = parseHostPort(address);
      if (parsed === null) {
        this.onBadAddress(id, address);
        continue;
      }
      this.transport.setPeer(id, { ...parsed, via: 'http-upgrade' });
      this.known.set(id, address);
    }
    // A joining node knows no membership yet: it keeps the peers it was started with.
    if (members.length === 0) return;
    for (const id of this.known.keys()) {
      if (members.includes(id) || this.leaving.has(id)) continue;
      const cancel = this.later(() => {
        this.leaving.delete(id);
        this.known.delete(id);
        void this.transport.removePeer(id);
      });
      this.leaving.set(id, cancel);
    }
  }

  /** The address the configuration gives `id`, if it names one. */
  addressOf(id: NodeId): string | null {
    if (id === this.self) return this.synced?.addresses[id] ?? null;
    return this.known.get(id) ?? this.synced?.addresses[id] ?? null;
  }
}
