import { hostname } from 'node:os';
import { isValidChannel } from '@megaphone/protocol';
import type { EnvReader } from './env.js';

export interface NamespaceConfig {
  historySize: number;
  historyTtlMs: number;
}

/**
 * Settings shared by every service: identity, logging and channel history. The bus' own settings
 * are `@megaphone/bus`' (readBusConfig); each service reads both.
 */
export interface CommonConfig {
  nodeName: string;
  logLevel: string;
  /** History per namespace; `""` is the default namespace (channels without `:`). */
  namespaces: Readonly<Record<string, NamespaceConfig>>;
  /** Largest `data` of one publication, in bytes of JSON. */
  maxPublicationBytes: number;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function readCommonConfig(r: EnvReader): CommonConfig {
  const nodeName = r.str('NODE_NAME', hostname());
  const logLevel = r.oneOf('LOG_LEVEL', LOG_LEVELS, 'info');
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
  return { nodeName, logLevel, namespaces, maxPublicationBytes };
}

/** History policy of a channel: its namespace's, else the default namespace's. */
export function historyPolicyFor(namespaces: Readonly<Record<string, NamespaceConfig>>) {
  return (channel: string): { size: number; ttlMs: number } => {
    const i = channel.indexOf(':');
    const ns = (i < 0 ? undefined : namespaces[channel.slice(0, i)]) ?? namespaces['']!;
    return { size: ns.historySize, ttlMs: ns.historyTtlMs };
  };
}
