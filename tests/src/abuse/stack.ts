import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child } from '@megaphone/testing';
import { freePort, waitFor } from '../cluster/wait.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
// The standalone service's bin (its package.json `bin`), as `npm start` runs it.
const STANDALONE_MAIN = `${root}services/standalone/bin/megaphone-standalone.js`;
export const ABUSE_TOKEN = 'abuse-test-token';

export interface StackOptions {
  /** Extra environment (REDIS_URL, GATEWAY_*, …). */
  env?: Record<string, string>;
  /** Jobs file contents (YAML); the default has one quick job `echo`. */
  jobs?: string;
  /** Run under `ulimit -n` with this many open files. */
  fileLimit?: number;
}

/**
 * `npm start` as a child process on free loopback ports: producer and gateway in one process, as
 * a hostile client would meet it. Everything a test measures (RSS, metrics) is this process's.
 */
export class Stack {
  private constructor(
    readonly child: Child,
    readonly port: number,
    readonly adminPort: number,
    readonly apiPort: number,
    readonly apiAdminPort: number,
  ) {}

  static async start(opts: StackOptions = {}): Promise<Stack> {
    const [port, adminPort, apiPort, apiAdminPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const dir = mkdtempSync(join(tmpdir(), 'abuse-'));
    const jobsFile = join(dir, 'jobs.yaml');
    writeFileSync(jobsFile, opts.jobs ?? 'jobs:\n  - name: echo\n    command: ["echo", "hello"]\n');
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      NODE_NAME: 'abuse',
      LOG_LEVEL: 'warn',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(port),
      GATEWAY_ADMIN_HOST: '127.0.0.1',
      GATEWAY_ADMIN_PORT: String(adminPort),
      GATEWAY_ALLOWED_ORIGINS: '*',
      // Every abusive client here comes from loopback, by the hundreds: the per-address limits
      // (tested on their own) would refuse them before the limits under test are reached.
      GATEWAY_MAX_CONNECTIONS_PER_IP: '10000000',
      GATEWAY_CONNECTS_PER_IP_PER_SECOND: '100000',
      PRODUCER_HOST: '127.0.0.1',
      PRODUCER_PORT: String(apiPort),
      PRODUCER_ADMIN_HOST: '127.0.0.1',
      PRODUCER_ADMIN_PORT: String(apiAdminPort),
      PRODUCER_JOBS_FILE: jobsFile,
      PRODUCER_API_TOKEN: ABUSE_TOKEN,
      ...opts.env,
    };
    const child =
      opts.fileLimit === undefined
        ? new Child('standalone', process.execPath, [STANDALONE_MAIN], { env, tailLines: 200 })
        : new Child('standalone', '/bin/sh', ['-c', `ulimit -n ${opts.fileLimit} && exec "$0" "$1"`, process.execPath, STANDALONE_MAIN], { env, tailLines: 200 });
    const stack = new Stack(child, port, adminPort, apiPort, apiAdminPort);
    await waitFor('the stack to be ready', async () => {
      if (!child.running) throw new Error(`exited:\n${child.tail()}`);
      return (await stack.status(`${stack.admin}/readyz`)) === 200;
    }, { timeoutMs: 20_000, intervalMs: 100 });
    return stack;
  }

  get ws(): string {
    return `ws://127.0.0.1:${this.port}/ws`;
  }
  get admin(): string {
    return `http://127.0.0.1:${this.adminPort}`;
  }
  get api(): string {
    return `http://127.0.0.1:${this.apiPort}`;
  }

  /** Resident set size of the process, bytes (from /proc). */
  rss(): number {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.child.pid}/status`, 'utf8'))?.[1];
    return Number(kb) * 1024;
  }

  /** Open file descriptors of the process. */
  openFiles(): number {
    return readdirCount(`/proc/${this.child.pid}/fd`);
  }

  async status(url: string, init: RequestInit = {}): Promise<number> {
    try {
      const res = await fetch(url, { ...init, signal: AbortSignal.timeout(3000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return 0;
    }
  }

  /** Sum of a metric's series whose labels include `labels`; 0 when absent. */
  async metric(name: string, labels = ''): Promise<number> {
    const text = await this.metricsText();
    let sum = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
      if (labels && !line.includes(labels)) continue;
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return sum;
  }

  async metricsText(): Promise<string> {
    const res = await fetch(`${this.admin}/metrics`, { signal: AbortSignal.timeout(3000) });
    return res.text();
  }

  /** POST /v1/publish with the operator token; the JSON reply. */
  async publish(body: unknown): Promise<{ status: number; body: unknown }> {
    const res = await fetch(`${this.api}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ABUSE_TOKEN}` },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  tail(n = 40): string {
    return this.child.tail(n);
  }

  async stop(): Promise<void> {
    await this.child.stop(3000);
  }
}

function readdirCount(dir: string): number {
  try {
    return readdirSync(dir).length;
  } catch {
    return -1;
  }
}
