// prom-client's default metrics (process_* and nodejs_*: CPU, memory, file descriptors, heap, GC,
// and event-loop lag — a stalled loop delays heartbeats and can cost an election) describe the
// process, not a node. They are created once per process, in a registry of their own (never the
// global default one), and registered into every node's registry, so that several nodes in one
// process (the tests) do not each start another event-loop monitor and GC observer.

import { collectDefaultMetrics, type Metric, Registry } from 'prom-client';

let shared: readonly Metric[] | null = null;

/** The process's default metrics, created on first use. */
export function processMetrics(): readonly Metric[] {
  if (shared === null) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    shared = registry
      .getMetricsAsArray()
      .map((m) => registry.getSingleMetric(m.name))
      .filter((m): m is Metric => m !== undefined);
  }
  return shared;
}
