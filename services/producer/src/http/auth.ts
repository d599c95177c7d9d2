import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, TokenError, type Principal, type TokenVerifier } from '@megaphone/auth';

/**
 * Who is calling (SPEC §10 "Producer API"): the operator (`PRODUCER_API_TOKEN`, all-powerful), a
 * loopback caller when neither a token nor a key is configured (as before tokens existed), or the
 * bearer of a JWT whose `publish` and `run` claims say what it may do.
 */
export type Caller = { kind: 'operator' } | { kind: 'loopback' } | { kind: 'token'; principal: Principal };

export type AuthResult = { ok: true; caller: Caller } | { ok: false; status: 'unauthorized' | 'forbidden'; message: string };

export interface ApiAuth {
  apiToken: string | undefined;
  verifier: TokenVerifier;
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Compares in time independent of where the strings differ (and of their lengths: both are hashed first). */
export function tokenMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Authenticates a mutating request; what the caller may then do is `permits`'s question. */
export async function authenticate(req: IncomingMessage, auth: ApiAuth): Promise<AuthResult> {
  const { apiToken, verifier } = auth;
  const token = bearerToken(req.headers.authorization);
  if (token === undefined) {
    if (apiToken === undefined && !verifier.enabled) {
      if (isLoopback(req.socket.remoteAddress)) return { ok: true, caller: { kind: 'loopback' } };
      return { ok: false, status: 'forbidden', message: 'no PRODUCER_API_TOKEN or token key is configured, so mutating requests are accepted from loopback only' };
    }
    return { ok: false, status: 'unauthorized', message: 'send Authorization: Bearer <token>' };
  }
  if (apiToken !== undefined && tokenMatches(token, apiToken)) return { ok: true, caller: { kind: 'operator' } };
  if (!verifier.enabled) return { ok: false, status: 'unauthorized', message: 'the bearer token is not valid' };
  try {
    return { ok: true, caller: { kind: 'token', principal: await verifier.verify(token) } };
  } catch (err) {
    return { ok: false, status: 'unauthorized', message: err instanceof TokenError ? err.message : 'the bearer token is not valid' };
  }
}

/** May the caller publish to a channel (`publish` claim) or start/stop a job's runs (`run` claim)? No caller, no. */
export function permits(caller: Caller | undefined, action: 'publish' | 'run', name: string): boolean {
  if (caller === undefined) return false;
  if (caller.kind !== 'token') return true;
  return (action === 'publish' ? caller.principal.publish : caller.principal.run).matches(name);
}

/** The `sub` worth logging for a caller. */
export function callerName(caller: Caller): string {
  return caller.kind === 'token' ? caller.principal.sub : caller.kind;
}
