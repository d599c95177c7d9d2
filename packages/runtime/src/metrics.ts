import { Registry, collectDefaultMetrics } from 'prom-client';

export const METRIC_PREFIX = 'megaphone_';

/** Buckets from 1 ms to 10 s, for delivery and publish latency. */
export const LATENCY_BUCKETS_SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A registry with Node runtime metrics (event-loop lag, heap, GC), all prefixed `megaphone_`. */
export function createRegistry(labels: { service: string; node: string }): Registry {
  const registry = new Registry();
  registry.setDefaultLabels(labels);
  collectDefaultMetrics({ register: registry, prefix: METRIC_PREFIX, eventLoopMonitoringPrecision: 20 });
  return registry;
}
