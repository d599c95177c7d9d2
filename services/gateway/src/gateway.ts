import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { TokenVerifier } from '@megaphone/auth';
import { createBus, type Bus } from '@megaphone/bus';
import { Hub } from '@megaphone/hub';
import { createLogger, createRegistry, historyPolicyFor, startAdminServer, type Logger, type Readiness } from '@megaphone/runtime';
import { ReadinessTracker, busMetrics, observeBusReadiness } from './bus-health.js';
import { PUBLIC_SOCKET_HEADROOM, conflateMatcher, type GatewayConfig } from './config.js';
import { ConnectionSet } from './connections/connections.js';
import { closeSpread } from './connections/drain.js';
import { EndpointContext } from './connections/endpoint-context.js';
import { hubMetrics, namespaceLabel, sampleHub } from './hub-metrics.js';
import { listenHttp } from './http/http-server.js';
import { GatewayMetrics } from './metrics.js';
import { createSseEndpoint } from './sse/sse-endpoint.js';
import { Operator } from './operator/operator.js';
import { createWsEndpoint } from './ws/ws-endpoint.js';

export interface StartGatewayOptions {
  config: GatewayConfig;
  /** A bus shared with others (the caller closes it); without one the gateway creates and owns its own. */
  bus?: Bus;
  logger?: Logger;
  registry?: Registry;
  /**
   * Who a new connection's client is (its `sub`, SPEC §10), from the upgrade or SSE request; null
   * when unknown. The hook token authentication fills in; without it every `sub` is null.
   */
  identify?: (req: IncomingMessage) => string | null;
  /** Where the built web console lives (default: this package's `dist/public/`). */
  publicDir?: string;
}

export interface GatewayHandle {
  readonly port: number;
  readonly adminPort: number;
  readonly hub: Hub;
  readonly bus: Bus;
  /** The operator side: presence table, control channel, admin API (SPEC §11). */
  readonly operator: Operator;
  /** Fail readiness, refuse new clients, close the existing ones over `GATEWAY_DRAIN_MS`, then close. */
  drain(): Promise<void>;
  /** Close everything now. Idempotent. */
  close(): Promise<void>;
}

/** Where `npm run build` puts the web console's bundle (console/build.mjs); served at `/`. */
export const CONSOLE_PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

/** Part of the drain window kept after the last close for clients to answer their close frames. */
function closeGraceMs(drainMs: number): number {
  return Math.min(1000, drainMs / 10);
}

export async function startGateway(opts: StartGatewayOptions): Promise<GatewayHandle> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger({ level: config.logLevel, service: 'gateway', node: config.nodeName });
  for (const warning of config.warnings) logger.warn(warning);
  const registry = opts.registry ?? createRegistry({ service: 'gateway', node: config.nodeName });
  const connections = new ConnectionSet(config.heartbeatMs);
  // Scrapes sample the hub and the bus, which exist a few lines below.
  const live: { hub?: Hub; bus?: Bus; operator?: Operator } = {};
  const metrics = new GatewayMetrics(registry, () => sampleHub(live.hub, live.bus, connections, live.operator?.presence));
  metrics.connectionsLimit.set(config.maxConnections);

  const ownsBus = opts.bus === undefined;
  let bus: Bus;
  let hubBus: Bus;
  if (opts.bus === undefined) {
    bus = await createBus(config.bus, {
      history: historyPolicyFor(config.namespaces),
      logger: logger.child({ component: 'bus' }),
      clientName: config.nodeName,
      metrics: busMetrics(metrics),
    });
    hubBus = bus;
  } else {
    bus = opts.bus;
    const tracker = new ReadinessTracker(bus.isReady(), busMetrics(metrics));
    hubBus = observeBusReadiness(bus, (ready) => tracker.readiness(ready));
  }
  const hub = new Hub({
    bus: hubBus,
    maxQueueBytes: config.maxQueueBytes,
    maxSubscriptionsPerConnection: config.maxSubscriptions,
    maxHistoryReads: config.maxHistoryReads,
    maxHistoryReadsPerConnection: config.maxHistoryReadsPerConnection,
    conflate: conflateMatcher(config.conflateChannels),
    metrics: hubMetrics(metrics, namespaceLabel(Object.keys(config.namespaces))),
    logger: logger.child({ component: 'hub' }),
  });
  live.hub = hub;
  live.bus = bus;
  const operator = new Operator({
    bus,
    hub,
    connections,
    node: config.nodeName,
    adminToken: config.adminToken,
    presenceIntervalMs: config.presenceIntervalMs,
    logger: logger.child({ component: 'operator' }),
    metrics,
  });
  live.operator = operator;

  const verifier = new TokenVerifier(config.auth, { logger: logger.child({ component: 'auth' }) });
  const ctx = new EndpointContext(config, hub, metrics, logger, connections, (channel) => operator.presence.subscribers(channel), opts.identify ?? (() => null), verifier);
  const ws = createWsEndpoint(ctx);
  const started: Array<() => Promise<void>> = [];
  const abort = async (err: unknown): Promise<never> => {
    for (const stop of started.reverse()) await stop();
    throw err;
  };
  started.push(async () => {
    operator.stop();
    verifier.close();
    await hub.close();
    if (ownsBus) await bus.close();
  });

  const server = await listenHttp(
    config.host,
    config.port,
    {
      sse: createSseEndpoint(ctx),
      upgrade: ws.onUpgrade,
      hostAllowed: (req) => ctx.hostAllowed(req),
      publicDir: opts.publicDir ?? CONSOLE_PUBLIC_DIR,
      maxSockets: config.maxConnections + PUBLIC_SOCKET_HEADROOM,
      dropped: () => metrics.socketsDropped.inc(),
    },
    logger,
  ).catch(abort);
  started.push(() => new Promise((resolve) => server.close(() => resolve())));

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!bus.isReady()) reasons.push('bus not ready');
    if (ctx.draining) reasons.push('draining');
    return { ready: reasons.length === 0, reasons };
  };
  const admin = await startAdminServer({ host: config.adminHost, port: config.adminPort, registry, readiness, logger, routes: operator.routes }).catch(abort);
  operator.start();

  const port = (server.address() as AddressInfo).port;
  const { allowedOrigins } = config;
  logger.info(
    {
      port,
      adminPort: admin.port,
      bus: bus.kind,
      origins: allowedOrigins.kind === 'list' ? allowedOrigins.origins : allowedOrigins.kind,
      auth: verifier.enabled ? { publicChannels: config.auth.publicChannels } : 'off',
    },
    'gateway listening',
  );

  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= (async () => {
      ctx.draining = true;
      metrics.draining.set(1);
      connections.stop();
      ctx.expiries.stop();
      verifier.close();
      server.close();
      for (const c of connections.snapshot()) c.terminate();
      server.closeAllConnections();
      ws.close();
      operator.stop();
      await hub.close();
      if (ownsBus) await bus.close();
      await admin.close();
      logger.info('gateway stopped');
    })());

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> =>
    (drained ??= (async () => {
      if (closed !== undefined) return closed;
      // Readiness fails from here on, so the load balancer stops sending clients; the listener
      // stays open and answers stragglers with a 503 they can act on.
      ctx.draining = true;
      metrics.draining.set(1);
      const conns = connections.snapshot();
      const graceMs = closeGraceMs(config.drainMs);
      logger.info({ connections: conns.length, drainMs: config.drainMs }, 'draining');
      await closeSpread(conns, config.drainMs - graceMs);
      await waitUntil(() => connections.size === 0, graceMs);
      await close();
    })());

  return { port, adminPort: admin.port, hub, bus, operator, drain, close };
}

function waitUntil(done: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (done()) return resolve();
    const start = Date.now();
    const timer = setInterval(() => {
      if (done() || Date.now() - start >= timeoutMs) {
        clearInterval(timer);
        resolve();
      }
    }, 20);
  });
}
