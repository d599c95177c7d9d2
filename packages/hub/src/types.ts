import type { Bus } from '@megaphone/bus';
import type { ServerMessage, SubscribeCommand, UnsubscribeCommand } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { HubMetrics } from './metrics.js';

/**
 * Where one connection's bytes go. The hub never imports ws or http: the gateway adapts a
 * WebSocket or an SSE response to this.
 */
export interface Sink {
  /** One chunk: for 'ws' one text frame (messages joined by '\n'); for 'sse' raw event-stream bytes. */
  write(chunk: Buffer): void;
  /** Bytes handed to the transport but not yet on the network (ws.bufferedAmount, res.writableLength). */
  bufferedBytes(): number;
  /** End the connection (WS close code + reason; an SSE sink ends the response). */
  close(code: number, reason: string): void;
}

export type HubFormat = 'ws' | 'sse';

export interface ConnectOptions {
  /** 'ws' (default): messages joined by '\n' per write; 'sse': one event per message. */
  format?: HubFormat;
}

export interface HubOptions {
  bus: Bus;
  /** Per-connection cap on hub-pending bytes + `sink.bufferedBytes()` (SPEC §7). */
  maxQueueBytes: number;
  maxSubscriptionsPerConnection: number;
  /** State-like channels (uptime): a lagging connection gets only the latest publication. */
  conflate?: (channel: string) => boolean;
  /** Plain callbacks; the gateway wires them to prom-client. Missing ones are no-ops. */
  metrics?: Partial<HubMetrics>;
  logger?: Logger;
  /** Clock for delivery latency (ms since the Unix epoch). */
  now?: () => number;
}

export interface HubStats {
  connections: number;
  /** Channels this node holds a bus subscription for (or is taking one). */
  channels: number;
  subscriptions: number;
  /** Hub-pending + transport-buffered bytes over all connections (reads every sink). */
  queuedBytes: number;
  /** Publications held by the hub: this turn's batches and those held while a gap is filled. */
  pendingMessages: number;
  /** Connections over their cap, waiting to drain. */
  laggingConnections: number;
}

/** What the gateway holds for one client connection. */
export interface HubConnection {
  readonly id: number;
  /**
   * Replies `subscribed` (or `error`) on this connection, then the replay, then live — in order.
   * Errors: `bad_request` for a channel this connection already subscribes to (or is joining),
   * `too_many_subscriptions` past the limit, `history_unavailable` when history cannot be read,
   * `internal` when the bus subscription fails. Resolves once the reply is queued.
   */
  subscribe(cmd: SubscribeCommand): Promise<void>;
  /** Replies `unsubscribed` with the command's id (also when it was not subscribed). */
  unsubscribe(cmd: UnsubscribeCommand): Promise<void>;
  /** Queue a control message (welcome, pong, error) in order with everything else. */
  send(msg: ServerMessage): void;
  /** The transport drained (ws socket 'drain' / res 'drain'): the hub resumes and catches up. */
  drained(): void;
  /** The transport is gone: release subscriptions. Idempotent. */
  close(): void;
}
