// Goal: a worker thread for the seed test: runs its share of the seeds and posts the summary
// back, so the thousand scenarios use every core the machine offers.

import { parentPort, workerData } from 'node:worker_threads';
import { runBatch } from './batch.js';
import type { ScenarioOverrides } from './scenario.js';

interface Job {
  readonly seeds: number[];
  readonly overrides: ScenarioOverrides;
}

const job = workerData as Job;
parentPort!.postMessage(runBatch(job.seeds, job.overrides, true));
