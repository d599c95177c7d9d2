import { authWarnings, readAllowedHosts, readAuthConfig, type AuthConfig, type HostPolicy } from '@megaphone/auth';
import { isValidChannel } from '@megaphone/protocol';
import { readBusConfig, type BusConfig } from '@megaphone/bus';
import { EnvReader, freeze, readCommonConfig, readOpenFileLimit, type CommonConfig, type Env } from '@megaphone/runtime';
import { parseCidr } from './http/client-address.js';

/**
 * Which browser origins may open a WebSocket or an SSE stream:
 * `same-origin` (the Origin's host must equal the Host header), an exact list, or anyone (`*`).
 * Requests without an Origin header (CLIs, services) are not browsers and are always allowed.
 */
export type OriginPolicy =
  | { kind: 'same-origin' }
  | { kind: 'list'; origins: readonly string[] }
  | { kind: 'any' };

export interface GatewayConfig extends CommonConfig {
  bus: BusConfig;
  host: string;
  port: number;
  adminHost: string;
  adminPort: number;
  allowedOrigins: OriginPolicy;
  heartbeatMs: number;
  maxConnections: number;
  /** Per connection. */
  maxSubscriptions: number;
  /** Per connection: hub-pending plus transport-buffered bytes. */
  maxQueueBytes: number;
  /** Largest `history` a client may ask for. */
  maxHistory: number;
  /** Per connection, with a burst of the same size. */
  maxCommandsPerSecond: number;
  /** Subscribe commands per connection per minute, with a burst of the same size. */
  maxChannelsPerMinute: number;
  /** History reads one connection may have in flight (joins with `history`/`since`). */
  maxHistoryReadsPerConnection: number;
  /** History reads this node runs against the bus at once (after coalescing). */
  maxHistoryReads: number;
  drainMs: number;
  /** Exact channel names, or `ns:*` for a whole namespace. */
  conflateChannels: readonly string[];
  /** Bearer token of the operator API (`/v1/` on the admin port); unset = loopback only. Never logged. */
  adminToken: string | undefined;
  /** How often this node reports its subscriber counts to the cluster (SPEC §11). */
  presenceIntervalMs: number;
  /** Tokens and public channels (SPEC §10). */
  auth: AuthConfig;
  /** `Host` names the public port answers (DNS rebinding). */
  allowedHosts: HostPolicy;
  maxConnectionsPerIp: number;
  /** New connections per second per client address, with a burst of the same size. */
  connectsPerIpPerSecond: number;
  /** CIDRs whose `X-Forwarded-For` is believed. */
  trustedProxies: readonly string[];
  /** Things worth a warning at start (e.g. `GATEWAY_ALLOWED_ORIGINS=*`). */
  warnings: readonly string[];
}

function readOrigins(r: EnvReader, warnings: string[]): OriginPolicy {
  const items = r.list('GATEWAY_ALLOWED_ORIGINS');
  if (items === undefined || items.length === 0) return { kind: 'same-origin' };
  if (items.includes('*')) {
    if (items.length > 1) r.problem('GATEWAY_ALLOWED_ORIGINS: "*" cannot be combined with other origins');
    warnings.push('GATEWAY_ALLOWED_ORIGINS=* lets any web page open connections to this gateway');
    return { kind: 'any' };
  }
  const origins: string[] = [];
  for (const item of items) {
    // An origin is scheme://host[:port], exactly as browsers send it: no path, no trailing slash.
    let url: URL | undefined;
    try {
      url = new URL(item);
    } catch {
      url = undefined;
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.origin !== item.toLowerCase()) {
      r.problem(`GATEWAY_ALLOWED_ORIGINS: "${item}" is not an origin like https://example.com or http://localhost:8080`);
    } else origins.push(url.origin);
  }
  return { kind: 'list', origins };
}

function readConflate(r: EnvReader): string[] {
  const items = r.list('GATEWAY_CONFLATE_CHANNELS') ?? ['uptime'];
  const out: string[] = [];
  for (const item of items) {
    const ok = item.endsWith(':*') ? isValidChannel(item.slice(0, -2)) && !item.slice(0, -2).includes(':') : isValidChannel(item);
    if (ok) out.push(item);
    else r.problem(`GATEWAY_CONFLATE_CHANNELS: "${item}" is neither a channel name nor "namespace:*"`);
  }
  return out;
}

function readTrustedProxies(r: EnvReader): string[] {
  const items = r.list('GATEWAY_TRUSTED_PROXIES') ?? [];
  const bad = items.filter((c) => parseCidr(c) === undefined);
  if (bad.length > 0) r.problem(`GATEWAY_TRUSTED_PROXIES: not CIDRs like 10.0.0.0/8 or fd00::/8: ${bad.join(', ')}`);
  return items;
}

/**
 * File descriptors a gateway keeps for everything but its clients: room on the public port to
 * answer more clients with a 503 (64), the admin port (128), Redis connections (64), the
 * producer's API and job pipes when both run in one process (192), and the process itself: stdio,
 * logs, libuv (64). `GATEWAY_MAX_CONNECTIONS` defaults to the file limit minus this.
 */
export const FD_RESERVE = 512;
/** Sockets the public port holds beyond `maxConnections`: enough to answer the next clients with a 503. */
export const PUBLIC_SOCKET_HEADROOM = 64;
/** `GATEWAY_MAX_CONNECTIONS` where the file limit cannot be read (not Linux). */
const FALLBACK_MAX_CONNECTIONS = 50_000;

/** What `readGatewayConfig` learns from the machine rather than the environment. */
export interface GatewayHost {
  /** The process's open-file limit; undefined when it cannot be read. */
  fileLimit: number | undefined;
}

function defaultMaxConnections(host: GatewayHost): number {
  if (host.fileLimit === undefined) return FALLBACK_MAX_CONNECTIONS;
  return Math.min(10_000_000, Math.max(1, host.fileLimit - FD_RESERVE));
}

function read(r: EnvReader, machine: GatewayHost): GatewayConfig {
  const common = readCommonConfig(r);
  const bus = readBusConfig(r);
  const warnings: string[] = [];
  const host = r.str('GATEWAY_HOST', '0.0.0.0');
  const port = r.port('GATEWAY_PORT', 8080);
  const adminHost = r.str('GATEWAY_ADMIN_HOST', '127.0.0.1');
  const adminPort = r.port('GATEWAY_ADMIN_PORT', 9100);
  if (port !== 0 && port === adminPort && host === adminHost) r.problem('GATEWAY_PORT and GATEWAY_ADMIN_PORT must differ');
  const allowedOrigins = readOrigins(r, warnings);
  const heartbeatMs = r.int('GATEWAY_HEARTBEAT_MS', 25_000, { min: 50, max: 600_000 });
  const maxConnections = r.int('GATEWAY_MAX_CONNECTIONS', defaultMaxConnections(machine), { min: 1, max: 10_000_000 });
  if (machine.fileLimit !== undefined && maxConnections > machine.fileLimit - FD_RESERVE) {
    warnings.push(
      `GATEWAY_MAX_CONNECTIONS (${maxConnections}) is above the open-file limit (${machine.fileLimit}) minus ${FD_RESERVE} kept for Redis, the admin port and jobs: ` +
        'at the limit, accepts and job spawns may fail with EMFILE; raise the limit (ulimit -n) or lower the setting',
    );
  }
  const maxSubscriptions = r.int('GATEWAY_MAX_SUBSCRIPTIONS', 64, { min: 1, max: 10_000 });
  const maxQueueBytes = r.int('GATEWAY_MAX_QUEUE_BYTES', 1_048_576, { min: 16_384, max: 1024 * 1024 * 1024 });
  const maxHistory = r.int('GATEWAY_MAX_HISTORY', 1000, { min: 0, max: 1_000_000 });
  const maxCommandsPerSecond = r.int('GATEWAY_MAX_COMMANDS_PER_SECOND', 50, { min: 1, max: 100_000 });
  const maxChannelsPerMinute = r.int('GATEWAY_MAX_CHANNELS_PER_MINUTE', 300, { min: 1, max: 1_000_000 });
  const maxHistoryReadsPerConnection = r.int('GATEWAY_MAX_HISTORY_READS_PER_CONNECTION', 4, { min: 1, max: 10_000 });
  const maxHistoryReads = r.int('GATEWAY_MAX_HISTORY_READS', 32, { min: 1, max: 100_000 });
  const drainMs = r.int('GATEWAY_DRAIN_MS', 10_000, { min: 0, max: 3_600_000 });
  const conflateChannels = readConflate(r);
  const adminToken = r.str('ADMIN_TOKEN');
  if (adminToken !== undefined && !/^[\x21-\x7e]{16,4096}$/.test(adminToken)) r.problem('ADMIN_TOKEN must be 16–4096 printable characters without spaces');
  if (adminToken === undefined) warnings.push('ADMIN_TOKEN is unset: the operator API (/v1/ on the admin port) answers loopback clients only');
  const presenceIntervalMs = r.int('PRESENCE_INTERVAL_MS', 2000, { min: 100, max: 60_000 });
  const auth = readAuthConfig(r);
  warnings.push(...authWarnings(auth, 'every channel is readable by anyone who can reach this gateway'));
  const allowedHosts = readAllowedHosts(r, 'GATEWAY_ALLOWED_HOSTS', warnings);
  const maxConnectionsPerIp = r.int('GATEWAY_MAX_CONNECTIONS_PER_IP', 256, { min: 1, max: 10_000_000 });
  const connectsPerIpPerSecond = r.int('GATEWAY_CONNECTS_PER_IP_PER_SECOND', 20, { min: 1, max: 100_000 });
  const trustedProxies = readTrustedProxies(r);
  if (maxQueueBytes < common.maxPublicationBytes) {
    warnings.push(`GATEWAY_MAX_QUEUE_BYTES (${maxQueueBytes}) is below MAX_PUBLICATION_BYTES (${common.maxPublicationBytes}): one large publication puts a client over its cap`);
  }
  return {
    ...common,
    bus,
    host,
    port,
    adminHost,
    adminPort,
    allowedOrigins,
    heartbeatMs,
    maxConnections,
    maxSubscriptions,
    maxQueueBytes,
    maxHistory,
    maxCommandsPerSecond,
    maxChannelsPerMinute,
    maxHistoryReadsPerConnection,
    maxHistoryReads,
    drainMs,
    conflateChannels,
    adminToken,
    presenceIntervalMs,
    auth,
    allowedHosts,
    maxConnectionsPerIp,
    connectsPerIpPerSecond,
    trustedProxies,
    warnings,
  };
}

/** Reads and validates the gateway's environment; throws a ConfigError listing every problem. */
export function readGatewayConfig(env: Env, machine: GatewayHost = { fileLimit: readOpenFileLimit() }): GatewayConfig {
  const r = new EnvReader(env);
  const config = read(r, machine);
  r.done();
  return freeze(config);
}

/** Every environment variable the gateway reads (ops tests check deployment files against it). */
export const GATEWAY_ENV_NAMES: readonly string[] = (() => {
  const r = new EnvReader({});
  read(r, { fileLimit: undefined });
  return Object.freeze([...r.known].sort());
})();

/** True for channels whose subscribers may get only the latest value when they lag. */
export function conflateMatcher(patterns: readonly string[]): (channel: string) => boolean {
  const exact = new Set(patterns.filter((p) => !p.endsWith(':*')));
  const prefixes = patterns.filter((p) => p.endsWith(':*')).map((p) => p.slice(0, -1));
  return (channel) => exact.has(channel) || prefixes.some((p) => channel.startsWith(p));
}
