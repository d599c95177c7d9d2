export { MegaphoneClient } from './client.js';
export type { MegaphoneClientOptions } from './client.js';
export type { Clock } from './clock.js';
export type { SubscribeOptions } from './subscription.js';
export type { TokenOptions } from './token-keeper.js';
export type {
  ConnectionState,
  StateChange,
  MessageMeta,
  GapEvent,
  SubscribedInfo,
  Anomaly,
  ClientError,
  ClientEvents,
} from './events.js';
export { Backoff, DEFAULT_BACKOFF } from './backoff.js';
export type { BackoffOptions } from './backoff.js';
export { closeAction, retryAfterHint } from './close-policy.js';
export type { CloseAction } from './close-policy.js';
export type { WebSocketLike, WebSocketConstructor } from './websocket.js';
