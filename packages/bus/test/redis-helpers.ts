import { createLogger } from '@megaphone/runtime';
import { waitFor } from '@megaphone/testing';
import type { Bus, HistoryPolicyResolver, Publication } from '../src/bus.js';
import { parseRedisUrl, type BusConfig, type RedisBusConfig } from '../src/config.js';
import type { BusMetrics } from '../src/bus-metrics.js';
import { RedisBus } from '../src/redis-bus.js';
import type { BusNodes } from '../src/testing/contract.js';

export const quietLogger = createLogger({ level: process.env.TEST_LOG_LEVEL ?? 'silent', service: 'test', node: 'test' });

/** A standalone bus configuration for a test server's URL (`redis://` or `rediss://`). */
export function standaloneConfig(url: string, extra: Partial<Pick<RedisBusConfig, 'metaTtlMs' | 'tlsCaFile'>> = {}): BusConfig {
  const parsed = parseRedisUrl(url);
  if (typeof parsed === 'string') throw new Error(parsed);
  return { kind: 'redis', keyPrefix: 'mp', ...extra, ...parsed, mode: 'standalone' };
}

export const bigHistory: HistoryPolicyResolver = () => ({ size: 1000, ttlMs: 600_000 });

export async function redisBus(config: BusConfig, history: HistoryPolicyResolver = bigHistory, extra: { clientName?: string; metrics?: BusMetrics; startTimeoutMs?: number } = {}): Promise<RedisBus> {
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

/** Records what a bus tells its node. */
export class Recorder {
  readonly pubs: Publication[] = [];
  readonly resubscribed: string[][] = [];
  readonly readiness: { ready: boolean; at: number }[] = [];
  constructor(bus: Bus) {
    bus.setHandler({
      publication: (p) => this.pubs.push(p),
      resubscribed: (channels) => this.resubscribed.push([...channels]),
      readiness: (ready) => this.readiness.push({ ready, at: Date.now() }),
    });
  }
  on(channel: string): Publication[] {
    return this.pubs.filter((p) => p.channel === channel);
  }
}

/** Publishes until one succeeds (the bus may still be reconnecting); returns its position. */
export function publishWhenUp(bus: Bus, channel: string, dataJson: string, timeoutMs = 15_000): Promise<{ epoch: string; offset: number }> {
  return waitFor(`a publish on ${channel} to succeed`, () => bus.publish(channel, dataJson), { timeoutMs, intervalMs: 50 });
}
