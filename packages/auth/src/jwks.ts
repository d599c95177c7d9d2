import { createPublicKey, type JsonWebKey } from 'node:crypto';
import type { JSONWebKeySet, JWK } from 'jose';

/** The asymmetric algorithms a JWK Set may imply, by key type (SPEC §10). */
export type PublicAlgorithm = 'RS256' | 'ES256' | 'EdDSA';

export type ParsedJwks = { ok: true; jwks: JSONWebKeySet; algorithms: readonly PublicAlgorithm[] } | { ok: false; problems: string[] };

/** Private or symmetric key members: a JWKS for verifiers holds public keys only. */
const SECRET_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** More keys than this is a mistake, and every verification may scan them. */
export const MAX_JWKS_KEYS = 64;

function impliedAlgorithm(key: JWK): PublicAlgorithm | string {
  if (key.kty === 'RSA') return 'RS256';
  if (key.kty === 'EC') return key.crv === 'P-256' ? 'ES256' : `curve ${String(key.crv)} (only P-256 for ES256)`;
  if (key.kty === 'OKP') return key.crv === 'Ed25519' ? 'EdDSA' : `curve ${String(key.crv)} (only Ed25519 for EdDSA)`;
  return `key type ${String(key.kty)} (RSA, EC P-256 or OKP Ed25519 public keys only)`;
}

/**
 * Validates a JWK Set for token verification: every key has a `kid`, is an RSA, EC P-256 or
 * Ed25519 public key whose material Node can import, and its `alg` (if given) is the one its type
 * implies, so that no key can be used with an algorithm it was not meant for.
 */
export function parseJwks(text: string, source: string): ParsedJwks {
  let value: unknown;
  try {
    value = JSON.parse(text) as unknown;
  } catch {
    return { ok: false, problems: [`${source} is not valid JSON`] };
  }
  const keys = typeof value === 'object' && value !== null ? (value as { keys?: unknown }).keys : undefined;
  if (!Array.isArray(keys) || keys.length === 0) return { ok: false, problems: [`${source} must be a JWK Set: {"keys":[…]} with at least one key`] };
  if (keys.length > MAX_JWKS_KEYS) return { ok: false, problems: [`${source} has ${keys.length} keys; at most ${MAX_JWKS_KEYS}`] };
  const problems: string[] = [];
  const algorithms = new Set<PublicAlgorithm>();
  const kids = new Set<string>();
  keys.forEach((raw: unknown, i) => {
    const where = `${source}: key ${i}`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problems.push(`${where} is not a JSON object`);
      return;
    }
    const key = raw as JWK;
    if (typeof key.kid !== 'string' || key.kid.length === 0) problems.push(`${where} has no "kid" (tokens choose their key by kid)`);
    else if (kids.has(key.kid)) problems.push(`${where}: kid "${key.kid}" appears twice`);
    else kids.add(key.kid);
    const secret = SECRET_MEMBERS.filter((m) => m in key);
    if (secret.length > 0) {
      problems.push(`${where} carries private or symmetric key material (${secret.join(', ')}); give verifiers public keys only`);
      return;
    }
    const alg = impliedAlgorithm(key);
    if (alg !== 'RS256' && alg !== 'ES256' && alg !== 'EdDSA') {
      problems.push(`${where}: unsupported ${alg}`);
      return;
    }
    if (key.alg !== undefined && key.alg !== alg) {
      problems.push(`${where}: "alg" is ${String(key.alg)} but a key of this type is for ${alg}`);
      return;
    }
    if (key.use !== undefined && key.use !== 'sig') problems.push(`${where}: "use" must be "sig"`);
    try {
      createPublicKey({ key: key as JsonWebKey, format: 'jwk' });
    } catch {
      problems.push(`${where} is not a valid ${alg} public key`);
      return;
    }
    algorithms.add(alg);
  });
  if (problems.length > 0) return { ok: false, problems };
  return { ok: true, jwks: { keys: keys as JWK[] }, algorithms: [...algorithms] };
}
