// Seeded randomness for the real-process tests: fault schedules that a seed replays.

// The project's one seeded PRNG (src/random.ts): the same seed gives the same schedule.
export { Prng } from '../../src/random.js';

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
