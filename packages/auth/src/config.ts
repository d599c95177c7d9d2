import { readFileSync } from 'node:fs';
import type { JSONWebKeySet } from 'jose';
import type { EnvReader } from '@megaphone/runtime';
import { parseJwks } from './jwks.js';
import { compilePatterns, isPatterns } from './patterns.js';

/** HS256 secrets shorter than this are refused (RFC 7518 §3.2: at least the hash size). */
export const MIN_SECRET_BYTES = 32;

/**
 * The token settings both services share (SPEC §10). With no key at all, authentication is off:
 * the gateway serves every channel to anyone and the producer keeps its token/loopback rule.
 */
export interface AuthConfig {
  /** HS256 secret (from AUTH_JWT_SECRET or AUTH_JWT_SECRET_FILE). Never logged. */
  secret?: string;
  /** AUTH_JWKS_FILE, re-read when it changes. */
  jwksFile?: string;
  /** The JWK Set as read at start (validated). */
  jwks?: JSONWebKeySet;
  issuer?: string;
  audience?: string;
  /** AUTH_PUBLIC_CHANNELS: patterns anyone may read without a token. */
  publicChannels: readonly string[];
}

/** True when some key is configured, so tokens are required for everything not public. */
export function authEnabled(config: AuthConfig): boolean {
  return config.secret !== undefined || config.jwks !== undefined;
}

function readFile(r: EnvReader, name: string, path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    r.problem(`${name}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    return undefined;
  }
}

/** Reads the AUTH_* settings; every problem goes on the reader's list. */
export function readAuthConfig(r: EnvReader): AuthConfig {
  const inline = r.str('AUTH_JWT_SECRET');
  const secretFile = r.str('AUTH_JWT_SECRET_FILE');
  const jwksFile = r.str('AUTH_JWKS_FILE');
  const issuer = r.str('AUTH_ISSUER');
  const audience = r.str('AUTH_AUDIENCE');
  const publicItems = r.list('AUTH_PUBLIC_CHANNELS') ?? [];
  const out: AuthConfig = { publicChannels: publicItems };

  let secret = inline;
  if (inline !== undefined && secretFile !== undefined) r.problem('AUTH_JWT_SECRET and AUTH_JWT_SECRET_FILE cannot both be set');
  else if (secretFile !== undefined) {
    // A trailing newline is what `echo … > file` and most secret stores leave: not part of the key.
    secret = readFile(r, 'AUTH_JWT_SECRET_FILE', secretFile)?.replace(/\r?\n$/, '');
  }
  if (secret !== undefined) {
    const bytes = Buffer.byteLength(secret, 'utf8');
    const from = secretFile !== undefined ? 'AUTH_JWT_SECRET_FILE' : 'AUTH_JWT_SECRET';
    if (bytes < MIN_SECRET_BYTES) r.problem(`${from}: the HS256 secret is ${bytes} bytes; it must be at least ${MIN_SECRET_BYTES} (e.g. \`openssl rand -base64 48\`)`);
    else out.secret = secret;
  }
  if (jwksFile !== undefined) {
    const text = readFile(r, 'AUTH_JWKS_FILE', jwksFile);
    if (text !== undefined) {
      const parsed = parseJwks(text, `AUTH_JWKS_FILE (${jwksFile})`);
      if (parsed.ok) {
        out.jwksFile = jwksFile;
        out.jwks = parsed.jwks;
      } else for (const p of parsed.problems) r.problem(p);
    }
  }
  const compiled = compilePatterns(publicItems);
  if (!isPatterns(compiled)) r.problem(`AUTH_PUBLIC_CHANNELS: not channel patterns (a name, a prefix ending in *, or *): ${compiled.invalid.join(', ')}`);
  if (issuer !== undefined) out.issuer = issuer;
  if (audience !== undefined) out.audience = audience;
  return out;
}

/** The warnings worth logging at start for these settings (`service` names what is left open). */
export function authWarnings(config: AuthConfig, openMeans: string): string[] {
  if (authEnabled(config)) return [];
  const warnings = [`no AUTH_JWT_SECRET, AUTH_JWT_SECRET_FILE or AUTH_JWKS_FILE is set: ${openMeans}`];
  if (config.publicChannels.length > 0) warnings.push('AUTH_PUBLIC_CHANNELS has no effect without a key: every channel is public');
  return warnings;
}
