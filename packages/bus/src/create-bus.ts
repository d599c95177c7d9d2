import type { Logger } from '@megaphone/runtime';
import type { BusConfig } from './config.js';
import type { Bus, HistoryPolicyResolver } from './bus.js';
import type { BusMetrics } from './bus-metrics.js';
import { MemoryBus } from './memory-bus.js';

export interface CreateBusOptions {
  history: HistoryPolicyResolver;
  logger: Logger;
  /** A name for this bus's Redis connections (`CLIENT SETNAME`), e.g. `gw-2`. */
  clientName?: string;
  /** Callbacks for `megaphone_bus_*` metrics (Redis only; the embedded bus is always connected). */
  metrics?: BusMetrics;
}

/** The bus a service's configuration asks for: Redis when configured, else the embedded one. */
export async function createBus(config: BusConfig, opts: CreateBusOptions): Promise<Bus> {
  if (config.kind === 'memory') return new MemoryBus({ history: opts.history });
  const { RedisBus } = await import('./redis-bus.js');
  return RedisBus.create(config, opts);
}
