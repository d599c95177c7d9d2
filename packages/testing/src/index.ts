export { waitFor, WaitAborted } from './wait.js';
export type { WaitOptions } from './wait.js';
export { freePort, portIsFree, HOST } from './ports.js';
export { RedisServer, redisCli, parseInfo, makeTestCertificates } from './redis/process.js';
export type { RedisServerOptions, TestCertificates } from './redis/process.js';
export { RedisCluster } from './redis/cluster.js';
export type { RedisClusterOptions } from './redis/cluster.js';
export { RedisSentinelGroup } from './redis/sentinel.js';
export type { RedisSentinelOptions } from './redis/sentinel.js';
