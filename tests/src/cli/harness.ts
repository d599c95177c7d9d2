import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Child, freePort, httpStatus, waitFor } from '@megaphone/testing';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
/** The command as `npx megaphone` runs it: the workspace's bin. */
export const MEGAPHONE_BIN = `${root}packages/cli/bin/megaphone.js`;
export const STANDALONE_MAIN = `${root}services/standalone/dist/src/main.js`;
export const ROOT = root;

/** A clean environment for children: nothing leaks in from the test runner's (no NO_COLOR, no MEGAPHONE_*). */
export function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...extra };
}

/**
 * `npm start` as its own process (producer and gateway, embedded bus) on free ports, with a jobs
 * file of the test's own. Restartable on the same ports: its clients see their gateway go away.
 */
export class Standalone {
  private child: Child | undefined;

  private constructor(
    private readonly dir: string,
    readonly ports: { gateway: number; gatewayAdmin: number; producer: number; producerAdmin: number },
    private readonly env: Record<string, string>,
  ) {}

  static async start(jobsYaml: string, env: Record<string, string> = {}): Promise<Standalone> {
    const dir = await mkdtemp(join(tmpdir(), 'megaphone-cli-'));
    await writeFile(join(dir, 'jobs.yaml'), jobsYaml);
    const ports = { gateway: await freePort(), gatewayAdmin: await freePort(), producer: await freePort(), producerAdmin: await freePort() };
    const s = new Standalone(dir, ports, {
      LOG_LEVEL: 'warn',
      GATEWAY_HOST: '127.0.0.1',
      GATEWAY_PORT: String(ports.gateway),
      GATEWAY_ADMIN_HOST: '127.0.0.1',
      GATEWAY_ADMIN_PORT: String(ports.gatewayAdmin),
      GATEWAY_DRAIN_MS: '0',
      PRODUCER_HOST: '127.0.0.1',
      PRODUCER_PORT: String(ports.producer),
      PRODUCER_ADMIN_HOST: '127.0.0.1',
      PRODUCER_ADMIN_PORT: String(ports.producerAdmin),
      PRODUCER_JOBS_FILE: join(dir, 'jobs.yaml'),
      PRODUCER_KILL_GRACE_MS: '500',
      ...env,
    });
    await s.startProcess();
    return s;
  }

  /** What the CLI is pointed at (the same variables a user would export). */
  get cliEnv(): Record<string, string> {
    return {
      MEGAPHONE_GATEWAY: `ws://127.0.0.1:${this.ports.gateway}/ws`,
      MEGAPHONE_API: `http://127.0.0.1:${this.ports.producer}`,
      MEGAPHONE_ADMIN: `http://127.0.0.1:${this.ports.gatewayAdmin}`,
    };
  }

  get api(): string {
    return `http://127.0.0.1:${this.ports.producer}`;
  }

  tail(): string {
    return this.child?.tail() ?? '';
  }

  async startProcess(): Promise<void> {
    this.child = new Child('standalone', process.execPath, [STANDALONE_MAIN], { env: baseEnv(this.env), tailLines: 100 });
    await waitFor('the standalone service ready', async () => {
      if (this.child !== undefined && !this.child.running) throw new Error(`standalone exited:\n${this.child.tail()}`);
      return (await httpStatus(`http://127.0.0.1:${this.ports.gatewayAdmin}/readyz`)) === 200 && (await httpStatus(`http://127.0.0.1:${this.ports.producerAdmin}/readyz`)) === 200;
    }, { timeoutMs: 30_000, intervalMs: 100 });
  }

  async stopProcess(): Promise<void> {
    await this.child?.stop(5000);
  }

  async close(): Promise<void> {
    await this.stopProcess();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** POST /v1/publish from the test itself. */
  async publish(channel: string, data: unknown): Promise<{ channel: string; epoch: string; offset: number }> {
    const res = await fetch(`${this.api}/v1/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel, data }) });
    if (res.status !== 200) throw new Error(`publish: ${res.status} ${await res.text()}`);
    return (await res.json()) as { channel: string; epoch: string; offset: number };
  }
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI to its end, with `input` on stdin; fails the test if it outlives `timeoutMs`. */
export async function runCli(args: readonly string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<CliResult> {
  const p = spawnCli(args, opts.env ?? {});
  p.proc.stdin?.end(opts.input ?? '');
  return p.result(opts.timeoutMs ?? 30_000);
}

export interface CliProcess {
  proc: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** Resolves with the lines of stdout once `check` accepts them. */
  waitStdout(check: (lines: string[]) => boolean, what: string, timeoutMs?: number): Promise<string[]>;
  result(timeoutMs: number): Promise<CliResult>;
}

/** CLI processes still running; killed when the test process exits, even after a failed assertion. */
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const p of running) p.kill('SIGKILL');
});

/** Starts the built CLI with piped stdio; the test reads as it goes. */
export function spawnCli(args: readonly string[], env: Record<string, string>): CliProcess {
  const proc = spawn(process.execPath, [MEGAPHONE_BIN, ...args], { env: baseEnv(env), stdio: ['pipe', 'pipe', 'pipe'] });
  running.add(proc);
  proc.on('exit', () => running.delete(proc));
  let out = '';
  let err = '';
  proc.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<CliResult>((resolve) => {
    proc.on('close', (code, signal) => resolve({ code, signal, stdout: out, stderr: err }));
  });
  const lines = () => out.split('\n').filter((l) => l.length > 0);
  return {
    proc,
    stdout: () => out,
    stderr: () => err,
    waitStdout: (check, what, timeoutMs = 20_000) =>
      waitFor(what, () => {
        if (proc.exitCode !== null) throw new Error(`the CLI exited (${proc.exitCode}); stderr: ${err}`);
        return check(lines()) ? lines() : undefined;
      }, { timeoutMs, intervalMs: 25 }).catch((e: Error) => {
        throw new Error(`${e.message}\nstdout: ${out}\nstderr: ${err}`);
      }),
    result: async (timeoutMs) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`megaphone ${args.join(' ')} did not exit within ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
