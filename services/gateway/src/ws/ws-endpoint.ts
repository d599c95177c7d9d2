import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { bearerToken, readAccess, type Principal } from '@megaphone/auth';
import { MAX_CLIENT_FRAME_BYTES } from '@megaphone/protocol';
import type { EndpointContext } from '../connections/endpoint-context.js';
import { originAllowed } from '../http/origin.js';
import { pathOf, refuseUpgrade } from './upgrade.js';
import { WsClient, type WsShared } from './ws-client.js';
import { GatewayWebSocket } from './ws-socket.js';

/** Until ws takes the socket over (it adds its own handler), a socket error just ends it. */
function destroyOnError(this: Duplex): void {
  this.destroy();
}

/**
 * `/ws`: the upgrade is ours (`noServer`), so every refusal (path, origin, drain, capacity) is a
 * plain HTTP response sent before any WebSocket state exists.
 */
export function createWsEndpoint(ctx: EndpointContext): { onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void; close(): void } {
  const { config, logger } = ctx;
  const wss = new WebSocketServer({
    noServer: true,
    WebSocket: GatewayWebSocket,
    perMessageDeflate: false,
    // Client frames are small commands; ws closes a connection sending more with 1009, and the
    // limit covers fragmented messages as a whole.
    maxPayload: MAX_CLIENT_FRAME_BYTES,
    clientTracking: false,
    // The protocol has no subprotocol: one a client offers is not echoed back as if it were spoken.
    handleProtocols: () => false,
  });
  const shared: WsShared = {
    hub: ctx.hub,
    metrics: ctx.metrics,
    logger,
    node: config.nodeName,
    heartbeatMs: config.heartbeatMs,
    parseLimits: { maxHistory: config.maxHistory },
    maxCommandsPerSecond: config.maxCommandsPerSecond,
    maxChannelsPerMinute: config.maxChannelsPerMinute,
    verifier: ctx.verifier,
    publicChannels: ctx.verifier.publicPatterns,
    onToken: (client, validUntil) => ctx.tokenChanged(client, validUntil),
    onClose: ctx.gone,
    presence: ctx.presence,
    canRead: (client, channel) => readAccess(ctx.verifier.publicPatterns, client.principal, channel) === 'ok',
  };
  const accept = (ws: GatewayWebSocket, socket: Duplex, address: string, principal: Principal | undefined, sub: string | null, release: () => void): void => {
    socket.off('error', destroyOnError);
    if (ctx.draining) {
      ws.terminate();
      return;
    }
    // From here the connection owns its address slot (given back by `ctx.gone`).
    socket.off('close', release);
    const session = ctx.newSession();
    const client = new WsClient(ws, socket as Socket, session, shared, address, principal);
    if (principal === undefined) client.sub = sub;
    ctx.opened(client);
    logger.debug({ session, sub: client.sub }, 'websocket connected');
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    if (pathOf(req) !== '/ws') return refuseUpgrade(socket, 'not_found', 'the WebSocket endpoint is /ws');
    if (!ctx.hostAllowed(req)) return refuseUpgrade(socket, 'forbidden', 'this gateway does not serve that host name (GATEWAY_ALLOWED_HOSTS)');
    if (!originAllowed(config.allowedOrigins, req.headers, ctx.addresses.scheme(req))) {
      logger.debug({ origin: req.headers.origin }, 'websocket origin refused');
      return refuseUpgrade(socket, 'forbidden', 'origin not allowed');
    }
    const busy = ctx.unavailable();
    if (busy !== undefined) return refuseUpgrade(socket, 'unavailable', busy, { 'retry-after': '1' });
    const { key, admission } = ctx.admitAddress(req);
    if (!admission.ok) return refuseUpgrade(socket, 'too_many_requests', admission.reason, { 'retry-after': String(admission.retryAfterSec) });
    let held = true;
    const release = (): void => {
      if (held) ctx.limits.release(key);
      held = false;
    };
    socket.once('close', release);
    const sub = ctx.identify(req);
    const token = ctx.verifier.enabled ? bearerToken(req.headers.authorization) : undefined;
    // The callbacks must not close over `req` beyond the handshake: it would keep the request and
    // its headers alive for the connection's lifetime.
    if (token === undefined) {
      wss.handleUpgrade(req, socket, head, (ws) => accept(ws as GatewayWebSocket, socket, key, undefined, sub, release));
      return;
    }
    ctx.verifier.verify(token).then(
      (principal) => {
        if (socket.destroyed) return;
        wss.handleUpgrade(req, socket, head, (ws) => accept(ws as GatewayWebSocket, socket, key, principal, sub, release));
      },
      (err: unknown) => {
        ctx.metrics.clientErrors.inc({ code: 'unauthorized' });
        refuseUpgrade(socket, 'unauthorized', err instanceof Error ? err.message : 'the token is not valid', { 'www-authenticate': 'Bearer' });
      },
    );
  };
  return { onUpgrade, close: () => wss.close() };
}
