import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { TokenVerifier } from '@megaphone/auth';
import { createBus, type Bus } from '@megaphone/bus';
import { UPTIME_CHANNEL } from '@megaphone/protocol';
import { createLogger, createRegistry, historyPolicyFor, startAdminServer, type Logger, type Readiness } from '@megaphone/runtime';
import type { ProducerConfig } from './config.js';
import { createApiServer, listen } from './http-api.js';
import { DEFAULT_RESTART_BACKOFF, JobManager, type RestartBackoff } from './job-manager.js';
import { createProducerMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { DEFAULT_CHILD_PATH } from './run.js';
import { startUptime } from './uptime.js';

/** Knobs that are not environment variables: fixed in production, shortened by tests. */
export interface ProducerTuning {
  /** `POST /v1/publish` waits this long for the bus before answering 503. */
  publishTimeoutMs: number;
  restartBackoff: RestartBackoff;
  outboxRetryInitialMs: number;
  outboxRetryMaxMs: number;
  /** The outbox holding publications with no progress for this long makes `/readyz` fail. */
  outboxStuckAfterMs: number;
  /** On shutdown, how long to wait for queued publications to reach the bus. */
  shutdownFlushMs: number;
  /** How often the bus's readiness is sampled for logs and `megaphone_bus_reconnects_total`. */
  busWatchMs: number;
  /** `PATH` of the children unless a job sets its own. */
  childPath: string;
}

export const DEFAULT_TUNING: ProducerTuning = {
  publishTimeoutMs: 5000,
  restartBackoff: DEFAULT_RESTART_BACKOFF,
  outboxRetryInitialMs: 100,
  outboxRetryMaxMs: 5000,
  outboxStuckAfterMs: 10_000,
  shutdownFlushMs: 5000,
  busWatchMs: 500,
  childPath: DEFAULT_CHILD_PATH,
};

export interface StartProducerOptions {
  config: ProducerConfig;
  /** A bus shared with other services in this process; when absent the producer creates and owns one. */
  bus?: Bus;
  logger?: Logger;
  registry?: Registry;
  tuning?: Partial<ProducerTuning>;
}

export interface ProducerHandle {
  readonly port: number;
  readonly adminPort: number;
  readonly bus: Bus;
  readonly jobs: JobManager;
  readonly outbox: Outbox;
  readonly registry: Registry;
  readiness(): Readiness;
  /** Stops commands (their process groups), flushes the outbox (bounded), closes servers and an owned bus. */
  close(): Promise<void>;
}

export async function startProducer(opts: StartProducerOptions): Promise<ProducerHandle> {
  const { config } = opts;
  const tuning: ProducerTuning = { ...DEFAULT_TUNING, ...opts.tuning };
  const logger = opts.logger ?? createLogger({ level: config.logLevel, service: 'producer', node: config.nodeName });
  const registry = opts.registry ?? createRegistry({ service: 'producer', node: config.nodeName });
  let jobs: JobManager | undefined;
  let outbox: Outbox | undefined;
  let bus: Bus | undefined = opts.bus;
  const metrics = createProducerMetrics(registry, {
    activeRuns: () => jobs?.activeRuns ?? 0,
    outbox: () => ({ bytes: outbox?.bytes ?? 0, messages: outbox?.messages ?? 0 }),
    busReady: () => bus?.isReady() ?? false,
  });
  metrics.initJobs(config.jobs.map((j) => j.name));
  const ownsBus = opts.bus === undefined;
  // The producer never calls bus.setHandler: a shared bus's handler belongs to the gateway's hub.
  bus ??= await createBus(config.bus, {
    history: historyPolicyFor(config.namespaces),
    logger: logger.child({ component: 'bus' }),
    clientName: `${config.nodeName}-producer`,
    metrics: metrics.bus,
  });

  const box = new Outbox({
    bus,
    maxBytes: config.outboxMaxBytes,
    logger: logger.child({ component: 'outbox' }),
    metrics: metrics.outbox,
    retryInitialMs: tuning.outboxRetryInitialMs,
    retryMaxMs: tuning.outboxRetryMaxMs,
    stuckAfterMs: tuning.outboxStuckAfterMs,
  });
  outbox = box;
  const manager = new JobManager({
    jobs: config.jobs,
    logger: logger.child({ component: 'jobs' }),
    metrics: metrics.jobs,
    backoff: tuning.restartBackoff,
    run: {
      publish: (channel, data) => void box.enqueue(channel, JSON.stringify(data)),
      backpressure: box,
      lines: metrics.lines,
      maxPublicationBytes: config.maxPublicationBytes,
      killGraceMs: config.killGraceMs,
      defaultPath: tuning.childPath,
      logger: logger.child({ component: 'run' }),
    },
  });
  jobs = manager;

  // Bus state is sampled (the producer must not take the bus handler, which a shared bus gives to
  // the gateway's hub): on a timer and on every readiness check. A bus the producer created counts
  // its own reconnects through `metrics.bus`.
  const theBus: Bus = bus;
  let busReady = theBus.isReady();
  function observeBus(): boolean {
    const now = theBus.isReady();
    if (now !== busReady) {
      busReady = now;
      if (now) {
        if (!ownsBus) metrics.busReconnected();
        logger.info('bus ready again');
      } else logger.warn('bus not ready: publications wait in the outbox');
    }
    return now;
  }

  let closing = false;
  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (closing) reasons.push('shutting down');
    if (!observeBus()) reasons.push('bus not ready');
    if (box.isFull()) reasons.push('outbox full');
    if (box.isStuck()) reasons.push('outbox stuck: publications are not reaching the bus');
    return { ready: reasons.length === 0, reasons };
  };

  const verifier = new TokenVerifier(config.auth, { logger: logger.child({ component: 'auth' }) });
  const api = createApiServer({
    jobs: manager,
    outbox: box,
    bus,
    apiToken: config.apiToken,
    verifier,
    allowedHosts: config.allowedHosts,
    jobOfRun: (id) => manager.getRun(id)?.summary().job,
    maxBodyBytes: config.maxBodyBytes,
    maxPublicationBytes: config.maxPublicationBytes,
    publishTimeoutMs: tuning.publishTimeoutMs,
    logger: logger.child({ component: 'api' }),
    onRequest: metrics.apiRequest,
  });
  let port: number;
  let admin: Awaited<ReturnType<typeof startAdminServer>>;
  try {
    port = await listen(api, config.port, config.host);
    admin = await startAdminServer({ host: config.adminHost, port: config.adminPort, registry, readiness, logger });
  } catch (err) {
    api.close();
    verifier.close();
    box.close();
    if (ownsBus) await bus.close();
    throw err;
  }

  const busWatch = setInterval(observeBus, tuning.busWatchMs);
  busWatch.unref();

  for (const warning of config.warnings) logger.warn(warning);
  const stopUptime = startUptime({
    intervalMs: config.uptimeIntervalMs,
    node: config.nodeName,
    publish: (data) => void box.enqueue(UPTIME_CHANNEL, JSON.stringify(data), { conflate: true }),
  });
  manager.start();
  logger.info(
    { port, adminPort: admin.port, jobs: config.jobs.map((j) => j.name), jobsFile: config.jobsFile, bus: bus.kind },
    'producer started',
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      stopUptime();
      clearInterval(busWatch);
      const apiClosed = closeServer(api);
      await manager.close(config.killGraceMs + 2000);
      const flushed = await box.flush(tuning.shutdownFlushMs);
      if (!flushed) logger.error({ queued: box.messages }, 'shutdown: the outbox could not be flushed in time');
      box.close();
      await apiClosed;
      await admin.close();
      verifier.close();
      if (ownsBus) await bus.close();
    })());

  return { port, adminPort: admin.port, bus, jobs: manager, outbox: box, registry, readiness, close };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
