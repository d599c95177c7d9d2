import type { IncomingMessage } from 'node:http';
import { hostAllowed, isSameOrigin, type HostPolicy } from '@megaphone/auth';
import { HttpError } from './http-util.js';

/** Requests with side effects; a browser sends them cross-site only after a preflight we refuse, except POST. */
export const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

function isJsonType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * What every request to the API passes before routing (SPEC §10 "Host and Origin"): its `Host`
 * is one this producer serves (DNS rebinding), a browser `Origin` is the producer's own (no web
 * page elsewhere may drive the API: there is no CORS allowance), and a POST says
 * `application/json` — the one content type a cross-site form or `no-cors` fetch cannot send
 * without a preflight, so a page cannot start a job or forge a publication even from a loopback
 * browser. Both schemes count as the producer's own: it has no trusted-proxy setting to learn
 * the scheme a TLS-terminating proxy in front of it was reached with, and no other page can be
 * served from its own host and port.
 */
export function guardRequest(req: IncomingMessage, hosts: HostPolicy): void {
  if (!hostAllowed(hosts, req.headers.host)) throw new HttpError('forbidden', 'this producer does not serve that host name (PRODUCER_ALLOWED_HOSTS)');
  const origin = req.headers.origin;
  if (origin !== undefined && !isSameOrigin(origin, 'http', req.headers.host) && !isSameOrigin(origin, 'https', req.headers.host)) {
    throw new HttpError('forbidden', 'cross-origin requests are not accepted by the producer API');
  }
  if (req.method === 'POST' && !isJsonType(req.headers['content-type'])) {
    throw new HttpError('unsupported_media_type', 'POST requests must be Content-Type: application/json');
  }
}
