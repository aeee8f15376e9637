// The seed's four exercises (docs/exercises.md), runnable from the terminal as
// `raftkv exercise N` and by anything that imports them (the runner calls each the same way).

import { basicOperations } from './basic.js';
import { leaderFailover } from './failover.js';
import { networkPartition } from './partition.js';
import { persistence } from './persistence.js';
import type { Exercise } from './runner.js';

export const exercises: readonly Exercise[] = [
  basicOperations,
  leaderFailover,
  networkPartition,
  persistence,
];

export function exerciseNumbered(n: number): Exercise | undefined {
  return exercises.find((e) => e.n === n);
}

export {
  defaultTiming,
  type Exercise,
  type ExerciseReport,
  type ExerciseResult,
  type ExerciseTiming,
  PreconditionFailed,
  runExercise,
  type Step,
} from './runner.js';
export {
  connect,
  type ExerciseTarget,
  type SupervisorHandle,
} from './target.js';
