import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { BusMetrics } from '@megaphone/bus';
import { LATENCY_BUCKETS_SECONDS, METRIC_PREFIX } from '@megaphone/runtime';
import type { JobManagerMetrics } from './jobs/job-manager.js';
import type { OutboxMetrics } from './outbox.js';
import type { StreamName } from './jobs/output-batcher.js';

export interface ProducerMetricsSources {
  activeRuns(): number;
  outbox(): { bytes: number; messages: number };
  busReady(): boolean;
  leader(): boolean;
}

export interface ProducerMetrics {
  jobs: JobManagerMetrics;
  outbox: OutboxMetrics;
  lines(stream: StreamName, count: number): void;
  apiRequest(route: string, status: number): void;
  /** For a bus the producer creates: its own callbacks (connections lost and back, resubscribes). */
  bus: BusMetrics;
  /** For a shared bus: a not ready → ready transition the producer observed by sampling. */
  busReconnected(): void;
  leadership: { elected(): void };
  /** Exposes every job × outcome and stream at 0, so that rates work from the first scrape. */
  initJobs(jobs: readonly string[]): void;
}

const OUTCOMES = ['success', 'failure', 'timeout', 'killed', 'lost'] as const;

/** The producer's metrics (docs/metrics.md), registered on the service's registry. */
export function createProducerMetrics(registry: Registry, sources: ProducerMetricsSources): ProducerMetrics {
  const p = METRIC_PREFIX;
  const registers = [registry];
  const runs = new Counter({
    name: `${p}producer_runs_total`,
    // `job_name`, not `job`: Prometheus keeps `job` for the scrape job and would rename ours.
    help: 'Job runs that ended, by job and outcome (success, failure, timeout, killed, lost).',
    labelNames: ['job_name', 'outcome'],
    registers,
  });
  new Gauge({
    name: `${p}producer_runs_active`,
    help: 'Job runs in progress.',
    registers,
    collect() {
      this.set(sources.activeRuns());
    },
  });
  const lines = new Counter({ name: `${p}producer_lines_total`, help: 'Output lines read from commands, by stream.', labelNames: ['stream'], registers });
  const publications = new Counter({ name: `${p}producer_publications_total`, help: 'Publications the bus accepted.', registers });
  const publishErrors = new Counter({ name: `${p}producer_publish_errors_total`, help: 'Bus publish attempts that failed (each is retried).', registers });
  const latency = new Histogram({
    name: `${p}producer_publish_latency_seconds`,
    help: 'From a publication entering the outbox to the bus accepting it (includes time queued while the bus is down).',
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });
  new Gauge({
    name: `${p}producer_outbox_bytes`,
    help: 'Bytes of publications waiting in the outbox.',
    registers,
    collect() {
      this.set(sources.outbox().bytes);
    },
  });
  new Gauge({
    name: `${p}producer_outbox_messages`,
    help: 'Publications waiting in the outbox.',
    registers,
    collect() {
      this.set(sources.outbox().messages);
    },
  });
  const api = new Counter({
    name: `${p}producer_api_requests_total`,
    help: 'Producer API requests by route template and HTTP status.',
    labelNames: ['route', 'status'],
    registers,
  });
  new Gauge({
    name: `${p}bus_connected`,
    help: '1 while the bus is connected and ready, else 0.',
    registers,
    collect() {
      this.set(sources.busReady() ? 1 : 0);
    },
  });
  new Gauge({
    name: `${p}producer_leader`,
    help: '1 while this producer holds the leader lease and runs the jobs, else 0.',
    registers,
    collect() {
      this.set(sources.leader() ? 1 : 0);
    },
  });
  const leaderChanges = new Counter({
    name: `${p}producer_leader_changes_total`,
    help: 'Times this producer became the leader (summed over replicas: leadership changes).',
    registers,
  });
  const reconnects = new Counter({ name: `${p}bus_reconnects_total`, help: 'Times the bus became ready again after being unavailable.', registers });
  const resubscribe = new Histogram({
    name: `${p}bus_resubscribe_duration_seconds`,
    help: 'Time to take every subscription again after a reconnect (the producer subscribes to nothing: normally empty).',
    buckets: LATENCY_BUCKETS_SECONDS,
    registers,
  });

  return {
    jobs: {
      runStarted: () => undefined,
      runEnded: (job, outcome) => runs.inc({ job_name: job, outcome }),
    },
    outbox: {
      published: (seconds) => {
        publications.inc();
        latency.observe(seconds);
      },
      failed: () => publishErrors.inc(),
    },
    lines: (stream, count) => {
      if (count > 0) lines.inc({ stream }, count);
    },
    apiRequest: (route, status) => api.inc({ route, status: String(status) }),
    bus: {
      reconnected: () => reconnects.inc(),
      resubscribed: (seconds) => resubscribe.observe(seconds),
    },
    busReconnected: () => reconnects.inc(),
    leadership: { elected: () => leaderChanges.inc() },
    initJobs: (jobs) => {
      for (const job of jobs) for (const outcome of OUTCOMES) runs.inc({ job_name: job, outcome }, 0);
      for (const stream of ['stdout', 'stderr']) lines.inc({ stream }, 0);
      publications.inc(0);
      publishErrors.inc(0);
      reconnects.inc(0);
      leaderChanges.inc(0);
    },
  };
}
