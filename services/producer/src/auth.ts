import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type AuthResult = { ok: true } | { ok: false; status: 'unauthorized' | 'forbidden'; message: string };

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

/**
 * The rule for mutating requests (SPEC §5): `Authorization: Bearer <PRODUCER_API_TOKEN>` when a
 * token is configured; with no token, loopback callers only.
 */
export function authorize(req: IncomingMessage, apiToken: string | undefined): AuthResult {
  if (apiToken === undefined) {
    if (isLoopback(req.socket.remoteAddress)) return { ok: true };
    return { ok: false, status: 'forbidden', message: 'no PRODUCER_API_TOKEN is configured, so mutating requests are accepted from loopback only' };
  }
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) return { ok: false, status: 'unauthorized', message: 'send Authorization: Bearer <token>' };
  if (!tokenMatches(m[1]!, apiToken)) return { ok: false, status: 'unauthorized', message: 'the bearer token is not valid' };
  return { ok: true };
}
