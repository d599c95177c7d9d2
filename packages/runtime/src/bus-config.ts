import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { isValidChannel } from '@megaphone/protocol';
import type { EnvReader } from './env.js';

export interface HostPort {
  host: string;
  port: number;
}

export type RedisTopology =
  | { mode: 'standalone'; url: string }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; url?: string; sentinelUsername?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: HostPort[]; url?: string };

/**
 * `url` with Sentinel or Cluster carries only credentials, TLS (`rediss://`) and db for the data
 * nodes. `metaTtlMs`: how long an idle channel keeps its epoch and offset (REDIS_META_TTL_MS).
 * `tlsCaFile`: a PEM CA bundle trusted for `rediss://` (REDIS_TLS_CA_FILE), e.g. a private CA.
 */
export type BusConfig = { kind: 'memory' } | ({ kind: 'redis'; keyPrefix: string; metaTtlMs?: number; tlsCaFile?: string } & RedisTopology);

export interface NamespaceConfig {
  historySize: number;
  historyTtlMs: number;
}

/** Settings shared by every service: identity, logging, the bus and channel history. */
export interface CommonConfig {
  nodeName: string;
  logLevel: string;
  bus: BusConfig;
  /** History per namespace; `""` is the default namespace (channels without `:`). */
  namespaces: Readonly<Record<string, NamespaceConfig>>;
  /** Largest `data` of one publication, in bytes of JSON. */
  maxPublicationBytes: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function hostPorts(r: EnvReader, name: string, items: string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const item of items) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(item);
    if (!m || Number(m[2]) > 65535) r.problem(`${name}: "${item}" is not host:port`);
    else out.push({ host: m[1]!, port: Number(m[2]) });
  }
  if (out.length === 0 && items.length === 0) r.problem(`${name} is empty`);
  return out;
}

export function readBusConfig(r: EnvReader): BusConfig {
  const url = r.str('REDIS_URL');
  const sentinels = r.list('REDIS_SENTINELS');
  const sentinelName = r.str('REDIS_SENTINEL_NAME');
  const clusterNodes = r.list('REDIS_CLUSTER_NODES');
  const keyPrefix = r.str('REDIS_KEY_PREFIX', 'mp');
  if (!/^[A-Za-z0-9_.:-]{0,64}$/.test(keyPrefix)) r.problem('REDIS_KEY_PREFIX must be up to 64 characters of A-Z a-z 0-9 _ - . :');
  if (url !== undefined && !/^rediss?:\/\//.test(url)) r.problem('REDIS_URL must start with redis:// or rediss://');
  if (sentinels !== undefined && clusterNodes !== undefined) r.problem('REDIS_SENTINELS and REDIS_CLUSTER_NODES cannot both be set');
  // Only present when set, so the default lives in one place (RedisBus, DEFAULT_META_TTL_MS).
  let redisExtra: { metaTtlMs?: number; tlsCaFile?: string } = r.str('REDIS_META_TTL_MS') !== undefined ? { metaTtlMs: r.int('REDIS_META_TTL_MS', 0, { min: 60_000, max: 365 * 86_400_000 }) } : {};
  const tlsCaFile = r.str('REDIS_TLS_CA_FILE');
  if (tlsCaFile !== undefined) {
    if (!existsSync(tlsCaFile)) r.problem(`REDIS_TLS_CA_FILE: ${tlsCaFile} does not exist`);
    else redisExtra = { ...redisExtra, tlsCaFile };
  }
  const sentinelUsername = r.str('REDIS_SENTINEL_USERNAME');
  const sentinelPassword = r.str('REDIS_SENTINEL_PASSWORD');
  if (sentinels !== undefined) {
    if (sentinelName === undefined) r.problem('REDIS_SENTINELS needs REDIS_SENTINEL_NAME');
    return {
      kind: 'redis',
      keyPrefix,
      ...redisExtra,
      mode: 'sentinel',
      sentinels: hostPorts(r, 'REDIS_SENTINELS', sentinels),
      name: sentinelName ?? '',
      ...(url ? { url } : {}),
      ...(sentinelUsername !== undefined ? { sentinelUsername } : {}),
      ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    };
  }
  if (sentinelName !== undefined) r.problem('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS');
  if (sentinelUsername !== undefined || sentinelPassword !== undefined) r.problem('REDIS_SENTINEL_USERNAME/REDIS_SENTINEL_PASSWORD are set without REDIS_SENTINELS');
  if (clusterNodes !== undefined) {
    return { kind: 'redis', keyPrefix, ...redisExtra, mode: 'cluster', nodes: hostPorts(r, 'REDIS_CLUSTER_NODES', clusterNodes), ...(url ? { url } : {}) };
  }
  if (url !== undefined) return { kind: 'redis', keyPrefix, ...redisExtra, mode: 'standalone', url };
  return { kind: 'memory' };
}

export function readCommonConfig(r: EnvReader): CommonConfig {
  const nodeName = r.str('NODE_NAME', hostname());
  const logLevel = r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info');
  const bus = readBusConfig(r);
  const historySize = r.int('HISTORY_SIZE', 1000, { min: 0, max: 1_000_000 });
  const historyTtlMs = r.int('HISTORY_TTL_MS', 3_600_000, { min: 1000, max: 30 * 86_400_000 });
  const namespaces: Record<string, NamespaceConfig> = { '': { historySize, historyTtlMs } };
  const ns = r.json('CHANNEL_NAMESPACES');
  if (ns !== undefined) {
    if (typeof ns !== 'object' || ns === null || Array.isArray(ns)) {
      r.problem('CHANNEL_NAMESPACES must be a JSON object like {"cmd":{"historySize":5000,"historyTtlMs":86400000}}');
    } else {
      for (const [name, v] of Object.entries(ns as Record<string, unknown>)) {
        if (name !== '' && (!isValidChannel(name) || name.includes(':'))) {
          r.problem(`CHANNEL_NAMESPACES: "${name}" is not a namespace name`);
          continue;
        }
        const o = (typeof v === 'object' && v !== null ? v : {}) as Record<string, unknown>;
        const size = o.historySize ?? historySize;
        const ttl = o.historyTtlMs ?? historyTtlMs;
        const extra = Object.keys(o).filter((k) => k !== 'historySize' && k !== 'historyTtlMs');
        if (extra.length > 0) r.problem(`CHANNEL_NAMESPACES.${name}: unknown field ${extra.join(', ')}`);
        if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0 || size > 1_000_000) {
          r.problem(`CHANNEL_NAMESPACES.${name}.historySize must be an integer 0–1000000`);
        } else if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 1000) {
          r.problem(`CHANNEL_NAMESPACES.${name}.historyTtlMs must be an integer ≥ 1000`);
        } else namespaces[name] = { historySize: size, historyTtlMs: ttl };
      }
    }
  }
  const maxPublicationBytes = r.int('MAX_PUBLICATION_BYTES', 65_536, { min: 64, max: 16 * 1024 * 1024 });
  return { nodeName, logLevel, bus, namespaces, maxPublicationBytes };
}

/** History policy of a channel: its namespace's, else the default namespace's. */
export function historyPolicyFor(namespaces: Readonly<Record<string, NamespaceConfig>>) {
  return (channel: string): { size: number; ttlMs: number } => {
    const i = channel.indexOf(':');
    const ns = (i < 0 ? undefined : namespaces[channel.slice(0, i)]) ?? namespaces['']!;
    return { size: ns.historySize, ttlMs: ns.historyTtlMs };
  };
}
