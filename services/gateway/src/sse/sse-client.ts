import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Framing, Hub, HubConnection, Sink } from '@megaphone/hub';
import { sseFraming } from './sse-frame.js';
import { CloseCode, type StreamPosition, type SubscribeCommand } from '@megaphone/protocol';
import type { Principal } from '@megaphone/auth';
import type { Logger } from '@megaphone/runtime';
import type { ClientConnection } from '../connections/connections.js';
import type { ExpiryEntry } from '../connections/expiry-queue.js';
import type { GatewayMetrics } from '../metrics.js';

export interface SseRequest {
  channels: readonly string[];
  history: number | undefined;
  /** Positions from `Last-Event-ID` (or `lastEventId`): those channels resume with `since`. */
  resume: ReadonlyMap<string, StreamPosition>;
}

export interface SseClientDeps {
  hub: Hub;
  metrics: GatewayMetrics;
  logger: Logger;
  node: string;
  session: string;
  heartbeatMs: number;
  /** CORS headers for an allowed cross-origin page. */
  corsHeaders: Record<string, string>;
  /** The per-address slot this stream holds. */
  address: string;
  /** The token every channel was checked against (the stream ends when it expires). */
  principal: Principal | undefined;
  onClose(client: SseClient): void;
}

const KEEPALIVE = Buffer.from(': keepalive\n\n');

/** One Server-Sent Events stream: the hub writes finished event-stream bytes into the response. */
export class SseClient implements ClientConnection, Sink {
  readonly transport = 'sse' as const;
  readonly conn: HubConnection;
  readonly connectedAt = Date.now();
  sub: string | null = null;
  readonly address: string;
  readonly principal: Principal | undefined;
  expiry: ExpiryEntry<ClientConnection> | undefined;
  private closeCode: number | undefined;
  /** Bytes the kernel had taken at the last heartbeat while some were queued (-1: nothing queued). */
  private sentAtHeartbeat = -1;

  constructor(
    req: IncomingMessage,
    private readonly res: ServerResponse,
    request: SseRequest,
    private readonly deps: SseClientDeps,
  ) {
    this.address = deps.address;
    this.principal = deps.principal;
    req.socket.setNoDelay(true);
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      'x-accel-buffering': 'no',
      connection: 'keep-alive',
      ...deps.corsHeaders,
    });
    // Headers go out now, so the client knows the stream is open before the first event.
    res.write(KEEPALIVE);
    this.conn = deps.hub.connect(this);
    res.on('drain', () => this.conn.drained());
    res.on('error', (err) => deps.logger.debug({ err: err.message, session: deps.session }, 'sse stream error'));
    res.on('close', () => {
      this.conn.close();
      deps.onClose(this);
      deps.metrics.connectionsClosed.inc({ transport: 'sse', code: String(this.closeCode ?? CloseCode.Normal) });
      deps.logger.debug({ session: deps.session }, 'sse stream closed');
    });
    this.conn.send({ op: 'welcome', node: deps.node, session: deps.session, heartbeatMs: deps.heartbeatMs });
    request.channels.forEach((channel, i) => {
      const since = request.resume.get(channel);
      const cmd: SubscribeCommand =
        since !== undefined
          ? { op: 'subscribe', id: i + 1, channel, since }
          : request.history !== undefined
            ? { op: 'subscribe', id: i + 1, channel, history: request.history }
            : { op: 'subscribe', id: i + 1, channel };
      this.conn.subscribe(cmd).catch((err: unknown) => {
        deps.logger.error({ err, session: deps.session }, 'sse subscribe failed');
        this.close(CloseCode.Internal);
      });
    });
  }

  // ---- Sink (called by the hub) ---------------------------------------------------------------

  /** One event per message, ids listing the connection's positions. */
  get framing(): Framing {
    return sseFraming;
  }

  write(chunk: Buffer): void {
    // The hub may still flush between our end() and the response's 'close'.
    if (!this.res.writableEnded) this.res.write(chunk);
  }

  bufferedBytes(): number {
    return this.res.writableLength;
  }

  /** SSE has no close codes: the stream ends (the code is kept for metrics). */
  close(code: number): void {
    if (this.res.writableEnded) return;
    this.closeCode = code;
    this.res.end();
    // A reader that stopped reading never lets end() finish: do not wait for it.
    if (code === CloseCode.SlowConsumer) this.res.destroy();
  }

  // ---- ClientConnection (called by the gateway) -----------------------------------------------

  queuedBytes(): number {
    return this.res.writableLength;
  }

  get session(): string {
    return this.deps.session;
  }

  remote(): string {
    return this.res.socket?.remoteAddress ?? '';
  }

  /**
   * SSE has no close codes and EventSource reconnects by itself: a `close` event tells a client
   * why (`{"code":4403}`), so it can close its EventSource instead of coming back.
   */
  closeByOperator(): void {
    if (this.res.writableEnded) return;
    this.res.write(`event: close\ndata: {"code":${CloseCode.OperatorDisconnect},"reason":"disconnected by an operator"}\n\n`);
    this.close(CloseCode.OperatorDisconnect);
  }

  /**
   * Keeps the stream alive, and ends it when bytes have been queued for a whole heartbeat window
   * without the kernel taking any: the client stopped reading (SSE clients send nothing to tell).
   */
  heartbeat(): void {
    if (this.res.writableEnded) return;
    const socket = this.res.socket;
    if (this.res.writableLength === 0 || socket === null) {
      this.sentAtHeartbeat = -1;
      this.res.write(KEEPALIVE);
      return;
    }
    const sent = socket.bytesWritten - socket.writableLength;
    if (sent === this.sentAtHeartbeat) {
      this.deps.logger.debug({ session: this.deps.session }, 'sse client read nothing for a heartbeat window; closing');
      this.close(CloseCode.SlowConsumer);
      return;
    }
    this.sentAtHeartbeat = sent;
  }

  /** `retry:` tells EventSource how long to wait before it reconnects (with `Last-Event-ID`). */
  drain(retryAfterMs: number): void {
    if (this.res.writableEnded) return;
    this.res.write(`retry: ${retryAfterMs}\n\n`);
    this.close(CloseCode.GoingAway);
  }

  /** SSE has no close code to carry it: the stream ends, and EventSource's reconnect gets a 401. */
  tokenExpired(): void {
    this.expiry = undefined;
    this.close(CloseCode.Unauthorized);
  }

  terminate(): void {
    this.res.destroy();
  }
}
