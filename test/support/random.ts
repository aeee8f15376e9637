// Seeded randomness for the real-process tests: fault schedules that a seed replays.

import { Rng } from '../../src/jepsen/rng.js';

/**
 * The seeded PRNG of the fault schedules (the Jepsen runner's mulberry32): the same seed gives the
 * same schedule. Integer ranges here are inclusive.
 */
export class Prng {
  private readonly rng: Rng;
  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.rng.next();
  }
  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(items: readonly T[]): T {
    return this.rng.pick(items);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The seed from `envName` if set (to replay a run), else a fresh random one. */
export function seedFromEnv(envName: string): number {
  const raw = process.env[envName];
  if (raw !== undefined && raw !== '') {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) throw new Error(`${envName} must be a non-negative integer`);
    return n >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 31);
}

/** A positive integer from `envName`, or `fallback`. */
export function intFromEnv(envName: string, fallback: number): number {
  const raw = process.env[envName];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${envName} must be a positive integer`);
  return n;
}
