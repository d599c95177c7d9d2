import type { BusConfig } from '../src/config.js';
import { RedisCluster, RedisSentinelGroup, RedisServer } from '@megaphone/testing';
import { runBusContract } from '../src/testing/contract.js';
import { redisNodes, standaloneConfig } from './redis-helpers.js';

let server: RedisServer | undefined;
runBusContract(
  'RedisBus on standalone Redis',
  redisNodes(() => standaloneConfig(server!.url)),
  {
    before: async () => {
      server = await RedisServer.start();
    },
    after: async () => server?.close(),
  },
);

let cluster: RedisCluster | undefined;
runBusContract(
  'RedisBus on a 3-master Redis Cluster (sharded pub/sub)',
  redisNodes((): BusConfig => ({ kind: 'redis', keyPrefix: 'mp', mode: 'cluster', nodes: cluster!.seeds })),
  {
    before: async () => {
      cluster = await RedisCluster.start();
    },
    after: async () => cluster?.close(),
  },
);

let sentinel: RedisSentinelGroup | undefined;
runBusContract(
  'RedisBus through Sentinel (1 master, 1 replica, 3 sentinels)',
  redisNodes((): BusConfig => ({ kind: 'redis', keyPrefix: 'mp', mode: 'sentinel', sentinels: sentinel!.sentinelAddresses, name: sentinel!.name })),
  {
    before: async () => {
      sentinel = await RedisSentinelGroup.start();
    },
    after: async () => sentinel?.close(),
  },
);

let tlsServer: RedisServer | undefined;
runBusContract(
  'RedisBus over TLS (rediss://, private CA from REDIS_TLS_CA_FILE)',
  redisNodes(() => standaloneConfig(tlsServer!.url, { tlsCaFile: tlsServer!.certificates!.caFile })),
  {
    before: async () => {
      tlsServer = await RedisServer.start({ tls: true });
    },
    after: async () => tlsServer?.close(),
  },
);
