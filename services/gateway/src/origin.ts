import type { IncomingHttpHeaders } from 'node:http';
import type { OriginPolicy } from './config.js';

/**
 * Decides whether a browser page may connect (WebSocket upgrade or SSE). Browsers always send
 * `Origin` on WebSocket handshakes and cross-origin requests; a request without one is not from a
 * page (a CLI, a service) and cross-site attacks cannot forge its absence, so it is allowed.
 */
export function originAllowed(policy: OriginPolicy, headers: IncomingHttpHeaders): boolean {
  const origin = headers.origin;
  if (origin === undefined) return true;
  switch (policy.kind) {
    case 'any':
      return true;
    case 'list':
      return policy.origins.includes(origin.toLowerCase());
    case 'same-origin': {
      const host = headers.host;
      if (host === undefined) return false;
      let originHost: string;
      try {
        originHost = new URL(origin).host;
      } catch {
        return false;
      }
      return originHost === host.toLowerCase();
    }
  }
}
