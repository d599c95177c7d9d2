import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from 'pino';
import { HTTP_SERVER_LIMITS, answerClientError } from './http-limits.js';

export interface Readiness {
  ready: boolean;
  /** Why not ready, for humans (`bus disconnected`, `draining`). */
  reasons: string[];
}

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Checked on each `/readyz`. `/healthz` never depends on anything but the process. */
  readiness: () => Readiness;
  logger: Logger;
  /**
   * Everything besides `/healthz`, `/readyz` and `/metrics` (which stay open to any method check
   * here): a service's own admin routes. Returns false for a path it does not serve (then 404).
   */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => boolean;
}

/** Paths of the admin server that need no credentials: probes and Prometheus. */
export const OPEN_ADMIN_PATHS: readonly string[] = ['/healthz', '/readyz', '/metrics'];

export interface AdminServer {
  readonly server: Server;
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Sockets the admin port holds at once; more are dropped at accept. Prometheus and a few operators
 * need a handful; the bound keeps the file descriptors the admin port can take inside the
 * reserve the gateway leaves for it (docs/limits.md).
 */
export const ADMIN_MAX_CONNECTIONS = 128;

/** `/healthz`, `/readyz`, `/metrics` on their own port (never exposed publicly). */
export async function startAdminServer(opts: AdminServerOptions): Promise<AdminServer> {
  const server = createServer(HTTP_SERVER_LIMITS, (req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (opts.routes !== undefined && !OPEN_ADMIN_PATHS.includes(path)) {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://admin');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"error":{"code":"bad_request","message":"bad URL"}}');
        return;
      }
      if (opts.routes(req, res, url)) return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":{"code":"method_not_allowed","message":"use GET"}}');
      return;
    }
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
    } else if (path === '/readyz') {
      const r = opts.readiness();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ ready: r.ready, reasons: r.reasons }));
    } else if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
        (err: unknown) => {
          opts.logger.error({ err }, 'metrics collection failed');
          res.writeHead(500).end();
        },
      );
    } else {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"code":"not_found","message":"try /healthz, /readyz or /metrics"}}');
    }
  });
  server.maxConnections = ADMIN_MAX_CONNECTIONS;
  server.on('clientError', answerClientError);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
