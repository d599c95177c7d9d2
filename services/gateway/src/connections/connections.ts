import type { Principal } from '@megaphone/auth';
import type { HubConnection } from '@megaphone/hub';
import type { ExpiryEntry } from './expiry-queue.js';

/** What the gateway needs from every client connection, whatever its transport. */
export interface ClientConnection {
  readonly transport: Transport;
  /** The `session` of its `welcome`: the connection's id in the operator API. */
  readonly session: string;
  /** ms since the Unix epoch. */
  readonly connectedAt: number;
  /**
   * Who the client is (the token's `sub`, SPEC §10), or null without a token. Set by whatever
   * authenticates the connection; the operator API lists it and `POST /v1/disconnect` matches it.
   */
  sub: string | null;
  /** What the hub holds for it (queue, subscriptions, positions). */
  readonly conn: HubConnection;
  /** The peer's address, read when asked. */
  remote(): string;
  /** Closed by an operator (admin API): 4403, and the client does not reconnect on its own. */
  closeByOperator(): void;
  /** The client address its per-address slot is counted under (see `limitKey`). */
  readonly address: string;
  /** The token it authenticated with, if any (`sub` is what operators see). */
  readonly principal: Principal | undefined;
  /** Its place in the one expiry queue while it holds a token. */
  expiry: ExpiryEntry<ClientConnection> | undefined;
  /** The token expired without a refresh: close with 4401 (WebSocket) or end the stream (SSE). */
  tokenExpired(): void;
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

  /** Iterates the live connections (the operator API scans them when asked). */
  values(): IterableIterator<ClientConnection> {
    return this.all.values();
  }

  snapshot(): ClientConnection[] {
    return [...this.all];
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}
