export { BusUnavailableError, FencedError, MAX_CONTROL_MESSAGE_BYTES } from './bus.js';
export type {
  Bus,
  BusHandler,
  Publication,
  ControlListener,
  HistoryQuery,
  HistoryResult,
  HistoryPolicy,
  HistoryPolicyResolver,
  PublishOptions,
} from './bus.js';
export { hasLease } from './lease.js';
export { inProcessLease } from './memory-lease.js';
export type { Lease, LeaseHolder } from './lease.js';
export { MemoryBus } from './memory-bus.js';
export type { MemoryBusOptions } from './memory-bus.js';
export { newEpoch } from './epoch.js';
export { readBusConfig, parseRedisUrl } from './config.js';
export type { BusConfig, RedisBusConfig, RedisTopology, RedisAuth, RedisUrl, HostPort } from './config.js';
export { createBus } from './create-bus.js';
export type { CreateBusOptions } from './create-bus.js';
export { RedisBus, DEFAULT_META_TTL_MS } from './redis-bus.js';
export type { RedisBusOptions } from './redis-bus.js';
export type { BusMetrics } from './bus-metrics.js';
export type { RedisTimeouts } from './redis/options.js';
