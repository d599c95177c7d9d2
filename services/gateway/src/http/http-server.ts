import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { HTTP_SERVER_LIMITS, answerClientError, type Logger } from '@megaphone/runtime';
import { sendHttpError } from './http-error.js';
import { serveStatic } from './static-files.js';

export interface HttpRoutes {
  sse(req: IncomingMessage, res: ServerResponse, url: URL): void;
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void;
  /** The `Host` check (GATEWAY_ALLOWED_HOSTS) every request passes first. */
  hostAllowed(req: IncomingMessage): boolean;
  publicDir: string;
  /** Sockets the port holds at once (clients plus room to answer more with a 503); more are dropped at accept. */
  maxSockets: number;
  /** A socket was dropped at accept because the port held `maxSockets`. */
  dropped(): void;
}

/** The public port: `/ws` (upgrade), `/sse`, and the web console's files. */
export async function listenHttp(host: string, port: number, routes: HttpRoutes, logger: Logger): Promise<Server> {
  // Small headers and short header/request deadlines: nothing legitimate here needs more, and
  // slow-loris clients should not hold sockets. (Neither limit applies to a streaming response.)
  const server = createServer(HTTP_SERVER_LIMITS, (req, res) => {
    if (!routes.hostAllowed(req)) return sendHttpError(res, 'forbidden', 'this gateway does not serve that host name (GATEWAY_ALLOWED_HOSTS)');
    const url = new URL(req.url ?? '/', 'http://gateway');
    if (url.pathname === '/sse') return routes.sse(req, res, url);
    if (url.pathname === '/ws') return sendHttpError(res, 'bad_request', 'this endpoint needs a WebSocket upgrade', { upgrade: 'websocket' });
    serveStatic(routes.publicDir, req, res, url.pathname).catch((err: unknown) => {
      logger.error({ err }, 'static file failed');
      sendHttpError(res, 'internal', 'internal error');
    });
  });
  server.on('upgrade', routes.upgrade);
  server.on('clientError', answerClientError);
  // Every socket is a file descriptor: past this many the port takes no more, so the admin port,
  // Redis and job spawning keep theirs (docs/limits.md).
  server.maxConnections = routes.maxSockets;
  server.on('drop', routes.dropped);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (err) => logger.error({ err }, 'http server error'));
  return server;
}
