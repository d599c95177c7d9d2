import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import type { EnvReader } from '@megaphone/runtime';

export interface HostPort {
  host: string;
  port: number;
}

/**
 * What the data nodes' connections need besides an address, from `REDIS_URL`: credentials, db and
 * TLS. `tls` present means `rediss://`; its `servername` (SNI) is the URL's host when that is a name.
 */
export interface RedisAuth {
  username?: string;
  password?: string;
  db?: number;
  tls?: { servername?: string };
}

export type RedisTopology =
  | { mode: 'standalone'; host: string; port: number }
  | { mode: 'sentinel'; sentinels: HostPort[]; name: string; sentinelUsername?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: HostPort[] };

/**
 * `metaTtlMs`: how long an idle channel keeps its epoch and offset (REDIS_META_TTL_MS; the default
 * is RedisBus' DEFAULT_META_TTL_MS). `tlsCaFile`: a PEM CA bundle trusted for TLS (REDIS_TLS_CA_FILE).
 */
export type RedisBusConfig = { kind: 'redis'; keyPrefix: string; metaTtlMs?: number; tlsCaFile?: string } & RedisAuth & RedisTopology;

export type BusConfig = { kind: 'memory' } | RedisBusConfig;

/** A `redis://` or `rediss://` URL taken apart once; `host` is `''` when the URL names none. */
export type RedisUrl = HostPort & RedisAuth;

const unbracket = (host: string): string => host.replace(/^\[|\]$/g, '');

/**
 * Parses `redis://[user:pass@]host[:port][/db]` or `rediss://…`; returns the problem as a string
 * (naming `name`) instead of throwing, so a bad URL is one listed configuration error.
 */
export function parseRedisUrl(url: string, name = 'REDIS_URL'): RedisUrl | string {
  if (!/^rediss?:\/\//i.test(url)) return `${name} must start with redis:// or rediss://`;
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    // The URL itself never goes into the message: it may hold a password.
    return `${name} is not a valid URL (redis://[user:pass@]host[:port][/db], port 1–65535)`;
  }
  const host = unbracket(u.hostname);
  const port = u.port === '' ? 6379 : Number(u.port);
  if (port === 0) return `${name}: port 0 is not a Redis port`;
  if (u.search !== '' || u.hash !== '') return `${name}: query strings and fragments are not supported`;
  const path = u.pathname.replace(/^\//, '');
  if (path !== '' && !/^\d{1,5}$/.test(path)) return `${name}: the path must be a database number, not "/${path.slice(0, 20)}"`;
  const out: RedisUrl = { host, port };
  try {
    if (u.username !== '') out.username = decodeURIComponent(u.username);
    if (u.password !== '') out.password = decodeURIComponent(u.password);
  } catch {
    return `${name}: the credentials have a malformed %-escape`;
  }
  if (path !== '') out.db = Number(path);
  if (u.protocol === 'rediss:') out.tls = host !== '' && isIP(host) === 0 ? { servername: host } : {};
  return out;
}

function hostPorts(r: EnvReader, name: string, items: string[]): HostPort[] {
  const out: HostPort[] = [];
  for (const item of items) {
    const m = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(item);
    const port = Number(m?.[2]);
    if (!m || port < 1 || port > 65535) r.problem(`${name}: "${item}" is not host:port (port 1–65535)`);
    else out.push({ host: m[1]!, port });
  }
  if (out.length === 0 && items.length === 0) r.problem(`${name} is empty`);
  return out;
}

/**
 * The bus a service should use, from REDIS_URL / REDIS_SENTINELS / REDIS_CLUSTER_NODES and their
 * companions; every bad value is a problem on `r` (the caller's `r.done()` lists them all).
 */
export function readBusConfig(r: EnvReader): BusConfig {
  const rawUrl = r.str('REDIS_URL');
  const sentinels = r.list('REDIS_SENTINELS');
  const sentinelName = r.str('REDIS_SENTINEL_NAME');
  const clusterNodes = r.list('REDIS_CLUSTER_NODES');
  const keyPrefix = r.str('REDIS_KEY_PREFIX', 'mp');
  if (!/^[A-Za-z0-9_.:-]{0,64}$/.test(keyPrefix)) r.problem('REDIS_KEY_PREFIX must be up to 64 characters of A-Z a-z 0-9 _ - . :');
  let url: RedisUrl | undefined;
  if (rawUrl !== undefined) {
    const parsed = parseRedisUrl(rawUrl);
    if (typeof parsed === 'string') r.problem(parsed);
    else url = parsed;
  }
  if (sentinels !== undefined && clusterNodes !== undefined) r.problem('REDIS_SENTINELS and REDIS_CLUSTER_NODES cannot both be set');
  // Only present when set, so the default lives in one place (RedisBus, DEFAULT_META_TTL_MS).
  let extra: { metaTtlMs?: number; tlsCaFile?: string } = r.str('REDIS_META_TTL_MS') !== undefined ? { metaTtlMs: r.int('REDIS_META_TTL_MS', 0, { min: 60_000, max: 365 * 86_400_000 }) } : {};
  const tlsCaFile = r.str('REDIS_TLS_CA_FILE');
  if (tlsCaFile !== undefined) {
    if (!existsSync(tlsCaFile)) r.problem(`REDIS_TLS_CA_FILE: ${tlsCaFile} does not exist`);
    else extra = { ...extra, tlsCaFile };
  }
  // With Sentinel or Cluster the URL carries only credentials, TLS and db for the data nodes.
  const { host: urlHost, port: urlPort, ...auth } = url ?? { host: '', port: 0 };
  const sentinelUsername = r.str('REDIS_SENTINEL_USERNAME');
  const sentinelPassword = r.str('REDIS_SENTINEL_PASSWORD');
  if (sentinels !== undefined) {
    if (sentinelName === undefined) r.problem('REDIS_SENTINELS needs REDIS_SENTINEL_NAME');
    return {
      kind: 'redis',
      keyPrefix,
      ...extra,
      ...auth,
      mode: 'sentinel',
      sentinels: hostPorts(r, 'REDIS_SENTINELS', sentinels),
      name: sentinelName ?? '',
      ...(sentinelUsername !== undefined ? { sentinelUsername } : {}),
      ...(sentinelPassword !== undefined ? { sentinelPassword } : {}),
    };
  }
  if (sentinelName !== undefined) r.problem('REDIS_SENTINEL_NAME is set without REDIS_SENTINELS');
  if (sentinelUsername !== undefined || sentinelPassword !== undefined) r.problem('REDIS_SENTINEL_USERNAME/REDIS_SENTINEL_PASSWORD are set without REDIS_SENTINELS');
  if (clusterNodes !== undefined) {
    if (auth.db !== undefined && auth.db !== 0) r.problem('REDIS_URL: Redis Cluster has only database 0');
    const { db: _db, ...clusterAuth } = auth;
    return { kind: 'redis', keyPrefix, ...extra, ...clusterAuth, mode: 'cluster', nodes: hostPorts(r, 'REDIS_CLUSTER_NODES', clusterNodes) };
  }
  if (rawUrl === undefined) return { kind: 'memory' };
  if (url !== undefined && urlHost === '') r.problem('REDIS_URL names no host');
  return { kind: 'redis', keyPrefix, ...extra, ...auth, mode: 'standalone', host: urlHost, port: urlPort };
}
