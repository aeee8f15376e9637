// A small node-level cluster on a clean network (no loss, 1-3 ms delays), for tests that stage
// one fault by hand instead of drawing a fault schedule from a seed.

import { Prng } from '../../src/random.js';
import { type ClusterConfig, SimCluster } from './cluster.js';
import { SimNetwork } from './network.js';
import { Tracer } from './trace.js';
import { Scheduler } from './virtual-clock.js';

export interface QuietCluster {
  readonly sched: Scheduler;
  readonly net: SimNetwork;
  readonly cluster: SimCluster;
}

/** Three nodes (unless `config` says otherwise), quiet tracing, everything seeded from `seed`. */
export function quietCluster(
  seed: number,
  config: Partial<ClusterConfig> &
    Pick<ClusterConfig, 'heartbeatMs' | 'electionMs' | 'requestTimeoutMs' | 'readMode'>,
): QuietCluster {
  const sched = new Scheduler(2_000_000);
  const rng = new Prng(seed);
  const tracer = new Tracer(
    false,
    false,
    () => sched.now,
    () => {},
  );
  const net = new SimNetwork(sched, rng.fork(), tracer, {
    minDelay: 1,
    maxDelay: 3,
    dropRate: 0,
    dupRate: 0,
  });
  const cluster = new SimCluster(sched, net, tracer, rng.fork(), {
    size: 3,
    snapshotEvery: 100_000,
    snapshotCatchUpEntries: 100,
    segmentSize: 1 << 20,
    fsyncLatencyMs: 2,
    lyingFsync: false,
    ...config,
  });
  return { sched, net, cluster };
}
