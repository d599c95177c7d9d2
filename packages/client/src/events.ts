import type { StreamPosition } from '@megaphone/protocol';

export type ConnectionState = 'idle' | 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface StateChange {
  state: ConnectionState;
  /** The gateway node, from `welcome` (set while `open`). */
  node?: string;
  /** While `reconnecting`: how long until the next attempt, and which attempt it is. */
  delayMs?: number;
  attempt?: number;
  /** The close that caused this change, if any. */
  closeCode?: number;
  closeReason?: string;
}

/** Where a publication sits in its channel. */
export interface MessageMeta {
  channel: string;
  epoch: string;
  offset: number;
  /** Publish time, ms since the Unix epoch. */
  ts: number;
}

/**
 * The stream of a subscription is not contiguous, and the application is told so — never silently:
 * - `reset`: a resume (`since`) could not be honoured (history expired or the channel's epoch
 *   changed); the subscription restarts from `to` in `epoch`.
 * - `lost`: the server announced a hole (`gap` message): publications after `from` up to `to` are lost.
 * - `skipped`: the client itself saw a non-consecutive offset (a server bug); delivery continues.
 */
export interface GapEvent {
  channel: string;
  kind: 'reset' | 'lost' | 'skipped';
  /** The last position the application had seen, if any. */
  from?: StreamPosition;
  epoch: string;
  /** The stream continues after this offset. */
  to: number;
  reason: string;
}

export interface SubscribedInfo {
  channel: string;
  epoch: string;
  /** The channel's latest offset when the subscription went live. */
  offset: number;
  /** True when this (re)subscription resumed from a known position without loss. */
  recovered: boolean;
  /** True for every subscription after the first one (after a reconnect). */
  resubscribed: boolean;
}

/** Something in the stream the protocol promises never happens; reported, and dropped if a duplicate. */
export interface Anomaly {
  channel: string;
  kind: 'duplicate' | 'skipped' | 'unexpected';
  offset?: number;
  expected?: number;
  message: string;
}

export interface ClientError {
  /**
   * `unauthorized` (4401: get a new token, then `connect()`), `fatal` (1008/1009: not reconnecting),
   * `disconnected` (4403: an operator cut this client off; not reconnecting until `connect()`),
   * `subscribe` (a subscribe command was refused), `protocol` (an unparseable frame).
   */
  kind: 'unauthorized' | 'fatal' | 'disconnected' | 'subscribe' | 'protocol';
  channel?: string;
  code?: string | number;
  message: string;
}

/** What `MegaphoneClient` emits (`client.on(name, listener)`). */
export interface ClientEvents extends Record<string, unknown[]> {
  state: [StateChange];
  welcome: [{ node: string; session: string; heartbeatMs: number }];
  /** The gateway accepted the token (on connect and on every refresh). */
  authed: [{ sub: string; expiresAt: number }];
  gap: [GapEvent];
  anomaly: [Anomaly];
  error: [ClientError];
}
