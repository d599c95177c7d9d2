import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { Registry } from 'prom-client';
import { WebSocketServer } from 'ws';
import { createBus, type Bus } from '@megaphone/bus';
import { Hub } from '@megaphone/hub';
import { MAX_CLIENT_FRAME_BYTES } from '@megaphone/protocol';
import {
  createLogger,
  createRegistry,
  historyPolicyFor,
  startAdminServer,
  type AdminServer,
  type Logger,
  type Readiness,
} from '@megaphone/runtime';
import { ReadinessTracker, busMetrics, observeBusReadiness } from './bus-health.js';
import { conflateMatcher, type GatewayConfig } from './config.js';
import { ConnectionSet } from './connections.js';
import { closeSpread } from './drain.js';
import { sendHttpError } from './http-error.js';
import { hubMetrics, sampleHub } from './hub-metrics.js';
import { GatewayMetrics } from './metrics.js';
import { originAllowed } from './origin.js';
import { SseClient } from './sse-client.js';
import { parseSseRequest } from './sse-request.js';
import { serveStatic } from './static-files.js';
import { pathOf, refuseUpgrade } from './upgrade.js';
import { WsClient } from './ws-client.js';

export interface StartGatewayOptions {
  config: GatewayConfig;
  /** A bus shared with others (the caller closes it); without one the gateway creates and owns its own. */
  bus?: Bus;
  logger?: Logger;
  registry?: Registry;
  /** Where the built web console lives (default: this package's `dist/public/`). */
  publicDir?: string;
}

export interface GatewayHandle {
  readonly port: number;
  readonly adminPort: number;
  readonly hub: Hub;
  readonly bus: Bus;
  /** Fail readiness, refuse new clients, close the existing ones over `GATEWAY_DRAIN_MS`, then close. */
  drain(): Promise<void>;
  /** Close everything now. Idempotent. */
  close(): Promise<void>;
}

/** Part of the drain window left after the last close for clients to answer their close frames. */
function closeGraceMs(drainMs: number): number {
  return Math.min(1000, drainMs / 10);
}

const DEFAULT_PUBLIC_DIR = fileURLToPath(new URL('../public/', import.meta.url));

export async function startGateway(opts: StartGatewayOptions): Promise<GatewayHandle> {
  const { config } = opts;
  const logger = opts.logger ?? createLogger({ level: config.logLevel, service: 'gateway', node: config.nodeName });
  for (const warning of config.warnings) logger.warn(warning);
  const registry = opts.registry ?? createRegistry({ service: 'gateway', node: config.nodeName });
  const connections = new ConnectionSet(config.heartbeatMs);
  let hub: Hub | undefined;
  let bus: Bus | undefined;
  const metrics = new GatewayMetrics(registry, () => sampleHub(hub, bus, connections));
  const ownsBus = opts.bus === undefined;
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
  const theBus = bus;
  const publicDir = opts.publicDir ?? DEFAULT_PUBLIC_DIR;

  hub = new Hub({
    bus: hubBus,
    maxQueueBytes: config.maxQueueBytes,
    maxSubscriptionsPerConnection: config.maxSubscriptions,
    conflate: conflateMatcher(config.conflateChannels),
    metrics: hubMetrics(metrics),
    logger: logger.child({ component: 'hub' }),
  });
  const theHub = hub;

  let draining = false;
  let closed: Promise<void> | undefined;
  const parseLimits = { maxHistory: config.maxHistory };
  const newSession = (): string => randomBytes(12).toString('base64url');
  const opened = (transport: 'ws' | 'sse'): void => {
    metrics.connectionsOpened.inc({ transport });
    metrics.connections.inc({ transport });
  };
  const gone = (client: WsClient | SseClient): void => {
    connections.delete(client);
    metrics.connections.dec({ transport: client.transport });
  };

  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    maxPayload: MAX_CLIENT_FRAME_BYTES,
    clientTracking: false,
  });

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req) !== '/ws') return refuseUpgrade(socket, 'not_found', 'WebSocket endpoint is /ws');
    if (draining) return refuseUpgrade(socket, 'unavailable', 'this gateway is draining', { 'retry-after': '1' });
    if (!originAllowed(config.allowedOrigins, req.headers)) {
      logger.debug({ origin: req.headers.origin }, 'websocket origin refused');
      return refuseUpgrade(socket, 'forbidden', 'origin not allowed');
    }
    if (connections.size >= config.maxConnections) {
      return refuseUpgrade(socket, 'unavailable', 'this gateway is full', { 'retry-after': '1' });
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (draining) {
        ws.terminate();
        return;
      }
      const session = newSession();
      const client = new WsClient(ws, socket as Socket, {
        hub: theHub,
        metrics,
        logger,
        node: config.nodeName,
        session,
        heartbeatMs: config.heartbeatMs,
        parseLimits,
        maxCommandsPerSecond: config.maxCommandsPerSecond,
        onClose: gone,
      });
      connections.add(client);
      opened('ws');
      logger.debug({ session, origin: req.headers.origin }, 'websocket connected');
    });
  };

  const onSse = (req: IncomingMessage, res: ServerResponse, url: URL): void => {
    const allowed = originAllowed(config.allowedOrigins, req.headers);
    const origin = req.headers.origin;
    const cors: Record<string, string> = origin !== undefined && allowed ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    if (req.method === 'OPTIONS' && allowed) {
      res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'last-event-id, cache-control', 'access-control-max-age': '600' }).end();
      return;
    }
    if (req.method !== 'GET') return sendHttpError(res, 'method_not_allowed', 'use GET', { allow: 'GET' });
    if (draining) return sendHttpError(res, 'unavailable', 'this gateway is draining', { 'retry-after': '1' });
    if (!allowed) return sendHttpError(res, 'forbidden', 'origin not allowed');
    if (connections.size >= config.maxConnections) return sendHttpError(res, 'unavailable', 'this gateway is full', { 'retry-after': '1' });
    const request = parseSseRequest(url, req.headers, { maxSubscriptions: config.maxSubscriptions, maxHistory: config.maxHistory });
    if (typeof request === 'string') {
      metrics.clientErrors.inc({ code: 'bad_request' });
      return sendHttpError(res, 'bad_request', request, cors);
    }
    const session = newSession();
    const client = new SseClient(req, res, request, {
      hub: theHub,
      metrics,
      logger,
      node: config.nodeName,
      session,
      heartbeatMs: config.heartbeatMs,
      corsHeaders: cors,
      onClose: gone,
    });
    connections.add(client);
    opened('sse');
    logger.debug({ session, channels: request.channels.length }, 'sse stream opened');
  };

  const server = createServer({ maxHeaderSize: 8192, requestTimeout: 30_000, headersTimeout: 10_000 }, (req, res) => {
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname === '/sse') return onSse(req, res, url);
    if (url.pathname === '/ws') return sendHttpError(res, 'bad_request', 'this endpoint needs a WebSocket upgrade', { upgrade: 'websocket' });
    serveStatic(publicDir, req, res, url.pathname).catch((err: unknown) => {
      logger.error({ err }, 'static file failed');
      sendHttpError(res, 'internal', 'internal error');
    });
  });
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\n\r\n');
    else socket.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'http server error'));

  const readiness = (): Readiness => {
    const reasons: string[] = [];
    if (!theBus.isReady()) reasons.push('bus not ready');
    if (draining) reasons.push('draining');
    return { ready: reasons.length === 0, reasons };
  };
  let admin: AdminServer;
  try {
    admin = await startAdminServer({ host: config.adminHost, port: config.adminPort, registry, readiness, logger });
  } catch (err) {
    server.close();
    throw err;
  }

  const port = (server.address() as AddressInfo).port;
  logger.info(
    {
      port,
      adminPort: admin.port,
      bus: theBus.kind,
      origins: config.allowedOrigins.kind === 'list' ? config.allowedOrigins.origins : config.allowedOrigins.kind,
    },
    'gateway listening',
  );

  const close = (): Promise<void> => {
    closed ??= (async () => {
      draining = true;
      metrics.draining.set(1);
      connections.stop();
      server.close();
      for (const c of connections.snapshot()) c.terminate();
      server.closeAllConnections();
      await theHub.close();
      if (ownsBus) await theBus.close();
      await admin.close();
      wss.close();
      logger.info('gateway stopped');
    })();
    return closed;
  };

  let drained: Promise<void> | undefined;
  const drain = (): Promise<void> => (drained ??= drainNow());
  const drainNow = async (): Promise<void> => {
    if (closed !== undefined) return closed;
    draining = true;
    metrics.draining.set(1);
    const conns = connections.snapshot();
    const graceMs = closeGraceMs(config.drainMs);
    const windowMs = config.drainMs - graceMs;
    logger.info({ connections: conns.length, drainMs: config.drainMs }, 'draining');
    // The listener stays open: clients that still arrive (before the load balancer sees /readyz
    // fail) get a 503 they can act on rather than a refused connection.
    await closeSpread(conns, windowMs);
    await waitUntil(() => connections.size === 0, graceMs);
    await close();
  };

  return { port, adminPort: admin.port, hub: theHub, bus: theBus, drain, close };
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
