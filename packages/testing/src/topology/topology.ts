import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../ports.js';
import { RedisServer } from '../redis/process.js';
import { waitFor } from '../wait.js';
import { haproxyConfig, startNodeBalancer, tcpOpen, which, type NodeBalancer } from './balancer.js';
import { Child, type SpawnFn } from './child.js';
import { ServiceProcess, type RedisEnv } from './service.js';

/**
 * Where the services' commands are: `GATEWAY_BIN` and `GATEWAY_NODE_FLAGS` of `@megaphone/gateway`,
 * `PRODUCER_BIN` of `@megaphone/producer`. Passed in rather than imported, so that this workspace
 * depends on none of ours and the services' own tests can use it.
 */
export interface ServiceBins {
  gatewayBin: string;
  gatewayNodeFlags: readonly string[];
  producerBin: string;
}

export type Role = 'gateway' | 'producer';

export interface TopologyOptions {
  bins: ServiceBins;
  /** Redis for every service; by default a fresh redis-server started here and stopped by `stop()`. */
  redis?: RedisEnv;
  /** Redis as seen by gateway i (e.g. through a fault proxy); default `redis`. */
  gatewayRedis?: (i: number) => RedisEnv;
  /** Number of gateways (default 3) and producers (default 1; SPEC §12 allows any number). */
  gateways?: number;
  producers?: number;
  gatewayName?: (i: number) => string;
  producerName?: (i: number) => string;
  /** Environment of every service, then of each role (after the defaults: loopback, free ports). */
  env?: Record<string, string>;
  gatewayEnv?: Record<string, string>;
  producerEnv?: Record<string, string>;
  /** Extra node flags per role (after the gateway's own GATEWAY_NODE_FLAGS), e.g. `--cpu-prof`. */
  nodeFlags?: Partial<Record<Role, readonly string[]>>;
  /** How to start a service process (the bench pins each role to a core). */
  spawn?: (role: Role) => SpawnFn | undefined;
  cwd?: string;
  /** A load balancer in front of the gateways: none (default), haproxy, a Node TCP balancer, or haproxy when on PATH. */
  balancer?: 'none' | 'auto' | 'haproxy' | 'node';
  /** The balancer's port (default 0: a free one). */
  port?: number;
  /** Every output line of every process, with the process's name. */
  onLine?: (name: string, line: string) => void;
  startTimeoutMs?: number;
  /** Each service's ports (default freePort: ephemeral ones; a soak that restarts services on their ports picks stabler ones). */
  pickPort?: () => Promise<number>;
}

export interface BalancerInfo {
  kind: 'haproxy' | 'node';
  port: number;
  url: string;
  wsUrl: string;
  statsUrl?: string;
}

export interface Topology {
  /** The Redis the services use; `server` when this launcher started it. */
  redis: { env: RedisEnv; server?: RedisServer };
  producers: readonly ServiceProcess[];
  gateways: readonly ServiceProcess[];
  balancer?: BalancerInfo;
  /** Every service's recent output, for a failing assertion's message. */
  tails(n?: number): string;
  /** Gateways drain and producers stop (in parallel), then the balancer and the Redis this started. */
  stop(): Promise<void>;
}

/**
 * The local topology as processes: Redis, N producers, M gateways (each from its `bin`, with the
 * gateway's V8 flags) and optionally a load balancer; resolves when every service answers /readyz
 * 200. What the cross-service tests, the bench and `npm run cluster` start.
 */
export async function startTopology(opts: TopologyOptions): Promise<Topology> {
  const started: Array<{ stop(): Promise<void> }> = [];
  let server: RedisServer | undefined;
  let redis = opts.redis;
  const stopAll = async (services: readonly ServiceProcess[]): Promise<void> => {
    await Promise.all(services.map((s) => s.stop(10_000)));
    for (const s of started.reverse()) await s.stop();
    await server?.stop();
  };
  const services: ServiceProcess[] = [];
  try {
    if (redis === undefined) {
      server = await RedisServer.start();
      redis = { REDIS_URL: server.url };
    }
    const service = async (role: Role, i: number): Promise<ServiceProcess> => {
      const pick = opts.pickPort ?? freePort;
      const [port, adminPort] = [await pick(), await pick()];
      const upper = role.toUpperCase();
      const name = role === 'gateway' ? (opts.gatewayName?.(i) ?? `gateway-${i + 1}`) : (opts.producerName?.(i) ?? `producer-${i + 1}`);
      const flags = role === 'gateway' ? [...opts.bins.gatewayNodeFlags, ...(opts.nodeFlags?.gateway ?? [])] : [...(opts.nodeFlags?.producer ?? [])];
      const bin = role === 'gateway' ? opts.bins.gatewayBin : opts.bins.producerBin;
      const spawn = opts.spawn?.(role);
      const onLine = opts.onLine;
      return new ServiceProcess(name, {
        args: [...flags, bin],
        port,
        adminPort,
        env: {
          NODE_NAME: name,
          ...(role === 'gateway' ? (opts.gatewayRedis?.(i) ?? redis!) : redis!),
          [`${upper}_HOST`]: '127.0.0.1',
          [`${upper}_PORT`]: String(port),
          [`${upper}_ADMIN_HOST`]: '127.0.0.1',
          [`${upper}_ADMIN_PORT`]: String(adminPort),
          ...opts.env,
          ...(role === 'gateway' ? opts.gatewayEnv : opts.producerEnv),
        },
        ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
        ...(spawn !== undefined ? { spawn } : {}),
        ...(onLine !== undefined ? { onLine: (line: string) => onLine(name, line) } : {}),
      });
    };
    const producers: ServiceProcess[] = [];
    for (let i = 0; i < (opts.producers ?? 1); i++) producers.push(await service('producer', i));
    const gateways: ServiceProcess[] = [];
    for (let i = 0; i < (opts.gateways ?? 3); i++) gateways.push(await service('gateway', i));
    services.push(...producers, ...gateways);
    // Started together: startup is mostly waiting on I/O.
    for (const s of services) s.spawn();
    await Promise.all(services.map((s) => s.waitReady(opts.startTimeoutMs)));
    const balancer = await startBalancer(opts, gateways, started);
    return {
      redis: { env: redis, ...(server !== undefined ? { server } : {}) },
      producers,
      gateways,
      ...(balancer !== undefined ? { balancer } : {}),
      tails: (n = 15) => services.map((s) => s.tail(n)).join('\n'),
      stop: () => stopAll(services),
    };
  } catch (err) {
    await stopAll(services);
    throw err;
  }
}

async function startBalancer(opts: TopologyOptions, gateways: readonly ServiceProcess[], started: Array<{ stop(): Promise<void> }>): Promise<BalancerInfo | undefined> {
  const kind = opts.balancer ?? 'none';
  if (kind === 'none') return undefined;
  const port = opts.port === undefined || opts.port === 0 ? await freePort() : opts.port;
  const info = (k: 'haproxy' | 'node', p: number, statsUrl?: string): BalancerInfo => ({
    kind: k,
    port: p,
    url: `http://127.0.0.1:${p}`,
    wsUrl: `ws://127.0.0.1:${p}/ws`,
    ...(statsUrl !== undefined ? { statsUrl } : {}),
  });
  const haproxy = kind === 'node' ? undefined : which('haproxy');
  if (kind === 'haproxy' && haproxy === undefined) throw new Error('haproxy is not on PATH');
  const targets = gateways.map((g) => ({ name: g.name, port: g.port, adminPort: g.adminPort }));
  if (haproxy === undefined) {
    const node: NodeBalancer = await startNodeBalancer({ port, gateways: targets });
    started.push(node);
    return info('node', node.port);
  }
  const statsPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'megaphone-haproxy-'));
  started.push({ stop: async () => rmSync(dir, { recursive: true, force: true }) });
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig({ port, statsPort, gateways: targets }));
  const check = spawnSync(haproxy, ['-c', '-q', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy rejected its configuration:\n${check.stdout}${check.stderr}`);
  const onLine = opts.onLine;
  const child = new Child('haproxy', haproxy, ['-W', '-db', '-f', cfg], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    ...(onLine !== undefined ? { onLine: (line: string) => onLine('haproxy', line) } : {}),
  });
  started.push({ stop: () => child.stop(5000) });
  await waitFor(`haproxy on :${port}`, () => tcpOpen(port), { timeoutMs: opts.startTimeoutMs ?? 20_000, intervalMs: 50 });
  return info('haproxy', port, `http://127.0.0.1:${statsPort}/stats`);
}
