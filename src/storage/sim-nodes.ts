// SimDisk's in-memory files and directories, each with its durable state beside its current one.

export type Node = SimFile | SimDir;

export class SimFile {
  readonly kind = 'file';
  data: Uint8Array = new Uint8Array(0);
  size = 0;
  /** Durable content is data[0, durableLen) unless durableCopy is set (after a truncate). */
  durableLen = 0;
  durableCopy: Uint8Array | null = null;
  /** Bumped by every truncate, so a held sync can tell whether the bytes it captured changed. */
  generation = 0;

  append(bytes: Uint8Array): void {
    const need = this.size + bytes.length;
    if (need > this.data.length) {
      const next = new Uint8Array(Math.max(need, this.data.length * 2, 64));
      next.set(this.data.subarray(0, this.size));
      this.data = next;
    }
    this.data.set(bytes, this.size);
    this.size = need;
  }

  truncate(size: number): void {
    if (size < this.durableLen && this.durableCopy === null) {
      this.durableCopy = this.data.slice(0, this.durableLen);
    }
    if (size > this.size) this.append(new Uint8Array(size - this.size));
    this.size = size;
    this.generation++;
  }

  reset(content: Uint8Array): void {
    this.data = content;
    this.size = content.length;
    this.durableLen = content.length;
    this.durableCopy = null;
    this.generation++;
  }
}

export interface DirOp {
  readonly seq: number;
  readonly apply: (entries: Map<string, Node>) => void;
}

export class SimDir {
  readonly kind = 'dir';
  entries = new Map<string, Node>();
  durable = new Map<string, Node>();
  pending: DirOp[] = [];
}
