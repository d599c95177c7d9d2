export {
  MAX_CHANNEL_LENGTH,
  isValidChannel,
  namespaceOf,
  UPTIME_CHANNEL,
  JOBS_CHANNEL,
  jobChannel,
} from './channel.js';
export {
  ErrorCode,
  ERROR_CODES,
  CloseCode,
  Reason,
  HttpErrorCode,
  HTTP_STATUS,
  httpErrorBody,
  closeReason,
} from './errors.js';
export type { HttpErrorBody } from './errors.js';
export type {
  StreamPosition,
  SubscribeCommand,
  UnsubscribeCommand,
  PingCommand,
  PresenceCommand,
  AuthCommand,
  AuthedMessage,
  ClientCommand,
  WelcomeMessage,
  SubscribedMessage,
  PublicationMessage,
  UnsubscribedMessage,
  GapMessage,
  PongMessage,
  PresenceMessage,
  ErrorMessage,
  ServerMessage,
} from './messages.js';
export {
  MAX_CLIENT_FRAME_BYTES,
  MAX_EPOCH_LENGTH,
  DEFAULT_PARSE_LIMITS,
  parseClientFrame,
  isValidEpoch,
} from './parse.js';
export type { ParseLimits, ParseError, ParseResult } from './parse.js';
export { MAX_ECHO_CHARS, quoteInput } from './echo.js';
export {
  MESSAGE_SEPARATOR,
  encodeServerMessage,
  encodePublicationFrame,
  decodeServerFrame,
  encodeSseId,
  decodeSseId,
} from './codec.js';
export { backoffDelay, ExponentialBackoff, FULL_JITTER, EQUAL_JITTER } from './backoff.js';
export type { BackoffPolicy } from './backoff.js';
