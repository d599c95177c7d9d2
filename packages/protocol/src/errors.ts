/**
 * The one catalogue of client-visible codes: protocol error codes (SPEC §3), WebSocket close codes
 * and HTTP error codes. docs/protocol.md lists the same table; a test keeps them in step.
 */

export const ErrorCode = {
  BadRequest: 'bad_request',
  Forbidden: 'forbidden',
  Unauthorized: 'unauthorized',
  TooManySubscriptions: 'too_many_subscriptions',
  RateLimited: 'rate_limited',
  HistoryUnavailable: 'history_unavailable',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export const ERROR_CODES: readonly ErrorCode[] = Object.values(ErrorCode);

export const CloseCode = {
  /** Normal closure. */
  Normal: 1000,
  /** Gateway draining (deploy, scale-in): reconnect after the hinted delay, resume with `since`. */
  GoingAway: 1001,
  /** Policy violation: origin not allowed, protocol abuse. Do not reconnect blindly. */
  Policy: 1008,
  /** Frame too large. */
  TooLarge: 1009,
  /** Internal server error. */
  Internal: 1011,
  /** Slow consumer could not be kept up: reconnect and resume with `since`. */
  SlowConsumer: 4000,
  /** No pong within the heartbeat window. */
  HeartbeatTimeout: 4001,
  /** Unauthorized or token expired. */
  Unauthorized: 4401,
  /** Disconnected by an operator (admin API): do not reconnect on your own. */
  OperatorDisconnect: 4403,
} as const;
export type CloseCode = (typeof CloseCode)[keyof typeof CloseCode];

/** Reasons carried by server-initiated `unsubscribed` and `gap` messages. */
export const Reason = {
  /** Publications were missed and history no longer has them. */
  HistoryExpired: 'history_expired',
  /** The channel's history and offsets were reset (e.g. Redis restarted empty). */
  EpochChanged: 'epoch_changed',
  /** The server is shutting down. */
  Shutdown: 'shutdown',
  /** A refreshed token (`auth`) no longer covers the channel. */
  Forbidden: 'forbidden',
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** HTTP error codes of the producer API and the gateway's HTTP endpoints. */
export const HttpErrorCode = {
  BadRequest: 'bad_request',
  Unauthorized: 'unauthorized',
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  MethodNotAllowed: 'method_not_allowed',
  Conflict: 'conflict',
  PayloadTooLarge: 'payload_too_large',
  UnsupportedMediaType: 'unsupported_media_type',
  TooManyRequests: 'too_many_requests',
  Unavailable: 'unavailable',
  Internal: 'internal',
} as const;
export type HttpErrorCode = (typeof HttpErrorCode)[keyof typeof HttpErrorCode];

export const HTTP_STATUS: Readonly<Record<HttpErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  too_many_requests: 429,
  unavailable: 503,
  internal: 500,
};

/** The body of every HTTP error: `{"error":{"code":"…","message":"…"}}`. */
export interface HttpErrorBody {
  error: { code: HttpErrorCode; message: string };
}

export function httpErrorBody(code: HttpErrorCode, message: string): HttpErrorBody {
  return { error: { code, message } };
}

/** A close reason carrying a JSON hint, e.g. `{"retryAfterMs":1800}`; kept under the 123-byte limit. */
export function closeReason(hint: Record<string, string | number | boolean>): string {
  const s = JSON.stringify(hint);
  return Buffer.byteLength(s) <= 123 ? s : '';
}
