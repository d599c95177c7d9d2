import type { IncomingHttpHeaders } from 'node:http';
import { isSameOrigin } from '@megaphone/auth';
import type { OriginPolicy } from '../config.js';

/**
 * Decides whether a browser page may connect (WebSocket upgrade or SSE). Browsers always send
 * `Origin` on WebSocket handshakes and cross-origin requests; a request without one is not from a
 * page (a CLI, a service) and cross-site attacks cannot forge its absence, so it is allowed.
 * Same-origin compares scheme, host and port exactly: `https://gw` is not the same origin as
 * `http://gw`, and the `Host` itself has already been checked against GATEWAY_ALLOWED_HOSTS.
 */
export function originAllowed(policy: OriginPolicy, headers: IncomingHttpHeaders, scheme: 'http' | 'https'): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  switch (policy.kind) {
    case 'any':
      return true;
    case 'list':
      return policy.origins.includes(origin.toLowerCase());
    case 'same-origin':
      return isSameOrigin(origin, scheme, headers.host);
  }
}
