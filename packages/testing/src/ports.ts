import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { randomInt } from 'node:crypto';

export const HOST = '127.0.0.1';

/** True when `port` can be bound on `host` right now. */
export function portIsFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The kernel's ephemeral range: the local ports it hands to outgoing connections and to bind(:0). */
function ephemeralRange(): [number, number] {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (lo !== undefined && hi !== undefined && Number.isInteger(lo) && Number.isInteger(hi) && lo < hi) return [lo, hi];
  } catch {
    // not Linux: use Linux's default
  }
  return [32768, 60999];
}

const LOWEST = 10_000;

/**
 * A port that was free a moment ago and lies outside the ephemeral range, never 6379. A port from
 * bind(:0) is ephemeral: between our close and the service's bind, any outgoing connection on the
 * machine (a parallel test's thousand WebSocket clients) may take it as its local port, and the
 * service dies with EADDRINUSE. Ports below the ephemeral range are only ever taken by a listener.
 * With `clusterBus`, port + 10000 (Redis Cluster's bus port) is free and outside the range too.
 */
export async function freePort(opts: { clusterBus?: boolean } = {}): Promise<number> {
  const [lo, hi] = ephemeralRange();
  const candidates: Array<[number, number]> = [];
  // Below the ephemeral range, and above it where there is room.
  if (lo - 1 > LOWEST) candidates.push([LOWEST, lo - 1]);
  if (hi + 1 < 65535) candidates.push([hi + 1, 65535]);
  const bus = opts.clusterBus === true;
  const fits = (p: number): boolean =>
    p !== 6379 && p !== 16379 && (!bus || (p + 10_000 <= 65535 && (p + 10_000 < lo || p + 10_000 > hi)));
  for (let attempt = 0; attempt < 500; attempt++) {
    const [a, b] = candidates.length > 0 ? candidates[randomInt(candidates.length)]! : [1024, 65535];
    const port = randomInt(a, b + 1);
    if (!fits(port)) continue;
    if (!(await portIsFree(port))) continue;
    if (bus && !(await portIsFree(port + 10_000))) continue;
    return port;
  }
  throw new Error('no free port found outside the ephemeral range');
}
