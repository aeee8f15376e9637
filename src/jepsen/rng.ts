// The Jepsen runner's generator under its old name: the project's one seeded PRNG (src/random.ts).
export { Prng as Rng } from '../random.js';
