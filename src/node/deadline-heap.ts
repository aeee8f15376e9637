// A binary min-heap of (deadline, id, renewIndex), earliest deadline first: the lease keeper finds
// the leases whose time ran out without looking at the others. Entries are never updated in place:
// a renewal pushes a new entry, and the keeper drops the old one when it comes out (lazy deletion),
// so a renewal costs O(log n) and nothing else.

export interface DeadlineEntry {
  /** Milliseconds on the node's monotonic clock. */
  readonly deadline: number;
  readonly id: number;
  readonly renewIndex: number;
}

export class DeadlineHeap {
  private readonly items: DeadlineEntry[] = [];

  get size(): number {
    return this.items.length;
  }

  clear(): void {
    this.items.length = 0;
  }

  push(entry: DeadlineEntry): void {
    const a = this.items;
    a.push(entry);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (a[parent]!.deadline <= entry.deadline) break;
      a[i] = a[parent]!;
      i = parent;
    }
    a[i] = entry;
  }

  /** The earliest entry, without removing it. */
  peek(): DeadlineEntry | undefined {
    return this.items[0];
  }

  /** Removes and returns the earliest entry. */
  pop(): DeadlineEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    // Sift the last entry down from the root.
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= a.length) break;
      const right = left + 1;
      const child = right < a.length && a[right]!.deadline < a[left]!.deadline ? right : left;
      if (a[child]!.deadline >= last.deadline) break;
      a[i] = a[child]!;
      i = child;
    }
    a[i] = last;
    return top;
  }
}
