import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { MAX_CLIENT_FRAME_BYTES } from '@megaphone/protocol';
import type { EndpointContext } from './endpoint-context.js';
import { originAllowed } from './origin.js';
import { pathOf, refuseUpgrade } from './upgrade.js';
import { WsClient } from './ws-client.js';

/**
 * `/ws`: the upgrade is ours (`noServer`), so every refusal (path, drain, origin, capacity) is a
 * plain HTTP response sent before any WebSocket state exists.
 */
export function createWsEndpoint(ctx: EndpointContext): { onUpgrade: (req: IncomingMessage, socket: Duplex, head: Buffer) => void; close(): void } {
  const { config, logger } = ctx;
  const wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // Client frames are small commands; ws closes a connection sending more with 1009, and the
    // limit covers fragmented messages as a whole.
    maxPayload: MAX_CLIENT_FRAME_BYTES,
    clientTracking: false,
  });
  const parseLimits = { maxHistory: config.maxHistory };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', () => socket.destroy());
    if (pathOf(req) !== '/ws') return refuseUpgrade(socket, 'not_found', 'the WebSocket endpoint is /ws');
    if (!originAllowed(config.allowedOrigins, req.headers)) {
      logger.debug({ origin: req.headers.origin }, 'websocket origin refused');
      return refuseUpgrade(socket, 'forbidden', 'origin not allowed');
    }
    const busy = ctx.unavailable();
    if (busy !== undefined) return refuseUpgrade(socket, 'unavailable', busy, { 'retry-after': '1' });
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (ctx.draining) {
        ws.terminate();
        return;
      }
      const session = ctx.newSession();
      const client = new WsClient(ws, socket as Socket, {
        hub: ctx.hub,
        metrics: ctx.metrics,
        logger,
        node: config.nodeName,
        session,
        heartbeatMs: config.heartbeatMs,
        parseLimits,
        maxCommandsPerSecond: config.maxCommandsPerSecond,
        onClose: ctx.gone,
      });
      ctx.opened(client);
      logger.debug({ session, origin: req.headers.origin }, 'websocket connected');
    });
  };
  return { onUpgrade, close: () => wss.close() };
}
