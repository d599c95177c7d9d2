import { readFileSync } from 'node:fs';
import { SignJWT } from 'jose';
import type { CliEnv } from '../config.js';
import { defineCommand } from '../context.js';
import { parseDurationSeconds } from '../duration.js';
import { HELP_OPTION, UsageError, listOption } from '../usage.js';

const HELP = `Usage: megaphone token --sub NAME [--channels P,…] [--publish P,…] [--run JOB,…] [--ttl 1h]

Prints a token (a JWT signed with HS256) for the gateway and the producer API, signed with the
same key they verify with: AUTH_JWT_SECRET, or the file named by AUTH_JWT_SECRET_FILE. When
AUTH_ISSUER / AUTH_AUDIENCE are set they go into the token too. Same as \`npm run token -- …\`.

Options:
  --sub NAME         who the token is for (shown to operators, logged; required)
  --channels LIST    channels it may read: names, prefixes ending in * (cmd:*), or *
  --publish LIST     channels it may publish to through the producer API
  --run LIST         jobs it may start and stop (* for all)
  --ttl DURATION     how long it is valid: 90s, 15m, 1h (default), 1h30m, 7d
  -h, --help         this help

Example:
  export MEGAPHONE_TOKEN=$(megaphone token --sub alice --channels 'cmd:*,uptime' --run deploy --ttl 8h)`;

const OPTIONS = {
  ...HELP_OPTION,
  sub: { type: 'string' },
  channels: { type: 'string' },
  publish: { type: 'string' },
  run: { type: 'string' },
  ttl: { type: 'string' },
} as const;

/** HS256 keys shorter than the hash are refused by the services too (RFC 7518 §3.2). */
const MIN_SECRET_BYTES = 32;
const PATTERN = /^(?:\*|[A-Za-z0-9_.:-]{1,128}\*?)$/;
const JOB_PATTERN = /^(?:\*|[a-z0-9-]{1,64}\*?)$/;

export interface TokenClaims {
  sub: string;
  channels?: string[];
  publish?: string[];
  run?: string[];
  ttlSeconds: number;
  issuer?: string;
  audience?: string;
}

/** The HS256 key from the environment, checked as the services check it. */
export function signingSecret(env: Pick<CliEnv, 'jwtSecret' | 'jwtSecretFile'>): string {
  if (env.jwtSecret !== undefined && env.jwtSecretFile !== undefined) throw new UsageError('AUTH_JWT_SECRET and AUTH_JWT_SECRET_FILE cannot both be set');
  let secret = env.jwtSecret;
  let from = 'AUTH_JWT_SECRET';
  if (env.jwtSecretFile !== undefined) {
    from = 'AUTH_JWT_SECRET_FILE';
    try {
      // A trailing newline is what `echo … > file` leaves: not part of the key (as the services read it).
      secret = readFileSync(env.jwtSecretFile, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new UsageError(`AUTH_JWT_SECRET_FILE: cannot read ${env.jwtSecretFile} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
  }
  if (secret === undefined) throw new UsageError('set AUTH_JWT_SECRET (or AUTH_JWT_SECRET_FILE) to the key the services verify with');
  const bytes = Buffer.byteLength(secret, 'utf8');
  if (bytes < MIN_SECRET_BYTES) throw new UsageError(`${from}: the secret is ${bytes} bytes; it must be at least ${MIN_SECRET_BYTES}`);
  return secret;
}

/** A signed token: `sub`, `iat`, `exp` and the permission claims that were given. */
export async function mintToken(claims: TokenClaims, secret: string, nowSeconds = Math.floor(Date.now() / 1000)): Promise<string> {
  const payload: Record<string, string[]> = {};
  if (claims.channels !== undefined) payload.channels = claims.channels;
  if (claims.publish !== undefined) payload.publish = claims.publish;
  if (claims.run !== undefined) payload.run = claims.run;
  let jwt = new SignJWT(payload)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuedAt(nowSeconds)
    .setExpirationTime(nowSeconds + claims.ttlSeconds);
  if (claims.issuer !== undefined) jwt = jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined) jwt = jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}

function patterns(name: string, value: string | undefined, valid: RegExp): string[] | undefined {
  const list = listOption(value);
  if (list === undefined) return undefined;
  const bad = list.filter((p) => !valid.test(p));
  if (bad.length > 0) throw new UsageError(`--${name}: not a name, a prefix ending in *, or *: ${bad.join(', ')}`);
  return list;
}

export const token = defineCommand({
  name: 'token',
  help: HELP,
  options: OPTIONS,
  positionals: false,
  async run(ctx, { values }) {
    if (values.sub === undefined || values.sub === '') throw new UsageError('missing --sub NAME (who the token is for)');
    const ttlSeconds = parseDurationSeconds(values.ttl ?? '1h');
    if (ttlSeconds === undefined) throw new UsageError(`--ttl must be a duration such as 90s, 15m, 1h or 1h30m, not "${values.ttl}"`);
    const claims: TokenClaims = { sub: values.sub, ttlSeconds };
    const channels = patterns('channels', values.channels, PATTERN);
    const publish = patterns('publish', values.publish, PATTERN);
    const run = patterns('run', values.run, JOB_PATTERN);
    if (channels !== undefined) claims.channels = channels;
    if (publish !== undefined) claims.publish = publish;
    if (run !== undefined) claims.run = run;
    if (ctx.env.issuer !== undefined) claims.issuer = ctx.env.issuer;
    if (ctx.env.audience !== undefined) claims.audience = ctx.env.audience;
    const now = Math.floor(Date.now() / 1000);
    ctx.term.out(await mintToken(claims, signingSecret(ctx.env), now));
    if (ctx.term.interactiveErr) {
      ctx.term.err(ctx.term.paintErr(`token for ${claims.sub}, valid until ${new Date((now + ttlSeconds) * 1000).toISOString()}`, 'dim'));
    }
    return 0;
  },
});
