import { fileURLToPath } from 'node:url';
import { Child } from './child.js';
import { freePort, sleep, waitFor } from './wait.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
export const GATEWAY_MAIN = `${root}services/gateway/dist/src/main.js`;
export const PRODUCER_MAIN = `${root}services/producer/dist/src/main.js`;

/** How a service finds Redis: exactly the env a deployment would set. */
export type RedisEnv = { REDIS_URL: string } | { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string } | { REDIS_CLUSTER_NODES: string };

export async function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

/** A gateway or producer running as its own process, as `npm run gateway|producer` would. */
export class ServiceProcess {
  private child: Child | undefined;

  constructor(
    readonly name: string,
    private readonly main: string,
    readonly port: number,
    readonly adminPort: number,
    private readonly env: Record<string, string>,
  ) {}

  get pid(): number {
    if (!this.child) throw new Error(`${this.name} is not running`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  tail(n = 30): string {
    return `--- ${this.name} (last output) ---\n${this.child?.tail(n) ?? '(not started)'}`;
  }

  /** Spawns the process (a clean environment: nothing leaks in from the test runner's). */
  spawn(): void {
    this.child = new Child(this.name, process.execPath, [this.main], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...this.env },
      tailLines: 200,
    });
  }

  /** Sum of a metric's series on `/metrics` whose labels include `labels` (e.g. `outcome="filled"`); 0 if absent. */
  async metric(name: string, labels = ''): Promise<number> {
    const res = await fetch(`${this.adminUrl}/metrics`, { signal: AbortSignal.timeout(3000) });
    let sum = 0;
    for (const line of (await res.text()).split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async readyz(): Promise<number> {
    return httpStatus(`${this.adminUrl}/readyz`);
  }

  async waitReady(timeoutMs = 20_000): Promise<void> {
    await waitFor(`${this.name} /readyz 200`, async () => {
      if (this.child && !this.child.running) throw new Error(`${this.name} exited\n${this.tail()}`);
      return (await this.readyz()) === 200;
    }, { timeoutMs, intervalMs: 100 }).catch((err: Error) => {
      throw new Error(`${err.message}\n${this.tail()}`);
    });
  }

  /** Started and ready. */
  async start(timeoutMs?: number): Promise<this> {
    this.spawn();
    await this.waitReady(timeoutMs);
    return this;
  }

  async stop(graceMs = 5000): Promise<void> {
    await this.child?.stop(graceMs);
  }

  /** `kill -9`: no drain, no goodbye; its clients see their sockets die. */
  async kill9(): Promise<void> {
    await this.child?.kill9();
  }

  signal(sig: NodeJS.Signals): void {
    this.child?.signal(sig);
  }

  async waitExit(timeoutMs: number): Promise<boolean> {
    return this.child ? this.child.waitExit(timeoutMs) : true;
  }
}

const common = (name: string, redis: RedisEnv, extra: Record<string, string>) => ({
  NODE_NAME: name,
  LOG_LEVEL: 'warn',
  ...redis,
  ...extra,
});

/** Ports of a service; by default free ephemeral ones. */
export type PortPicker = () => Promise<number>;

export async function gatewayProcess(name: string, redis: RedisEnv, extra: Record<string, string> = {}, pickPort: PortPicker = freePort): Promise<ServiceProcess> {
  const port = await pickPort();
  const adminPort = await pickPort();
  return new ServiceProcess(name, GATEWAY_MAIN, port, adminPort, common(name, redis, {
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(port),
    GATEWAY_ADMIN_HOST: '127.0.0.1',
    GATEWAY_ADMIN_PORT: String(adminPort),
    GATEWAY_ALLOWED_ORIGINS: '*',
    GATEWAY_DRAIN_MS: '500',
    ...extra,
  }));
}

export const API_TOKEN = 'cluster-test-token';

export async function producerProcess(name: string, redis: RedisEnv, jobsFile: string, extra: Record<string, string> = {}, pickPort: PortPicker = freePort): Promise<ServiceProcess> {
  const port = await pickPort();
  const adminPort = await pickPort();
  return new ServiceProcess(name, PRODUCER_MAIN, port, adminPort, common(name, redis, {
    PRODUCER_HOST: '127.0.0.1',
    PRODUCER_PORT: String(port),
    PRODUCER_ADMIN_HOST: '127.0.0.1',
    PRODUCER_ADMIN_PORT: String(adminPort),
    PRODUCER_JOBS_FILE: jobsFile,
    PRODUCER_API_TOKEN: API_TOKEN,
    ...extra,
  }));
}

/** Starts services in parallel (the machine has 2 cores; startup is mostly waiting on I/O). */
export async function startAll(services: readonly ServiceProcess[]): Promise<void> {
  for (const s of services) s.spawn();
  await Promise.all(services.map((s) => s.waitReady()));
}

export async function stopAll(services: readonly (ServiceProcess | undefined)[]): Promise<void> {
  await Promise.all(services.map((s) => s?.stop()));
  await sleep(0);
}
