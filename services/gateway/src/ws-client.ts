import type { Socket } from 'node:net';
import type { WebSocket, RawData } from 'ws';
import type { Hub, HubConnection } from '@megaphone/hub';
import { CloseCode, ErrorCode, closeReason, parseClientFrame, type ClientCommand, type ParseLimits } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { ClientConnection } from './connections.js';
import type { GatewayMetrics } from './metrics.js';
import { CommandRateLimiter } from './rate-limit.js';

export interface WsClientDeps {
  hub: Hub;
  metrics: GatewayMetrics;
  logger: Logger;
  node: string;
  session: string;
  heartbeatMs: number;
  parseLimits: ParseLimits;
  maxCommandsPerSecond: number;
  onClose(client: WsClient): void;
}

/** A peer that does not answer a close frame is dropped after this long. */
const CLOSE_GRACE_MS = 5000;

/**
 * One WebSocket client: turns frames into hub commands and the hub's output into frames. Knows
 * nothing of channels or queues; the hub does.
 */
export class WsClient implements ClientConnection {
  readonly transport = 'ws' as const;
  readonly conn: HubConnection;
  private alive = true;
  private closing = false;
  /** The code this side closed with: a peer that never answers shows up as 1006 otherwise. */
  private closeCode: number | undefined;
  private closeTimer: NodeJS.Timeout | undefined;
  private readonly limiter: CommandRateLimiter;
  private readonly log: Logger;

  constructor(
    private readonly ws: WebSocket,
    socket: Socket,
    private readonly deps: WsClientDeps,
  ) {
    this.log = deps.logger;
    this.limiter = new CommandRateLimiter(deps.maxCommandsPerSecond);
    this.conn = deps.hub.connect(
      {
        // A Buffer is sent as a text frame only when asked: the hub's chunks are UTF-8 JSON lines.
        write: (chunk) => ws.send(chunk, { binary: false }),
        bufferedBytes: () => ws.bufferedAmount,
        close: (code, reason) => this.close(code, reason),
      },
      { format: 'ws' },
    );
    // The socket ws writes to: its 'drain' is when the kernel took the backlog.
    socket.on('drain', () => this.conn.drained());
    ws.on('pong', () => (this.alive = true));
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('error', (err) => this.log.debug({ err: err.message, session: deps.session }, 'websocket error'));
    ws.on('close', (peerCode) => {
      if (this.closeTimer !== undefined) clearTimeout(this.closeTimer);
      this.conn.close();
      deps.onClose(this);
      const code = this.closeCode ?? peerCode;
      deps.metrics.connectionsClosed.inc({ transport: 'ws', code: String(code) });
      this.log.debug({ session: deps.session, code }, 'websocket closed');
    });
    this.conn.send({ op: 'welcome', node: deps.node, session: deps.session, heartbeatMs: deps.heartbeatMs });
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closing) return;
    const verdict = this.limiter.take();
    if (verdict === 'abusive') {
      this.deps.metrics.clientErrors.inc({ code: ErrorCode.RateLimited });
      this.close(CloseCode.Policy, 'too many commands');
      return;
    }
    if (verdict === 'limited') {
      this.replyError(undefined, ErrorCode.RateLimited, `more than ${this.deps.maxCommandsPerSecond} commands per second`);
      return;
    }
    if (isBinary) {
      this.replyError(undefined, ErrorCode.BadRequest, 'binary frames are not accepted; send JSON text frames');
      return;
    }
    const frame = Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data);
    const parsed = parseClientFrame(frame, this.deps.parseLimits);
    if (!parsed.ok) {
      this.replyError(parsed.error.id, parsed.error.code, parsed.error.message);
      return;
    }
    this.run(parsed.command);
  }

  private run(cmd: ClientCommand): void {
    switch (cmd.op) {
      case 'ping':
        this.conn.send({ op: 'pong', id: cmd.id });
        return;
      case 'subscribe':
        this.conn.subscribe(cmd).catch((err: unknown) => this.internalError(cmd.id, err));
        return;
      case 'unsubscribe':
        this.conn.unsubscribe(cmd).catch((err: unknown) => this.internalError(cmd.id, err));
        return;
    }
  }

  private internalError(id: number, err: unknown): void {
    this.log.error({ err, session: this.deps.session }, 'command failed');
    this.replyError(id, ErrorCode.Internal, 'the command failed; try again');
  }

  private replyError(id: number | undefined, code: ErrorCode, message: string): void {
    this.deps.metrics.clientErrors.inc({ code });
    this.conn.send(id === undefined ? { op: 'error', code, message } : { op: 'error', id, code, message });
  }

  queuedBytes(): number {
    return this.ws.bufferedAmount;
  }

  heartbeat(): void {
    if (this.closing) return;
    if (!this.alive) {
      this.close(CloseCode.HeartbeatTimeout, 'no pong within the heartbeat window');
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  drain(retryAfterMs: number): void {
    this.close(CloseCode.GoingAway, closeReason({ retryAfterMs }));
  }

  terminate(): void {
    this.ws.terminate();
  }

  /** Sends the close frame (after whatever is queued); a peer that never answers is dropped. */
  close(code: number, reason: string): void {
    if (this.closing) return;
    this.closing = true;
    this.closeCode = code;
    try {
      this.ws.close(code, reason);
    } catch (err) {
      // ws refuses codes it may not send and reasons over 123 bytes: drop the connection instead.
      this.log.warn({ err, code }, 'could not send a close frame');
      this.ws.terminate();
      return;
    }
    this.closeTimer = setTimeout(() => this.ws.terminate(), CLOSE_GRACE_MS);
    this.closeTimer.unref();
  }
}
