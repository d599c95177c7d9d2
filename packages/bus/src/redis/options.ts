import type { ClusterOptions, RedisOptions } from 'ioredis';
import { backoffDelay, type BackoffPolicy } from '@megaphone/protocol';
import type { RedisBusConfig } from '../config.js';

/** Timeouts of every Redis connection the bus opens (see docs/architecture.md, "Hung connections"). */
export interface RedisTimeouts {
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Every connection is PINGed this often… */
  pingIntervalMs: number;
  /** …and replaced when the reply takes longer than this. Hung-connection bound: interval + timeout. */
  pingTimeoutMs: number;
}

export const DEFAULT_TIMEOUTS: RedisTimeouts = {
  connectTimeoutMs: 3000,
  commandTimeoutMs: 3000,
  pingIntervalMs: 1000,
  pingTimeoutMs: 1500,
};

/**
 * Reconnects: 50 ms doubling to 2 s, ±25 % so that nodes do not stampede. As a window with 40 %
 * jitter: [0.6, 1] × 1.25 × (50 ms · 2ⁿ, at most 2 s) is that range exactly.
 */
export const RECONNECT_BACKOFF: BackoffPolicy = { initialMs: 62.5, maxMs: 2500, jitter: 0.4 };

/** Reconnect delay for ioredis' retry strategies (`attempt` counts from 1). */
export function retryDelay(attempt: number): number {
  return backoffDelay(RECONNECT_BACKOFF, attempt);
}

/** Credentials, TLS and db of the data nodes (parsed from REDIS_URL at config time); `ca` is trusted for TLS. */
function auth(config: RedisBusConfig, ca: Buffer | undefined): Partial<RedisOptions> {
  const out: Partial<RedisOptions> = {};
  if (config.username !== undefined) out.username = config.username;
  if (config.password !== undefined) out.password = config.password;
  if (config.db !== undefined) out.db = config.db;
  // SNI takes names only; for an IP address Node checks the certificate against the host.
  if (config.tls !== undefined) out.tls = { ...config.tls, ...(ca !== undefined ? { ca } : {}) };
  return out;
}

export type ConnectionRole = 'command' | 'subscriber';

/**
 * ioredis options, set explicitly rather than trusting defaults: no offline queue (a command while
 * disconnected fails at once instead of piling up in memory), no silent resend of in-flight commands
 * (a publish is reported failed; the producer's outbox retries), bounded timeouts, capped jittered
 * reconnects, TCP keepalive. Subscribers resubscribe themselves (subscriber.ts) so the bus knows when.
 */
export function connectionOptions(config: RedisBusConfig, role: ConnectionRole, timeouts: RedisTimeouts, clientName?: string, tlsCa?: Buffer): RedisOptions {
  const base: RedisOptions = {
    // CLIENT SETNAME refuses spaces and newlines (and the connection with it): keep names plain.
    ...(clientName !== undefined ? { connectionName: `${clientName.replace(/[^A-Za-z0-9_.:-]/g, '_')}:${role === 'command' ? 'cmd' : 'sub'}` } : {}),
    lazyConnect: true,
    enableOfflineQueue: false,
    autoResendUnfulfilledCommands: false,
    autoResubscribe: false,
    maxRetriesPerRequest: 0,
    enableReadyCheck: true,
    connectTimeout: timeouts.connectTimeoutMs,
    commandTimeout: timeouts.commandTimeoutMs,
    keepAlive: 5000,
    noDelay: true,
    enableAutoPipelining: role === 'command',
    retryStrategy: retryDelay,
    // A demoted master answers writes with READONLY: reconnect (Sentinel then names the new master); never resend.
    ...(role === 'command' ? { reconnectOnError: (err: Error) => (err.message.startsWith('READONLY') ? 1 : false) } : {}),
  };
  Object.assign(base, auth(config, tlsCa));
  if (config.mode === 'standalone') return { ...base, host: config.host, port: config.port };
  if (config.mode === 'sentinel') {
    // ioredis uses `tls` for Sentinel-resolved masters only with enableTLSForSentinelMode, and
    // `sentinelTLS` for the Sentinels: a rediss:// URL means TLS for both.
    const tls = base.tls !== undefined ? { enableTLSForSentinelMode: true, sentinelTLS: base.tls } : {};
    return {
      ...base,
      ...tls,
      sentinels: config.sentinels.map((s) => ({ host: s.host, port: s.port })),
      name: config.name,
      role: 'master',
      // Listen for +switch-master on the Sentinels and reconnect at once instead of waiting for the old master to fail.
      failoverDetector: true,
      sentinelRetryStrategy: retryDelay,
      sentinelMaxConnections: 3,
      ...(config.sentinelPassword !== undefined ? { sentinelPassword: config.sentinelPassword } : {}),
      ...(config.sentinelUsername !== undefined ? { sentinelUsername: config.sentinelUsername } : {}),
    };
  }
  return base;
}

export function clusterOptions(config: RedisBusConfig, timeouts: RedisTimeouts, clientName?: string, tlsCa?: Buffer): ClusterOptions {
  const node = connectionOptions(config, 'command', timeouts, clientName, tlsCa);
  return {
    redisOptions: { ...node, enableAutoPipelining: false },
    enableOfflineQueue: false,
    enableReadyCheck: true,
    enableAutoPipelining: true,
    scaleReads: 'master',
    maxRedirections: 16,
    retryDelayOnFailover: 100,
    retryDelayOnClusterDown: 100,
    retryDelayOnTryAgain: 100,
    retryDelayOnMoved: 0,
    slotsRefreshTimeout: timeouts.commandTimeoutMs,
    slotsRefreshInterval: 5000,
    clusterRetryStrategy: retryDelay,
    lazyConnect: true,
  };
}
