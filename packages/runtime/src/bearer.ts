import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export type BearerCheck = { ok: true } | { ok: false; code: 'unauthorized' | 'forbidden'; message: string };

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Compares in time independent of where the strings differ (and of their lengths: both are hashed first). */
export function secretMatches(given: string, expected: string): boolean {
  return timingSafeEqual(digest(given), digest(expected));
}

export function isLoopbackAddress(address: string | undefined): boolean {
  if (address === undefined) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/**
 * A static operator token: `Authorization: Bearer <token>` when one is configured (`name` is the
 * setting, for the message); with none, loopback callers only. The token never appears in a reply.
 */
export function checkBearer(req: IncomingMessage, token: string | undefined, name: string): BearerCheck {
  if (token === undefined) {
    if (isLoopbackAddress(req.socket.remoteAddress)) return { ok: true };
    return { ok: false, code: 'forbidden', message: `no ${name} is configured, so this is answered for loopback clients only` };
  }
  const header = req.headers.authorization;
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
  if (m === null) return { ok: false, code: 'unauthorized', message: 'send Authorization: Bearer <token>' };
  if (!secretMatches(m[1]!, token)) return { ok: false, code: 'unauthorized', message: 'the bearer token is not valid' };
  return { ok: true };
}
