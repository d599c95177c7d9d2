import type { BusConfig } from '@megaphone/runtime';
import { createLogger } from '@megaphone/runtime';
import type { Bus, HistoryPolicyResolver } from '../src/bus.js';
import type { BusMetrics } from '../src/bus-metrics.js';
import { RedisBus } from '../src/redis-bus.js';
import type { BusNodes } from '../src/testing/contract.js';

export const quietLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', service: 'test', node: 'test' });

export const bigHistory: HistoryPolicyResolver = () => ({ size: 1000, ttlMs: 600_000 });

export async function redisBus(config: BusConfig, history: HistoryPolicyResolver = bigHistory, extra: { clientName?: string; metrics?: BusMetrics } = {}): Promise<RedisBus> {
  return RedisBus.create(config, { history, logger: quietLogger, ...extra });
}

/** Contract-suite nodes: a separate RedisBus per node, all on one Redis deployment. */
export function redisNodes(config: () => BusConfig): (history: HistoryPolicyResolver) => Promise<BusNodes> {
  return async (history) => {
    const made: Bus[] = [];
    return {
      node: async () => {
        const bus = await redisBus(config(), history, { clientName: `node${made.length}` });
        made.push(bus);
        return bus;
      },
      close: async () => {
        await Promise.all(made.map((b) => b.close()));
      },
    };
  };
}
