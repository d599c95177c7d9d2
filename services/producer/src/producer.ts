import type { Server } from 'node:http';
import type { Registry } from 'prom-client';
import { TokenVerifier } from '@megaphone/auth';
import { createBus, hasLease, inProcessLease, type Bus } from '@megaphone/bus';
import { createLogger, createRegistry, historyPolicyFor, startAdminServer, type Logger, type Readiness } from '@megaphone/runtime';
import type { ProducerConfig } from './config.js';
import { createApiServer, listen } from './http/http-api.js';
import { startLeaderRole, type LeaderRole } from './leader/leader-role.js';
import { DEFAULT_RESTART_BACKOFF, JobManager, type RestartBackoff } from './jobs/job-manager.js';
import { createProducerMetrics } from './metrics.js';
import { Outbox } from './outbox.js';
import { DEFAULT_CHILD_PATH } from './jobs/run.js';

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
  /** A standby waits this long for the leader to answer a forwarded job/run request, then answers 503. */
  forwardTimeoutMs: number;
  /** Forwarded requests waiting at once on a standby; more get 503 at once. */
  forwardMaxPending: number;
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
  forwardTimeoutMs: 3000,
  forwardMaxPending: 256,
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
  /** True while this replica holds the leader lease and runs the jobs. */
  isLeader(): boolean;
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
  let role: LeaderRole | undefined;
  const metrics = createProducerMetrics(registry, {
    activeRuns: () => jobs?.activeRuns ?? 0,
    outbox: () => ({ bytes: outbox?.bytes ?? 0, messages: outbox?.messages ?? 0 }),
    busReady: () => bus?.isReady() ?? false,
    leader: () => role?.isLeader() ?? false,
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
    onFenced: (err) => role?.fenced(err.fence),
  });
  outbox = box;
  const manager = new JobManager({
    jobs: config.jobs,
    logger: logger.child({ component: 'jobs' }),
    metrics: metrics.jobs,
    backoff: tuning.restartBackoff,
    standby: true,
    watcher: { started: (run) => role?.watcher.started(run), ended: (run, byShutdown) => role?.watcher.ended(run, byShutdown) },
    run: {
      // Job output and lifecycle carry the leader's fencing number (SPEC §12).
      publish: (channel, data) => void box.enqueue(channel, JSON.stringify(data), fenceOf()),
      backpressure: box,
      lines: metrics.lines,
      maxPublicationBytes: config.maxPublicationBytes,
      killGraceMs: config.killGraceMs,
      defaultPath: tuning.childPath,
      logger: logger.child({ component: 'run' }),
    },
  });
  jobs = manager;
  const fenceOf = (): { fence?: number } => {
    const fence = role?.currentFence();
    return fence === undefined ? {} : { fence };
  };
  // With Redis, the producers talk among themselves on a bus of their own: its own key prefix, so
  // no API client can publish there, no gateway subscribes there, and it keeps no history.
  const controlBus =
    config.bus.kind === 'redis'
      ? await createBus(
          { ...config.bus, keyPrefix: `${config.bus.keyPrefix}#ctl`, metaTtlMs: 60_000 },
          { history: () => ({ size: 0, ttlMs: 60_000 }), logger: logger.child({ component: 'control-bus' }), clientName: `${config.nodeName}-producer-ctl` },
        )
      : undefined;
  role = startLeaderRole({
    // A bus without leases (a test double) has one producer, always the leader.
    lease: hasLease(bus) ? bus : inProcessLease(),
    jobs: manager,
    outbox: box,
    controlBus,
    forwardTimeoutMs: tuning.forwardTimeoutMs,
    forwardMaxPending: tuning.forwardMaxPending,
    node: config.nodeName,
    leaseMs: config.leaseMs,
    uptimeIntervalMs: config.uptimeIntervalMs,
    logger,
    metrics: metrics.leadership,
  });
  const theRole: LeaderRole = role;

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
  let roleStarted = false;
  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (closing) reasons.push('shutting down');
    if (!roleStarted) reasons.push('starting: trying for the leader lease');
    if (!observeBus()) reasons.push('bus not ready');
    if (box.isFull()) reasons.push('outbox full');
    if (box.isStuck()) reasons.push('outbox stuck: publications are not reaching the bus');
    return { ready: reasons.length === 0, reasons };
  };

  const verifier = new TokenVerifier(config.auth, { logger: logger.child({ component: 'auth' }) });
  const api = createApiServer({
    runs: theRole.runs,
    outbox: box,
    bus,
    apiToken: config.apiToken,
    verifier,
    allowedHosts: config.allowedHosts,
    // Through the runs handler: a standby asks the leader, which holds the run.
    jobOfRun: async (id) => {
      const reply = await theRole.runs({ op: 'get', run: id });
      const job = reply.status === 200 ? (reply.body as { job?: unknown }).job : undefined;
      return typeof job === 'string' ? job : undefined;
    },
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
    await controlBus?.close();
    if (ownsBus) await bus.close();
    throw err;
  }

  const busWatch = setInterval(observeBus, tuning.busWatchMs);
  busWatch.unref();

  for (const warning of config.warnings) logger.warn(warning);
  // One try for the lease before the start is reported: a lone producer leads from here on.
  await theRole.start();
  roleStarted = true;
  logger.info(
    { port, adminPort: admin.port, jobs: config.jobs.map((j) => j.name), jobsFile: config.jobsFile, bus: bus.kind, leader: theRole.isLeader() },
    'producer started',
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      closing = true;
      clearInterval(busWatch);
      const apiClosed = closeServer(api);
      await manager.close(config.killGraceMs + 2000);
      const flushed = await box.flush(tuning.shutdownFlushMs);
      if (!flushed) logger.error({ queued: box.messages }, 'shutdown: the outbox could not be flushed in time');
      // The runs have ended and their ends are published: hand the lease over at once.
      await theRole.stop();
      box.close();
      // Each step is bounded: a client that keeps a connection busy, or a bus still reconnecting,
      // must not keep a stopping producer alive past the orchestrator's grace period.
      await bounded(apiClosed, 2000, () => api.closeAllConnections());
      await bounded(admin.close(), 2000);
      verifier.close();
      await bounded(controlBus?.close() ?? Promise.resolve(), 2000);
      if (ownsBus) await bounded(bus.close(), 2000);
    })());

  return { port, adminPort: admin.port, bus, jobs: manager, outbox: box, registry, isLeader: () => theRole.isLeader(), readiness, close };
}

/** Waits for `p` at most `ms` (then calls `onTimeout`); never rejects. */
async function bounded(p: Promise<unknown>, ms: number, onTimeout?: () => void): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), ms)));
  const result = await Promise.race([p.then(() => 'done' as const, () => 'done' as const), late]);
  clearTimeout(timer);
  if (result === 'late') onTimeout?.();
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
