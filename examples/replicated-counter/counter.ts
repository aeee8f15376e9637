// The service's own state machine: a counter. Raft replicates a log of opaque commands; this
// file gives them meaning. It must be deterministic — every replica applies the same committed
// entries in the same order and must reach the same value — so it reads no clock, draws no
// random number and never throws on a command it does not understand (a malformed entry, once
// committed, is in every replica's log: each one skips it alike).

import type { Entry } from 'raftkv/raft';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** The one command: add `by` (any safe integer, negative too). Checked here, before proposing. */
export function encodeIncrement(by: number): Uint8Array {
  if (!Number.isSafeInteger(by)) throw new RangeError(`increment must be a safe integer, got ${by}`);
  return encoder.encode(JSON.stringify({ add: by }));
}

function decodeIncrement(data: Uint8Array): number | null {
  try {
    const v: unknown = JSON.parse(decoder.decode(data));
    if (typeof v !== 'object' || v === null || !('add' in v)) return null;
    return Number.isSafeInteger(v.add) ? (v.add as number) : null;
  } catch {
    return null;
  }
}

export class Counter {
  private constructor(
    private current: number,
    /** The index of the last entry applied: a snapshot of this counter covers the log up to it. */
    private applied: number,
  ) {}

  static empty(): Counter {
    return new Counter(0, 0);
  }

  /** The counter a snapshot holds (its own or one a leader sent). */
  static restore(data: Uint8Array): Counter {
    const v = JSON.parse(decoder.decode(data)) as { value: number; lastApplied: number };
    return new Counter(v.value, v.lastApplied);
  }

  get value(): number {
    return this.current;
  }

  get lastApplied(): number {
    return this.applied;
  }

  /**
   * Applies the next committed entry and returns the value after it. `noop` (a new leader's
   * first entry) and `config` (a membership change, which the core keeps track of) only take
   * their index. An entry a snapshot already covers is skipped.
   */
  apply(entry: Entry): number {
    if (entry.index <= this.applied) return this.current;
    // A gap would mean the driver lost an entry: stop rather than diverge from the other replicas.
    if (entry.index !== this.applied + 1) {
      throw new RangeError(`entry ${entry.index} applied after ${this.applied}: the driver skipped one`);
    }
    this.applied = entry.index;
    if (entry.type === 'command') this.current += decodeIncrement(entry.data) ?? 0;
    return this.current;
  }

  /** Everything needed to continue from here: the value and the index it holds up to. */
  snapshot(): Uint8Array {
    return encoder.encode(JSON.stringify({ value: this.current, lastApplied: this.applied }));
  }
}
