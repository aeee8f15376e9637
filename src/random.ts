// The project's one seeded pseudo-random generator, for everything that must replay from a seed:
// the simulators, the simulated disk's crash outcomes, the Jepsen runner's fault schedules and
// clients, and test fixtures. The core never draws on its own; it is handed a `Random`, which this
// class is.
//
// sfc32 (Chris Doty-Humphrey's Small Fast Counting generator) seeded through splitmix32: 32-bit
// integer arithmetic only, so the stream is identical on every platform and Node version. The
// simulators' recorded seeds (test/sim/failing-seeds.txt, the seeds tests name) depend on this
// exact stream: changing the algorithm, the seeding or the order of draws in a method changes
// what every seed means.

/** splitmix32: spreads a small seed (1, 2, 3, ...) over the whole 32-bit state space. */
function splitmix32(state: number): { next: number; value: number } {
  const next = (state + 0x9e3779b9) | 0;
  let z = next;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  z ^= z >>> 16;
  return { next, value: z >>> 0 };
}

/**
 * A seeded generator. It has the core's `Random` shape (`nextInt`) without naming it, so the core
 * can hand it out (raftkv/raft exports it) without the two importing each other.
 */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed | 0;
    const words: number[] = [];
    for (let i = 0; i < 4; i++) {
      const r = splitmix32(s);
      s = r.next;
      words.push(r.value);
    }
    this.a = words[0]!;
    this.b = words[1]!;
    this.c = words[2]!;
    this.d = words[3]! | 1;
    // Discard the first outputs: sfc32 mixes poorly during its first few rounds.
    for (let i = 0; i < 12; i++) this.nextU32();
  }

  /**
   * A generator whose stream depends on `seed` and `label` only (FNV-1a of the label over the
   * seed), so that separate streams (the nemesis, each client) follow from one run seed and adding
   * a client does not reshuffle the fault schedule.
   */
  static derive(seed: number, label: string): Prng {
    let h = (seed ^ 0x9e3779b9) >>> 0;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
    return new Prng(h);
  }

  /** The next raw 32-bit output, unsigned. */
  nextU32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    return this.nextU32() / 4294967296;
  }

  /** An integer in [0, maxExclusive); the `Random` the core consumes. */
  nextInt(maxExclusive: number): number {
    if (!Number.isSafeInteger(maxExclusive) || maxExclusive <= 0) {
      throw new RangeError(`nextInt(${maxExclusive}): bound must be a positive integer`);
    }
    return Math.floor(this.next() * maxExclusive);
  }

  /** An integer in [lo, hi], both inclusive. */
  int(lo: number, hi: number): number {
    return lo + this.nextInt(hi - lo + 1);
  }

  /** A float in [lo, hi). */
  between(lo: number, hi: number): number {
    return lo + this.next() * (hi - lo);
  }

  /** True with probability p. Draws even when p is 0 or 1 so that rates never shift the stream. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.nextInt(items.length)]!;
  }

  /** A shuffled copy (Fisher–Yates); `items` is left as it was. */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const tmp = out[i]!;
      out[i] = out[j]!;
      out[j] = tmp;
    }
    return out;
  }

  /**
   * An independent stream drawn from this one. Components (network, faults, clients, each node's
   * core) get their own fork so that, e.g., one more client draw does not change which messages
   * the network drops: a replay stays comparable when a scenario is edited slightly.
   */
  fork(): Prng {
    return new Prng(this.nextU32() ^ Math.imul(this.nextU32(), 0x27d4eb2d));
  }
}
