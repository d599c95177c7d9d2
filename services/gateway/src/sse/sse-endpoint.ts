import type { IncomingMessage, ServerResponse } from 'node:http';
import { bearerToken, readAccess, type Principal } from '@megaphone/auth';
import type { EndpointContext } from '../connections/endpoint-context.js';
import { sendHttpError } from '../http/http-error.js';
import { originAllowed } from '../http/origin.js';
import { SseClient, type SseRequest } from './sse-client.js';
import { parseSseRequest } from './sse-request.js';

/**
 * `GET /sse?channel=…` (SPEC §4), with the WebSocket's origin rules and CORS for allowed pages.
 * Tokens (SPEC §10) come as `?token=` (EventSource cannot send headers) or `Authorization`; every
 * requested channel is checked once, before the stream opens. The query string is never logged.
 */
export function createSseEndpoint(ctx: EndpointContext): (req: IncomingMessage, res: ServerResponse, url: URL) => void {
  const { config, logger } = ctx;
  const limits = { maxSubscriptions: config.maxSubscriptions, maxHistory: config.maxHistory };

  const open = (req: IncomingMessage, res: ServerResponse, request: SseRequest, address: string, principal: Principal | undefined, cors: Record<string, string>): void => {
    const session = ctx.newSession();
    const client = new SseClient(req, res, request, {
      hub: ctx.hub,
      metrics: ctx.metrics,
      logger,
      node: config.nodeName,
      session,
      heartbeatMs: config.heartbeatMs,
      corsHeaders: cors,
      address,
      principal,
      onClose: ctx.gone,
    });
    client.sub = principal?.sub ?? ctx.identify(req);
    ctx.opened(client);
    logger.debug({ session, channels: request.channels.length, sub: client.sub }, 'sse stream opened');
  };

  return (req, res, url) => {
    const allowed = originAllowed(config.allowedOrigins, req.headers, ctx.addresses.scheme(req));
    const origin = req.headers.origin;
    const cors: Record<string, string> = origin !== undefined && allowed ? { 'access-control-allow-origin': origin, vary: 'origin' } : {};
    if (req.method === 'OPTIONS' && allowed) {
      res
        .writeHead(204, {
          ...cors,
          'access-control-allow-methods': 'GET',
          'access-control-allow-headers': 'last-event-id, cache-control, authorization',
          'access-control-max-age': '600',
        })
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
    const { key, admission } = ctx.admitAddress(req);
    if (!admission.ok) return sendHttpError(res, 'too_many_requests', admission.reason, { 'retry-after': String(admission.retryAfterSec), ...cors });
    const refuse = (code: 'unauthorized' | 'forbidden', message: string): void => {
      ctx.limits.release(key);
      ctx.metrics.clientErrors.inc({ code });
      sendHttpError(res, code, message, code === 'unauthorized' ? { 'www-authenticate': 'Bearer', ...cors } : cors);
    };
    const check = (principal: Principal | undefined): void => {
      if (res.destroyed) {
        ctx.limits.release(key);
        return;
      }
      for (const channel of request.channels) {
        const access = readAccess(ctx.verifier.publicPatterns, principal, channel);
        if (access === 'unauthorized') return refuse('unauthorized', `"${channel}" is not public: pass a token (?token=… or Authorization: Bearer …)`);
        if (access === 'forbidden') return refuse('forbidden', `your token does not allow reading "${channel}"`);
      }
      open(req, res, request, key, principal, cors);
    };
    const token = ctx.verifier.enabled ? (bearerToken(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined) : undefined;
    if (token === undefined) return check(undefined);
    ctx.verifier.verify(token).then(check, (err: unknown) => refuse('unauthorized', err instanceof Error ? err.message : 'the token is not valid'));
  };
}
