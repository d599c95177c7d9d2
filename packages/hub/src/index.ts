export { Hub } from './hub.js';
export type { Sink, Framing, Positions, HubConnection, HubOptions, HubStats } from './types.js';
export type { ConnectionState, ChannelPosition, ConnectionInspection } from './inspect.js';
export type { HubMetrics, SlowConsumerOutcome, DropReason, RecoveryResult, GapOutcome } from './metrics.js';
