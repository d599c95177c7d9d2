import { Redis } from 'ioredis';
import { createBus, readBusConfig, type Bus } from '@megaphone/bus';
import { EnvReader, createLogger, historyPolicyFor, readCommonConfig } from '@megaphone/runtime';
import { publish } from './publisher.js';
import type { PublisherReply, PublisherRequest } from './messages.js';

/**
 * The publisher: a child of the load generator (on the same core), so that what a system is sent
 * does not wait behind the load generator's own socket reads. In one process the publication of
 * message k+1 sat behind the reads of message k (for `Bus.publish` even a whole poll phase, as
 * ioredis auto-pipelining writes at setImmediate), publications bunched into shared turns, and a
 * low-rate comparison measured that batching as much as the servers' cost. In production the
 * producer is a process of its own too.
 */
let redis: Redis | undefined;
let bus: Bus | undefined;

async function connect(req: PublisherRequest): Promise<void> {
  const via = req.via;
  if ((via.kind === 'redis-plain' || via.kind === 'redis-socketio') && redis === undefined) {
    redis = new Redis({ port: via.redisPort, host: '127.0.0.1' });
  }
  if (via.kind === 'bus' && bus === undefined) {
    const env = new EnvReader({ REDIS_URL: `redis://127.0.0.1:${via.redisPort}`, LOG_LEVEL: 'warn' });
    const common = readCommonConfig(env);
    bus = await createBus(readBusConfig(env), {
      history: historyPolicyFor(common.namespaces),
      logger: createLogger({ level: 'warn', service: 'bench', node: 'bench-publisher' }),
      clientName: 'bench-publisher',
    });
  }
}

process.on('message', (req: PublisherRequest) => {
  void (async (): Promise<PublisherReply> => {
    await connect(req);
    const stats = await publish(req.via, req.channels, req.ratePerChannel, req.durationMs, req.payloadChars, redis, bus);
    return {
      type: 'published',
      published: stats.published,
      errors: stats.errors,
      ...(stats.firstError !== undefined ? { firstError: stats.firstError } : {}),
      perChannel: [...stats.perChannel],
    };
  })().then(
    (msg) => process.send?.(msg),
    (err: unknown) => process.send?.({ type: 'error', message: err instanceof Error ? err.message : String(err) } satisfies PublisherReply),
  );
});

process.on('disconnect', () => {
  redis?.disconnect();
  void bus?.close().finally(() => process.exit(0));
  if (bus === undefined) process.exit(0);
});
