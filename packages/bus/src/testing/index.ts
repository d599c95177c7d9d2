export { RedisServer, freePort, redisCli, parseInfo, waitFor, makeTestCertificates } from './redis-process.js';
export type { RedisServerOptions, TestCertificates } from './redis-process.js';
export { RedisCluster } from './redis-cluster.js';
export type { RedisClusterOptions } from './redis-cluster.js';
export { RedisSentinelGroup } from './redis-sentinel.js';
export type { RedisSentinelOptions } from './redis-sentinel.js';
export { runBusContract } from './contract.js';
export type { BusNodes, BusNodesFactory, BusContractOptions } from './contract.js';
