import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EndpointContext } from './endpoint-context.js';
import { sendHttpError } from './http-error.js';
import { originAllowed } from './origin.js';
import { SseClient } from './sse-client.js';
import { parseSseRequest } from './sse-request.js';

/** `GET /sse?channel=…` (SPEC §4), with the WebSocket's origin rules and CORS for allowed pages. */
export function createSseEndpoint(ctx: EndpointContext): (req: IncomingMessage, res: ServerResponse, url: URL) => void {
  const { config, logger } = ctx;
  const limits = { maxSubscriptions: config.maxSubscriptions, maxHistory: config.maxHistory };
  return (req, res, url) => {
    const allowed = originAllowed(config.allowedOrigins, req.headers);
    const origin = req.headers.origin;
    const cors: Record<string, string> = origin !== undefined && allowed ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    if (req.method === 'OPTIONS' && allowed) {
      res
        .writeHead(204, { ...cors, 'access-control-allow-methods': 'GET', 'access-control-allow-headers': 'last-event-id, cache-control', 'access-control-max-age': '600' })
        .end();
      return;
    }
    if (req.method !== 'GET') return sendHttpError(res, 'method_not_allowed', 'use GET', { allow: 'GET' });
    if (!allowed) return sendHttpError(res, 'forbidden', 'origin not allowed');
    const busy = ctx.unavailable();
    if (busy !== undefined) return sendHttpError(res, 'unavailable', busy, { 'retry-after': '1', ...cors });
    const request = parseSseRequest(url, req.headers, limits);
    if (typeof request === 'string') {
      ctx.metrics.clientErrors.inc({ code: 'bad_request' });
      return sendHttpError(res, 'bad_request', request, cors);
    }
    const session = ctx.newSession();
    const client = new SseClient(req, res, request, {
      hub: ctx.hub,
      metrics: ctx.metrics,
      logger,
      node: config.nodeName,
      session,
      heartbeatMs: config.heartbeatMs,
      corsHeaders: cors,
      onClose: ctx.gone,
    });
    client.sub = ctx.identify(req);
    ctx.opened(client);
    logger.debug({ session, channels: request.channels.length }, 'sse stream opened');
  };
}
