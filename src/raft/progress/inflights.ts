// The AppendEntries a leader has sent to one follower and not yet seen acknowledged, bounded in
// count and bytes: the pipeline window of the replicate state.

import { present } from '../../assert.js';

export class Inflights {
  /** Last index of each message in flight, in send order (indexes increase). */
  private readonly indexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    private readonly countMax: number,
    private readonly bytesMax: number,
  ) {}

  add(lastIndex: number, bytes: number): void {
    this.indexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index ≤ index: the follower acknowledged up to it. */
  freeThrough(index: number): void {
    while (
      this.head < this.indexes.length &&
      present(this.indexes[this.head], 'an in-flight index') <= index
    ) {
      this.bytes -= present(this.sizes[this.head], 'an in-flight size');
      this.head++;
    }
    // Compact occasionally so the arrays do not grow with the number of messages ever sent.
    if (this.head > 64 && this.head * 2 > this.indexes.length) {
      this.indexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
  }

  freeFirstOne(): void {
    if (this.head < this.indexes.length)
      this.freeThrough(present(this.indexes[this.head], 'the oldest in-flight index'));
  }

  count(): number {
    return this.indexes.length - this.head;
  }

  full(): boolean {
    return this.count() >= this.countMax || this.bytes >= this.bytesMax;
  }

  reset(): void {
    this.indexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
