import type { Bus, Publication } from '@megaphone/bus';
import type { Reason, ServerMessage, StreamPosition, SubscribeCommand, UnsubscribeCommand } from '@megaphone/protocol';
import type { Logger } from '@megaphone/runtime';
import type { HubMetrics } from './metrics.js';

/** A connection's positions, channel by channel in subscription order (what an SSE id lists). */
export interface Positions {
  positions(): Iterable<readonly [channel: string, position: StreamPosition]>;
}

/**
 * How a transport turns messages into bytes. The sink supplies it; the hub never knows which
 * transport it writes to. One object per transport, shared by all its connections.
 */
export interface Framing {
  /**
   * One message: a publication's frame (`op` 'message', as the publisher encoded it) or an encoded
   * control message. `at` is the connection's positions including this message.
   */
  message(op: ServerMessage['op'], json: Buffer, at: Positions): Buffer;
  /**
   * Optional, for framings whose bytes do not depend on the connection: `pubs[from…]` as one
   * chunk. With it, a channel frames its batch once per turn and hands the same Buffer to every
   * subscriber at the same position; without it, each publication goes through `message`.
   */
  run?(pubs: readonly Publication[], from: number): Buffer;
  /** One connection's chunks of one turn as one write (chunk order kept). */
  join(first: Buffer, rest: readonly Buffer[]): Buffer;
}

/**
 * Where one connection's bytes go. The hub never imports ws or http: the gateway adapts a
 * WebSocket or an SSE response to this.
 */
export interface Sink {
  readonly framing: Framing;
  /** One chunk, as the framing built it. */
  write(chunk: Buffer): void;
  /** Bytes handed to the transport but not yet on the network (ws.bufferedAmount, res.writableLength). */
  bufferedBytes(): number;
  /** End the connection (WS close code + reason; an SSE sink ends the response). */
  close(code: number, reason: string): void;
}

export interface HubOptions {
  bus: Bus;
  /** Per-connection cap on hub-pending bytes + `sink.bufferedBytes()` (SPEC §7). */
  maxQueueBytes: number;
  maxSubscriptionsPerConnection: number;
  /**
   * History reads the node runs against the bus at once (identical reads of a channel are one);
   * joins that would wait behind 64× as many are refused with `history_unavailable` (default 32).
   */
  maxHistoryReads?: number;
  /** History reads one connection may have in flight; its other joins and catch-ups wait (default 4). */
  maxHistoryReadsPerConnection?: number;
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
  /** History reads running against the bus, and reads waiting for a slot. */
  historyReadsInFlight: number;
  historyReadsWaiting: number;
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
  /** Ends a subscription from the server side: `unsubscribed` without id, with `reason` (nothing if not subscribed). */
  end(channel: string, reason: Reason): Promise<void>;
  /** The channels this connection subscribes to (or is joining), in subscription order. */
  channels(): string[];
  /** Queue a control message (welcome, pong, error) in order with everything else. */
  send(msg: ServerMessage): void;
  /** The transport drained (ws socket 'drain' / res 'drain'): the hub resumes and catches up. */
  drained(): void;
  /** The transport is gone: release subscriptions. Idempotent. */
  close(): void;
  /** Hub-pending plus transport-buffered bytes (0 once closed). */
  queuedBytes(): number;
  /** The most publications any of its subscriptions is behind its channel on this node. */
  maxLag(): number;
  /** live, catching_up or paused (inspect.ts), computed when asked. */
  state(): ConnectionState;
  /** Queue, state and per-channel position, computed when asked (operator API). */
  inspect(): ConnectionInspection;
}

/**
 * What the operator API shows of one connection (SPEC §11): `paused` while it is over its queue
 * cap and waits for its transport to drain, `catching_up` while a subscription joins or reads
 * history, `live` otherwise.
 */
export type ConnectionState = 'live' | 'catching_up' | 'paused';

export interface ChannelPosition {
  channel: string;
  /** Offset of the last publication queued for this connection. */
  offset: number;
  /** Publications this node has accepted on the channel that the connection has not been given. */
  lag: number;
}

export interface ConnectionInspection {
  queueBytes: number;
  state: ConnectionState;
  channels: ChannelPosition[];
}
