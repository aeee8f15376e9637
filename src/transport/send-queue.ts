// The bounded per-peer outbound queue of encoded frames. Raft tolerates message loss, so when the
// queue is full the OLDEST frames are dropped to make room: after an outage the peer first hears
// the freshest terms, heartbeats and entries, and the relative order of what survives is kept.
// Both the count and the bytes are bounded, so a slow or dead peer holds a fixed amount of memory.

export interface SendQueueLimits {
  readonly maxMessages: number;
  readonly maxBytes: number;
}

export class SendQueue {
  private items: (Buffer | undefined)[] = [];
  private head = 0;
  private byteCount = 0;
  /** Frames dropped since creation: evicted to make room, too big to ever fit, or removed by removeWhere. */
  dropped = 0;

  constructor(private readonly limits: SendQueueLimits) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Enqueues `frame`, evicting the oldest frames if needed. Returns false if `frame` itself was dropped. */
  push(frame: Buffer): boolean {
    if (frame.length > this.limits.maxBytes || this.limits.maxMessages < 1) {
      this.dropped++;
      return false;
    }
    while (this.length >= this.limits.maxMessages || this.byteCount + frame.length > this.limits.maxBytes) {
      this.shift();
      this.dropped++;
    }
    this.items.push(frame);
    this.byteCount += frame.length;
    return true;
  }

  shift(): Buffer | undefined {
    if (this.head === this.items.length) return undefined;
    const frame = this.items[this.head]!;
    this.items[this.head] = undefined;
    this.head++;
    this.byteCount -= frame.length;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      // Amortised O(1): drop the consumed prefix once it is most of the array.
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return frame;
  }

  /**
   * Drops the frames `pred` picks, keeping the others in order; they count as dropped. Returns
   * how many were dropped.
   */
  removeWhere(pred: (frame: Buffer) => boolean): number {
    const kept: Buffer[] = [];
    let removed = 0;
    for (let i = this.head; i < this.items.length; i++) {
      const frame = this.items[i]!;
      if (!pred(frame)) kept.push(frame);
      else {
        removed++;
        this.byteCount -= frame.length;
      }
    }
    if (removed === 0) return 0;
    this.items = kept;
    this.head = 0;
    this.dropped += removed;
    return removed;
  }

  /** Discards everything (not counted as dropped: used on shutdown and peer removal). */
  clear(): void {
    this.items = [];
    this.head = 0;
    this.byteCount = 0;
  }
}
