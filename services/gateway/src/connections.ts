/** What the gateway needs from every client connection, whatever its transport. */
export interface ClientConnection {
  readonly transport: Transport;
  /**
   * Bytes queued for this client, for the per-connection histogram. The transport's buffer is the
   * whole of it between turns: the hub flushes its pending chunks at the end of every turn.
   */
  queuedBytes(): number;
  /** Called by the one heartbeat timer: ping (WebSocket) or keep-alive comment (SSE). */
  heartbeat(): void;
  /** Close for a drain, telling the client when to come back. */
  drain(retryAfterMs: number): void;
  /** Drop the connection now (shutdown). */
  terminate(): void;
}

export type Transport = 'ws' | 'sse';

/**
 * The live client connections of this node. One heartbeat timer serves all of them: per-connection
 * timers would cost one timer object per client and wake the event loop once per client.
 */
export class ConnectionSet {
  private readonly all = new Set<ClientConnection>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly heartbeatMs: number) {}

  get size(): number {
    return this.all.size;
  }

  add(conn: ClientConnection): void {
    this.all.add(conn);
    if (this.timer === undefined) {
      this.timer = setInterval(() => {
        for (const c of this.all) c.heartbeat();
      }, this.heartbeatMs);
      this.timer.unref();
    }
  }

  delete(conn: ClientConnection): void {
    this.all.delete(conn);
  }

  snapshot(): ClientConnection[] {
    return [...this.all];
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
