import { readFile } from 'node:fs/promises';
import { unwatchFile, watchFile, type Stats } from 'node:fs';
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import type { Logger } from '@megaphone/runtime';
import { authEnabled, type AuthConfig } from './config.js';
import { parseJwks } from './jwks.js';
import { compilePatterns, isPatterns, NO_PATTERNS, patternsFromClaim, type Patterns } from './patterns.js';

/** Who a verified token speaks for and what it allows (SPEC §10 claims). */
export interface Principal {
  /** `sub`: logged and shown to operators (the token itself never is). */
  readonly sub: string;
  /** The token's `exp`, in ms since the Unix epoch (what `authed` reports). */
  readonly expiresAt: number;
  /** `exp` plus the allowed clock skew: the moment the token stops being accepted here. */
  readonly validUntil: number;
  /** `channels`: what the bearer may read. */
  readonly channels: Patterns;
  /** `publish`: the channels it may publish to through the producer API. */
  readonly publish: Patterns;
  /** `run`: the jobs it may start and stop. */
  readonly run: Patterns;
}

/** Why a token was refused; `message` is safe to send to the client (it never quotes the token). */
export class TokenError extends Error {
  override readonly name = 'TokenError';
  constructor(
    readonly reason: 'expired' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

/** At most 30 s of clock skew between the token's issuer and this process (SPEC §10). */
export const CLOCK_TOLERANCE_SEC = 30;
/** Longer than any sane token; refused before any parsing. */
export const MAX_TOKEN_LENGTH = 8192;
const MAX_SUB_LENGTH = 256;

export interface TokenVerifierOptions {
  logger?: Logger;
  /** How often AUTH_JWKS_FILE is checked for changes (fs.watchFile; default 2000 ms). */
  jwksPollMs?: number;
  /** Clock (ms since the Unix epoch); tests move it. */
  now?: () => number;
}

function describe(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof errors.JWTExpired) return new TokenError('expired', 'the token has expired');
  if (err instanceof errors.JWTClaimValidationFailed) return new TokenError('invalid', `the token's "${err.claim}" claim is not valid: ${err.reason}`);
  if (err instanceof errors.JOSEAlgNotAllowed) return new TokenError('invalid', "the token's algorithm is not accepted here");
  if (err instanceof errors.JWSSignatureVerificationFailed) return new TokenError('invalid', "the token's signature is not valid");
  if (err instanceof errors.JWKSNoMatchingKey) return new TokenError('invalid', "no configured key matches the token's kid and algorithm");
  if (err instanceof errors.JWKSMultipleMatchingKeys) return new TokenError('invalid', 'the token has no kid and several keys could match');
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return new TokenError('invalid', 'the token is not a well-formed JWT');
  return new TokenError('invalid', 'the token is not valid');
}

/**
 * Verifies JWTs with jose against the configured keys: HS256 with the secret, RS256/ES256/EdDSA
 * with the JWK Set's key named by `kid`. Only the algorithms the configured keys imply are
 * accepted, so `alg: none`, an HS256 token signed with a public key, or an RSA key used as an
 * HMAC secret are refused before any key is chosen. The JWK Set file is watched and swapped in when
 * it changes (a malformed new file keeps the old keys and logs an error).
 */
export class TokenVerifier {
  readonly enabled: boolean;
  private readonly secret: Uint8Array | undefined;
  private jwks: JWTVerifyGetKey | undefined;
  private readonly algorithms: string[];
  private readonly publicChannels: Patterns;
  private readonly logger: Logger | undefined;
  private readonly now: () => number;
  private watching: string | undefined;

  constructor(
    private readonly config: AuthConfig,
    opts: TokenVerifierOptions = {},
  ) {
    this.enabled = authEnabled(config);
    this.logger = opts.logger;
    this.now = opts.now ?? Date.now;
    this.secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret);
    this.algorithms = [];
    if (this.secret !== undefined) this.algorithms.push('HS256');
    if (config.jwks !== undefined) {
      this.jwks = createLocalJWKSet(config.jwks);
      this.algorithms.push('RS256', 'ES256', 'EdDSA');
    }
    const pub = compilePatterns(config.publicChannels);
    // With no key configured every channel is public (SPEC §10).
    this.publicChannels = !this.enabled ? compilePatterns(['*']) as Patterns : isPatterns(pub) ? pub : NO_PATTERNS;
    if (config.jwksFile !== undefined) {
      const file = config.jwksFile;
      this.watching = file;
      watchFile(file, { persistent: false, interval: opts.jwksPollMs ?? 2000 }, (curr: Stats, prev: Stats) => {
        if (curr.mtimeMs !== prev.mtimeMs || curr.size !== prev.size || curr.ino !== prev.ino) void this.reloadKeys();
      });
    }
  }

  /** Channels anyone may read without a token (`*` when no key is configured). */
  get publicPatterns(): Patterns {
    return this.publicChannels;
  }

  /** Re-reads AUTH_JWKS_FILE now; false (old keys kept, error logged) when it is unreadable or malformed. */
  async reloadKeys(): Promise<boolean> {
    const file = this.config.jwksFile;
    if (file === undefined) return false;
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      this.logger?.error({ file, code: (err as NodeJS.ErrnoException).code }, 'AUTH_JWKS_FILE could not be read; keeping the previous keys');
      return false;
    }
    const parsed = parseJwks(text, 'AUTH_JWKS_FILE');
    if (!parsed.ok) {
      this.logger?.error({ file, problems: parsed.problems }, 'AUTH_JWKS_FILE is not valid; keeping the previous keys');
      return false;
    }
    this.jwks = createLocalJWKSet(parsed.jwks);
    this.logger?.info({ file, keys: parsed.jwks.keys.map((k) => k.kid) }, 'AUTH_JWKS_FILE reloaded');
    return true;
  }

  /**
   * `algorithms` has already refused anything the configured keys do not imply; this picks the key
   * family by the (allowed) alg, so a secret is never tried as a public key or the other way round.
   */
  private readonly getKey: JWTVerifyGetKey = (header, token) => {
    if (header.alg === 'HS256') {
      if (this.secret === undefined) throw new TokenError('invalid', "the token's algorithm is not accepted here");
      return this.secret;
    }
    if (this.jwks === undefined) throw new TokenError('invalid', "the token's algorithm is not accepted here");
    return this.jwks(header, token);
  };

  /** Verifies a token; throws a TokenError (with a message fit for the client) when it is refused. */
  async verify(token: string): Promise<Principal> {
    if (!this.enabled) throw new TokenError('invalid', 'tokens are not accepted: no key is configured');
    if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw new TokenError('invalid', `the token must be 1–${MAX_TOKEN_LENGTH} characters`);
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.getKey, {
        algorithms: this.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SEC,
        requiredClaims: ['exp'],
        currentDate: new Date(this.now()),
        ...(this.config.issuer !== undefined ? { issuer: this.config.issuer } : {}),
        ...(this.config.audience !== undefined ? { audience: this.config.audience } : {}),
      }));
    } catch (err) {
      throw describe(err);
    }
    return principalOf(payload);
  }

  /** Stops watching AUTH_JWKS_FILE. */
  close(): void {
    if (this.watching !== undefined) unwatchFile(this.watching);
    this.watching = undefined;
  }
}

function principalOf(payload: JWTPayload): Principal {
  const { sub, exp } = payload;
  if (typeof sub !== 'string' || sub.length === 0 || sub.length > MAX_SUB_LENGTH) {
    throw new TokenError('invalid', `the token needs a "sub" claim of 1–${MAX_SUB_LENGTH} characters`);
  }
  // jose checked that exp is a number and in the future (within the skew).
  const expiresAt = Math.floor((exp as number) * 1000);
  const claim = (name: 'channels' | 'publish' | 'run'): Patterns => {
    const p = patternsFromClaim(payload[name]);
    if (!isPatterns(p)) throw new TokenError('invalid', `the token's "${name}" claim is not a list of patterns: ${p.invalid.join(', ').slice(0, 200)}`);
    return p;
  };
  return {
    sub,
    expiresAt,
    validUntil: expiresAt + CLOCK_TOLERANCE_SEC * 1000,
    channels: claim('channels'),
    publish: claim('publish'),
    run: claim('run'),
  };
}

/** What a reader may do with a channel: read it, or why not. */
export type ReadAccess = 'ok' | 'unauthorized' | 'forbidden';

/** Public channels need nothing; others need a token (`unauthorized`) whose `channels` cover them (`forbidden`). */
export function readAccess(publicChannels: Patterns, principal: Principal | undefined, channel: string): ReadAccess {
  if (publicChannels.matches(channel)) return 'ok';
  if (principal === undefined) return 'unauthorized';
  return principal.channels.matches(channel) ? 'ok' : 'forbidden';
}

/** The token of an `Authorization: Bearer …` header, if it has one. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  return m === null ? undefined : m[1];
}
