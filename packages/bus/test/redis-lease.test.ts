import type { BusConfig } from '../src/config.js';
import { RedisCluster, RedisSentinelGroup, RedisServer } from '@megaphone/testing';
import { runLeaseContract, type LeaseNodes } from '../src/testing/lease-contract.js';
import { redisBus } from './redis-helpers.js';

function twoNodes(config: () => BusConfig): () => Promise<LeaseNodes> {
  return async () => {
    const a = await redisBus(config(), undefined, { clientName: 'lease-a' });
    const b = await redisBus(config(), undefined, { clientName: 'lease-b' });
    return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
  };
}

let server: RedisServer | undefined;
runLeaseContract(
  'RedisBus on standalone Redis',
  twoNodes(() => ({ kind: 'redis', keyPrefix: 'mp', mode: 'standalone', host: '127.0.0.1', port: server!.port })),
  { before: async () => void (server = await RedisServer.start()), after: async () => server?.close() },
);

let cluster: RedisCluster | undefined;
runLeaseContract(
  'RedisBus on a 3-master Redis Cluster',
  twoNodes(() => ({ kind: 'redis', keyPrefix: 'mp', mode: 'cluster', nodes: cluster!.seeds })),
  { before: async () => void (cluster = await RedisCluster.start()), after: async () => cluster?.close() },
);

let sentinel: RedisSentinelGroup | undefined;
runLeaseContract(
  'RedisBus through Sentinel',
  twoNodes(() => ({ kind: 'redis', keyPrefix: 'mp', mode: 'sentinel', sentinels: sentinel!.sentinelAddresses, name: sentinel!.name })),
  { before: async () => void (sentinel = await RedisSentinelGroup.start()), after: async () => sentinel?.close() },
);
