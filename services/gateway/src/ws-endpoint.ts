import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { MAX_CLIENT_FRAME_BYTES } from '@megaphone/protocol';
import type { EndpointContext } from './endpoint-context.js';
import { originAllowed } from './origin.js';
import { pathOf, refuseUpgrade } from './upgrade.js';
import { GatewayWebSocket, WsClient, type WsShared } from './ws-client.js';

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
    onClose: ctx.gone,
    presence: ctx.presence,
    canRead: () => true,
  };
  const accept = (ws: GatewayWebSocket, socket: Duplex, origin: string | undefined, sub: string | null): void => {
    socket.off('error', destroyOnError);
    if (ctx.draining) {
      ws.terminate();
      return;
    }
    const session = ctx.newSession();
    const client = new WsClient(ws, socket as Socket, session, shared);
    client.sub = sub;
    ctx.opened(client);
    logger.debug({ session, origin }, 'websocket connected');
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroyOnError);
    if (pathOf(req) !== '/ws') return refuseUpgrade(socket, 'not_found', 'the WebSocket endpoint is /ws');
    if (!originAllowed(config.allowedOrigins, req.headers)) {
      logger.debug({ origin: req.headers.origin }, 'websocket origin refused');
      return refuseUpgrade(socket, 'forbidden', 'origin not allowed');
    }
    const busy = ctx.unavailable();
    if (busy !== undefined) return refuseUpgrade(socket, 'unavailable', busy, { 'retry-after': '1' });
    const origin = req.headers.origin;
    const sub = ctx.identify(req);
    // The callback must not close over `req`: it would keep the request and its headers alive
    // for the connection's lifetime.
    wss.handleUpgrade(req, socket, head, (ws) => accept(ws as GatewayWebSocket, socket, origin, sub));
  };
  return { onUpgrade, close: () => wss.close() };
}
