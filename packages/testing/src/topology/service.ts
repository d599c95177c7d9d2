import { Child, type SpawnFn } from './child.js';
import { waitFor, WaitAborted } from '../wait.js';

/** How a service finds Redis: exactly the env a deployment would set. */
export type RedisEnv = { REDIS_URL: string } | { REDIS_SENTINELS: string; REDIS_SENTINEL_NAME: string } | { REDIS_CLUSTER_NODES: string };

/** The HTTP status of a GET, 0 when nothing answered. */
export async function httpStatus(url: string, timeoutMs = 2000): Promise<number> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return 0;
  }
}

export interface ServiceProcessOptions {
  /** node's arguments: flags, then the service's bin. */
  args: readonly string[];
  port: number;
  adminPort: number;
  /** The whole environment besides PATH and HOME: nothing leaks in from the caller's. */
  env: Record<string, string>;
  cwd?: string;
  spawn?: SpawnFn;
  /** Every output line as it comes. */
  onLine?: (line: string) => void;
}

/** A gateway or producer running as its own process, as `npm run gateway|producer` would. */
export class ServiceProcess {
  private child: Child | undefined;

  constructor(
    readonly name: string,
    private readonly opts: ServiceProcessOptions,
  ) {}

  get port(): number {
    return this.opts.port;
  }

  get adminPort(): number {
    return this.opts.adminPort;
  }

  get pid(): number {
    if (!this.child) throw new Error(`${this.name} is not running`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child?.running ?? false;
  }

  /** The exit of the current process (undefined before `spawn()`). */
  get exited(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined {
    return this.child?.exited;
  }

  get adminUrl(): string {
    return `http://127.0.0.1:${this.opts.adminPort}`;
  }

  get httpUrl(): string {
    return `http://127.0.0.1:${this.opts.port}`;
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${this.opts.port}/ws`;
  }

  tail(n = 30): string {
    return `--- ${this.name} (last output) ---\n${this.child?.tail(n) ?? '(not started)'}`;
  }

  /** Spawns the process (again, after a stop: same ports, same environment). */
  spawn(): void {
    this.child = new Child(this.name, process.execPath, this.opts.args, {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(process.env.HOME !== undefined ? { HOME: process.env.HOME } : {}), ...this.opts.env },
      ...(this.opts.cwd !== undefined ? { cwd: this.opts.cwd } : {}),
      ...(this.opts.spawn !== undefined ? { spawn: this.opts.spawn } : {}),
      ...(this.opts.onLine !== undefined ? { onLine: this.opts.onLine } : {}),
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
      if (this.child && !this.child.running) throw new WaitAborted(`${this.name} exited`);
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

  /** SIGTERM (a gateway drains), then SIGKILL after `graceMs`. */
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
