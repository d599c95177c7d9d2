import { existsSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import { httpStatus } from './service.js';

export interface BalancedGateway {
  name: string;
  port: number;
  adminPort: number;
}

/** The first executable called `name` on PATH, or undefined. */
export function which(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, name);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** True when something accepts TCP connections on `port`. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, host);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** haproxy configuration for local gateways: the compose one (deploy/haproxy) with local addresses. */
export function haproxyConfig(opts: { port: number; statsPort: number; gateways: readonly BalancedGateway[] }): string {
  return [
    'global',
    '  log stdout format raw local0 warning',
    'defaults',
    '  mode http',
    '  log global',
    '  timeout connect 5s',
    '  timeout http-request 10s',
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    'frontend megaphone',
    `  bind 127.0.0.1:${opts.port}`,
    '  option forwardfor',
    '  default_backend gateways',
    'backend gateways',
    '  balance leastconn',
    '  option httpchk',
    '  http-check send meth GET uri /readyz',
    '  http-check expect status 200',
    ...opts.gateways.map((g) => `  server ${g.name} 127.0.0.1:${g.port} check port ${g.adminPort} inter 500ms fall 2 rise 2`),
    'frontend stats',
    `  bind 127.0.0.1:${opts.statsPort}`,
    '  monitor-uri /healthz',
    '  stats enable',
    '  stats uri /stats',
    '',
  ].join('\n');
}

export interface NodeBalancer {
  port: number;
  stop(): Promise<void>;
}

/**
 * TCP round-robin over the gateways that answer /readyz (checked every 500 ms): what `npm run
 * cluster` uses without haproxy. Enough for WebSocket and SSE: it never looks inside the stream.
 */
export async function startNodeBalancer(opts: { port: number; gateways: readonly BalancedGateway[]; host?: string }): Promise<NodeBalancer> {
  const ready = new Set(opts.gateways.map((g) => g.name));
  let next = 0;
  const sockets = new Set<Socket>();
  const timer = setInterval(() => {
    for (const g of opts.gateways) {
      void httpStatus(`http://127.0.0.1:${g.adminPort}/readyz`).then((s) => (s === 200 ? ready.add(g.name) : ready.delete(g.name)));
    }
  }, 500);
  const server = createServer((client) => {
    const candidates = opts.gateways.filter((g) => ready.has(g.name));
    const target = candidates[next++ % Math.max(1, candidates.length)];
    if (!target) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const done = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done).on('close', done);
    upstream.on('error', done).on('close', done);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host ?? '127.0.0.1', resolve);
  });
  return {
    port: (server.address() as AddressInfo).port,
    stop: () =>
      new Promise((resolve) => {
        clearInterval(timer);
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
