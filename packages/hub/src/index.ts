export { Hub } from './hub.js';
export type { HubConnection } from './connection.js';
export type { Sink, HubOptions, HubStats, HubFormat, ConnectOptions } from './types.js';
export type { HubMetrics, SlowConsumerOutcome, DropReason, RecoveryResult, GapOutcome } from './metrics.js';
