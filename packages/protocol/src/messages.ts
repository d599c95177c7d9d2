import type { ErrorCode, Reason } from './errors.js';

/** A position in a channel's stream: an offset means nothing without its epoch (SPEC §2). */
export interface StreamPosition {
  epoch: string;
  offset: number;
}

// ---- client → server ------------------------------------------------------------------------

export interface SubscribeCommand {
  op: 'subscribe';
  id: number;
  channel: string;
  /** The last ≤ N publications, then live. */
  history?: number;
  /** Resume: every publication after this position, then live. Exclusive with `history`. */
  since?: StreamPosition;
}

export interface UnsubscribeCommand {
  op: 'unsubscribe';
  id: number;
  channel: string;
}

export interface PingCommand {
  op: 'ping';
  id: number;
}

/** How many subscribers a channel has across the cluster (only for a channel the client may read). */
export interface PresenceCommand {
  op: 'presence';
  id: number;
  channel: string;
}

/** Authenticate (or refresh) with a token (SPEC §10); the reply is `authed`, a bad token closes 4401. */
export interface AuthCommand {
  op: 'auth';
  id: number;
  token: string;
}

export type ClientCommand = SubscribeCommand | UnsubscribeCommand | PingCommand | PresenceCommand | AuthCommand;

// ---- server → client ------------------------------------------------------------------------

export interface WelcomeMessage {
  op: 'welcome';
  node: string;
  session: string;
  heartbeatMs: number;
}

export interface SubscribedMessage {
  op: 'subscribed';
  id: number;
  channel: string;
  epoch: string;
  /** The channel's latest offset when the subscription went live. */
  offset: number;
  /** Only present for `since`: true when every publication after `since` was delivered. */
  recovered?: boolean;
}

/** A publication. `ts` is the publish time (ms since the Unix epoch). `data` is any JSON value. */
export interface PublicationMessage {
  op: 'message';
  channel: string;
  offset: number;
  ts: number;
  data: unknown;
}

export interface UnsubscribedMessage {
  op: 'unsubscribed';
  /** Absent when the server ended the subscription itself (then `reason` says why). */
  id?: number;
  channel: string;
  reason?: Reason | string;
}

/**
 * The stream of a subscription has a hole the server could not fill: publications after the last
 * one delivered and up to `offset` (in `epoch`) are lost to this client. The subscription stays
 * live and continues with publications after `offset`. `reason` is `history_expired` (same epoch,
 * history no longer covers the hole) or `epoch_changed` (the channel was reset; offsets restart).
 */
export interface GapMessage {
  op: 'gap';
  channel: string;
  epoch: string;
  offset: number;
  reason: Reason;
}

export interface PongMessage {
  op: 'pong';
  id: number;
}

/**
 * Reply to `presence`: the channel's subscribers on every gateway of the cluster, as last reported
 * (at most `PRESENCE_INTERVAL_MS` old).
 */
export interface PresenceMessage {
  op: 'presence';
  id: number;
  channel: string;
  subscribers: number;
}

/** The token of an `auth` command was accepted; `expiresAt` is its `exp` in ms since the Unix epoch. */
export interface AuthedMessage {
  op: 'authed';
  id: number;
  sub: string;
  expiresAt: number;
}

export interface ErrorMessage {
  op: 'error';
  id?: number;
  code: ErrorCode;
  message: string;
  /** With `rate_limited` and `history_unavailable` when the server is busy: retry after this long. */
  retryAfterMs?: number;
}

export type ServerMessage =
  | WelcomeMessage
  | SubscribedMessage
  | PublicationMessage
  | UnsubscribedMessage
  | GapMessage
  | PongMessage
  | PresenceMessage
  | AuthedMessage
  | ErrorMessage;
