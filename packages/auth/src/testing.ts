// Test helpers (`@megaphone/auth/testing`): tokens minted with jose, key pairs and JWK Sets.
// Not a minting command for operators: that is `megaphone token` (SPEC §13).
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import type { KeyObject } from 'node:crypto';
import type { PublicAlgorithm } from './jwks.js';

/** A 48-byte secret, valid for AUTH_JWT_SECRET. */
export const TEST_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface MintOptions {
  /** Seconds from now (negative for the past); default 3600. `null` leaves `exp` out. */
  expiresIn?: number | null;
  issuer?: string;
  audience?: string;
  /** Overrides the protected header (e.g. a different `alg` label or `kid`). */
  header?: Record<string, unknown>;
}

function claims(payload: JWTPayload, opts: MintOptions): SignJWT {
  const jwt = new SignJWT(payload).setIssuedAt();
  if (opts.expiresIn !== null) jwt.setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expiresIn ?? 3600));
  if (opts.issuer !== undefined) jwt.setIssuer(opts.issuer);
  if (opts.audience !== undefined) jwt.setAudience(opts.audience);
  return jwt;
}

/** An HS256 token signed with `secret` (default TEST_SECRET). */
export function mintHs256(payload: JWTPayload, opts: MintOptions & { secret?: string } = {}): Promise<string> {
  return claims(payload, opts)
    .setProtectedHeader({ alg: 'HS256', ...opts.header })
    .sign(new TextEncoder().encode(opts.secret ?? TEST_SECRET));
}

export interface TestKeyPair {
  alg: PublicAlgorithm;
  kid: string;
  privateKey: KeyObject | CryptoKeyLike;
  publicJwk: JWK;
}
type CryptoKeyLike = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

export async function testKeyPair(alg: PublicAlgorithm, kid: string): Promise<TestKeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, publicJwk };
}

export function jwksOf(...pairs: TestKeyPair[]): string {
  return JSON.stringify({ keys: pairs.map((p) => p.publicJwk) });
}

/** A token signed with the pair's private key, naming it by `kid`. */
export function mintWith(pair: TestKeyPair, payload: JWTPayload, opts: MintOptions = {}): Promise<string> {
  return claims(payload, opts)
    .setProtectedHeader({ alg: pair.alg, kid: pair.kid, ...opts.header })
    .sign(pair.privateKey);
}

/** A token with `alg: none` and no signature, as an attacker would send it. */
export function unsignedToken(payload: JWTPayload): string {
  const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ exp: Math.floor(Date.now() / 1000) + 3600, ...payload })}.`;
}
