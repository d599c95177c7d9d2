export { Hub } from './hub.js';
export type { Sink, HubConnection, HubOptions, HubStats, HubFormat, ConnectOptions } from './types.js';
export type { HubMetrics, SlowConsumerOutcome, DropReason, RecoveryResult, GapOutcome } from './metrics.js';
