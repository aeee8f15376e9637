// Link faults for fault injection (docs/faults.md): a wrapper around the node's peer transport
// that drops the Raft messages of cut links and delays outgoing ones, as a network partition or a
// slow network would. It works on messages, not connections: the connections stay up and keep
// exchanging their pings, so a healed link carries messages again at once, without the reconnect
// a real partition would need. Only peer messages are affected; client HTTP is not. The
// forwarding frames (proposals a follower hands to the leader, and their answers) are peer
// traffic like the messages: dropped on cut links, delayed in order with the messages.

import type { Message, NodeId } from '../raft/types.js';
import type { ForwardFrame } from './control-frames.js';
import type { ForwardingTransport } from './peer-transport.js';
import type { PeerAddress, TransportEvent } from './types.js';

/** The link faults in force (a subset of the API's Faults). */
export interface LinkFaults {
  readonly dropTo: readonly NodeId[];
  readonly dropFrom: readonly NodeId[];
  readonly isolate: boolean;
  readonly messageDelayMs: number;
}

export const noLinkFaults: LinkFaults = { dropTo: [], dropFrom: [], isolate: false, messageDelayMs: 0 };

/** What the filter wraps: the peer transport's surface the node uses (forwarding, if it has it). */
export interface FilterableTransport extends Partial<ForwardingTransport> {
  send(message: Message): boolean;
  setPeer(id: NodeId, address: PeerAddress): void;
  removePeer(id: NodeId): Promise<void>;
  onMessage(handler: (m: Message) => void): () => void;
  onEvent(listener: (e: TransportEvent) => void): () => void;
  stats(): unknown;
  readonly sendsStoredSnapshots?: boolean;
}

/** The node's clock, for the delays. */
export interface FilterTimer {
  now(): number;
  after(ms: number, fn: () => void): () => void;
}

/** Messages held for one peer by a delay, past which newer ones are dropped (as a full queue would). */
export const maxDelayedPerPeer = 10_000;

/** A message, or a forwarding frame, waiting out its delay. */
interface Delayed {
  readonly message: Message | null;
  readonly forward: ForwardFrame | null;
  readonly due: number;
}

/** Per peer: the messages waiting out their delay, oldest first, and the timer of the first. */
interface DelayQueue {
  readonly items: Delayed[];
  cancel: (() => void) | null;
}

export interface FaultFilterStats {
  /** Outgoing messages dropped by dropTo or isolate (at send, or when their delay ran out). */
  readonly droppedOut: number;
  /** Incoming messages dropped by dropFrom or isolate. */
  readonly droppedIn: number;
  /** Outgoing messages dropped because a peer's delay queue was full. */
  readonly droppedDelayed: number;
  /** Outgoing messages waiting out their delay now. */
  readonly delayedNow: number;
}

export class FaultFilter implements FilterableTransport, ForwardingTransport {
  private faults: LinkFaults = noLinkFaults;
  private readonly delayed = new Map<NodeId, DelayQueue>();
  private droppedOut = 0;
  private droppedIn = 0;
  private droppedDelayed = 0;

  constructor(
    private readonly inner: FilterableTransport,
    private readonly timer: FilterTimer,
  ) {}

  /** As the wrapped transport: a delayed InstallSnapshot is streamed by it all the same. */
  get sendsStoredSnapshots(): boolean {
    return this.inner.sendsStoredSnapshots === true;
  }

  /** The faults from now on. Messages already delayed keep their due time (and their order). */
  set(faults: LinkFaults): void {
    this.faults = faults;
  }

  /**
   * Drops a message to a cut link; delays it when a delay is set, or when earlier messages to the
   * same peer are still delayed (a message never overtakes one sent before it); else sends it.
   * True when it was sent or queued, like the transport's own answer.
   */
  send(message: Message): boolean {
    if (this.cutTo(message.to)) {
      this.droppedOut++;
      return false;
    }
    const queue = this.delayed.get(message.to);
    const delay = this.faults.messageDelayMs;
    if (delay <= 0 && queue === undefined) return this.inner.send(message);
    return this.delay(message.to, message, null, delay);
  }

  /**
   * Not over a link cut either way: a proposal handed over needs its answer back (the node
   * forwards over HTTP instead, and fault injection refuses that at once, as documented).
   */
  canForwardTo(peer: NodeId): boolean {
    if (this.cutTo(peer) || this.cutFrom(peer)) return false;
    return this.inner.canForwardTo?.(peer) ?? false;
  }

  /** Like send(): dropped on a cut link, delayed in order with the messages to the same peer. */
  sendForward(to: NodeId, frame: ForwardFrame): boolean {
    if (this.inner.sendForward === undefined) return false;
    if (this.cutTo(to)) {
      this.droppedOut++;
      return false;
    }
    const delay = this.faults.messageDelayMs;
    if (delay <= 0 && !this.delayed.has(to)) return this.inner.sendForward(to, frame);
    return this.delay(to, null, frame, delay);
  }

  /** The handler sees only the frames of links not cut. */
  onForward(handler: (from: NodeId, frame: ForwardFrame) => void): () => void {
    if (this.inner.onForward === undefined) return () => {};
    return this.inner.onForward((from, frame) => {
      if (this.cutFrom(from)) {
        this.droppedIn++;
        return;
      }
      handler(from, frame);
    });
  }

  setPeer(id: NodeId, address: PeerAddress): void {
    this.inner.setPeer(id, address);
  }

  removePeer(id: NodeId): Promise<void> {
    const queue = this.delayed.get(id);
    queue?.cancel?.();
    this.delayed.delete(id);
    return this.inner.removePeer(id);
  }

  /** The handler sees only the messages of links not cut. */
  onMessage(handler: (m: Message) => void): () => void {
    return this.inner.onMessage((m) => {
      if (this.cutFrom(m.from)) {
        this.droppedIn++;
        return;
      }
      handler(m);
    });
  }

  onEvent(listener: (e: TransportEvent) => void): () => void {
    return this.inner.onEvent(listener);
  }

  /** The transport's stats, with the filter's own counts under `faults`. */
  stats(): unknown {
    const inner = this.inner.stats();
    const base = typeof inner === 'object' && inner !== null ? inner : {};
    return { ...base, faults: this.filterStats() };
  }

  filterStats(): FaultFilterStats {
    let delayedNow = 0;
    for (const q of this.delayed.values()) delayedNow += q.items.length;
    return {
      droppedOut: this.droppedOut,
      droppedIn: this.droppedIn,
      droppedDelayed: this.droppedDelayed,
      delayedNow,
    };
  }

  /** Cancels every delay timer; the messages still waiting are dropped (the node is stopping). */
  close(): void {
    for (const q of this.delayed.values()) q.cancel?.();
    this.delayed.clear();
  }

  private cutTo(peer: NodeId): boolean {
    return this.faults.isolate || this.faults.dropTo.includes(peer);
  }

  private cutFrom(peer: NodeId): boolean {
    return this.faults.isolate || this.faults.dropFrom.includes(peer);
  }

  private delay(to: NodeId, message: Message | null, forward: ForwardFrame | null, delayMs: number): boolean {
    let queue = this.delayed.get(to);
    if (queue === undefined) {
      queue = { items: [], cancel: null };
      this.delayed.set(to, queue);
    }
    if (queue.items.length >= maxDelayedPerPeer) {
      this.droppedDelayed++;
      return false;
    }
    const last = queue.items.at(-1);
    // Never before the message queued ahead of it, even if the delay was shortened since.
    const due = Math.max(this.timer.now() + Math.max(0, delayMs), last?.due ?? 0);
    queue.items.push({ message, forward, due });
    if (queue.cancel === null) this.arm(to, queue);
    return true;
  }

  /** Sets the timer for the first message of the queue. */
  private arm(peer: NodeId, queue: DelayQueue): void {
    const first = queue.items[0];
    if (first === undefined) {
      queue.cancel = null;
      this.delayed.delete(peer);
      return;
    }
    queue.cancel = this.timer.after(Math.max(0, first.due - this.timer.now()), () => {
      queue.cancel = null;
      this.release(peer, queue);
    });
  }

  /** Sends every message whose delay has run out, in order (dropping those to a link cut since). */
  private release(peer: NodeId, queue: DelayQueue): void {
    if (this.delayed.get(peer) !== queue) return;
    const now = this.timer.now();
    while (queue.items.length > 0 && queue.items[0]!.due <= now) {
      const { message, forward } = queue.items.shift()!;
      if (this.cutTo(peer)) this.droppedOut++;
      else if (message !== null) this.inner.send(message);
      else if (forward !== null) this.inner.sendForward?.(peer, forward);
    }
    this.arm(peer, queue);
  }
}
