import { createServer } from 'node:net';

export const HOST = '127.0.0.1';

/** True when `port` can be bound on `host` right now. */
export function portIsFree(port: number, host = HOST): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/**
 * A port that was free a moment ago (bind :0, read it, close; never 6379). With `clusterBus`,
 * port + 10000 is free too (Redis Cluster's bus port), so the result stays at or below 55535.
 * Prefer binding port 0 directly where the server allows it.
 */
export async function freePort(opts: { clusterBus?: boolean } = {}): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen(0, HOST, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr !== null ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    if (port === 6379 || port === 0) continue;
    if (opts.clusterBus) {
      if (port > 55535 || port === 6379 - 10000) continue;
      if (!(await portIsFree(port + 10000))) continue;
    }
    return port;
  }
  throw new Error('no free port found');
}
