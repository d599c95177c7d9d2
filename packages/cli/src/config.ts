import { UsageError } from './usage.js';

/** Every environment variable the command line reads (docs/configuration.md lists them). */
export const CLI_ENV_NAMES = [
  'MEGAPHONE_GATEWAY',
  'MEGAPHONE_API',
  'MEGAPHONE_ADMIN',
  'MEGAPHONE_TOKEN',
  'MEGAPHONE_ADMIN_TOKEN',
  'NO_COLOR',
  'AUTH_JWT_SECRET',
  'AUTH_JWT_SECRET_FILE',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
] as const;

export const DEFAULTS = {
  gateway: 'ws://localhost:8080/ws',
  api: 'http://localhost:8090',
  admin: 'http://localhost:9100',
} as const;

/** The command line's environment, read once at start. */
export interface CliEnv {
  gateway: string | undefined;
  api: string | undefined;
  admin: string | undefined;
  token: string | undefined;
  adminToken: string | undefined;
  /** `NO_COLOR` present and not empty (no-color.org). */
  noColor: boolean;
  /** `TERM=dumb`: no colours, no cursor movement. */
  dumbTerminal: boolean;
  jwtSecret: string | undefined;
  jwtSecretFile: string | undefined;
  issuer: string | undefined;
  audience: string | undefined;
}

export function readCliEnv(env: NodeJS.ProcessEnv): CliEnv {
  const get = (name: (typeof CLI_ENV_NAMES)[number]): string | undefined => {
    const v = env[name];
    return v === undefined || v === '' ? undefined : v;
  };
  return Object.freeze({
    gateway: get('MEGAPHONE_GATEWAY'),
    api: get('MEGAPHONE_API'),
    admin: get('MEGAPHONE_ADMIN'),
    token: get('MEGAPHONE_TOKEN'),
    adminToken: get('MEGAPHONE_ADMIN_TOKEN'),
    noColor: get('NO_COLOR') !== undefined,
    dumbTerminal: env.TERM === 'dumb',
    jwtSecret: get('AUTH_JWT_SECRET'),
    jwtSecretFile: get('AUTH_JWT_SECRET_FILE'),
    issuer: get('AUTH_ISSUER'),
    audience: get('AUTH_AUDIENCE'),
  });
}

/** Where to connect, from the flags, else the environment, else the defaults. */
export interface Endpoints {
  /** `ws(s)://host:port/ws`. */
  gateway: string;
  /** The producer API's base URL, without a trailing slash. */
  api: string;
  /** The gateway admin server's base URL, without a trailing slash. */
  admin: string;
  token: string | undefined;
  adminToken: string | undefined;
}

export interface ConnectionFlags {
  gateway?: string | undefined;
  api?: string | undefined;
  admin?: string | undefined;
  token?: string | undefined;
  'admin-token'?: string | undefined;
}

/** Resolves and checks every endpoint at once; all problems in one usage error. */
export function resolveEndpoints(flags: ConnectionFlags, env: CliEnv): Endpoints {
  const problems: string[] = [];
  const gateway = gatewayUrl(flags.gateway ?? env.gateway ?? DEFAULTS.gateway, flags.gateway !== undefined ? '--gateway' : 'MEGAPHONE_GATEWAY', problems);
  const api = httpBase(flags.api ?? env.api ?? DEFAULTS.api, flags.api !== undefined ? '--api' : 'MEGAPHONE_API', problems);
  const admin = httpBase(flags.admin ?? env.admin ?? DEFAULTS.admin, flags.admin !== undefined ? '--admin' : 'MEGAPHONE_ADMIN', problems);
  if (problems.length > 0) throw new UsageError(problems.join('; '));
  return {
    gateway,
    api,
    admin,
    token: nonEmpty(flags.token) ?? env.token,
    adminToken: nonEmpty(flags['admin-token']) ?? env.adminToken,
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

/**
 * The gateway's WebSocket URL. `http(s)://host:port` is accepted too (it is what the console's
 * address bar shows) and becomes `ws(s)://host:port/ws`.
 */
export function gatewayUrl(value: string, source: string, problems: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${source}: "${value}" is not a URL (e.g. ${DEFAULTS.gateway})`);
    return value;
  }
  if (url.protocol === 'http:') url.protocol = 'ws:';
  else if (url.protocol === 'https:') url.protocol = 'wss:';
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    problems.push(`${source}: "${value}" must be a ws://, wss://, http:// or https:// URL`);
    return value;
  }
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/ws';
  return url.href;
}

function httpBase(value: string, source: string, problems: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    problems.push(`${source}: "${value}" is not a URL`);
    return value;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(`${source}: "${value}" must be an http:// or https:// URL`);
    return value;
  }
  return url.href.replace(/\/+$/, '');
}
