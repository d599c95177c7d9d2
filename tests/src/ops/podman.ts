import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { waitFor } from './net.js';
import { ROOT } from './paths.js';

const execFileP = promisify(execFile);

/**
 * `podman system service` on a private socket, serving the Docker API to docker-compose
 * (/work/shared/CONTAINERS.md). Stopped by pid; the shared podman storage is left alone.
 */
export interface PodmanService {
  dockerHost: string;
  stop(): Promise<void>;
}

export async function startPodmanService(): Promise<PodmanService> {
  const socket = `/run/podman/megaphone-test-${process.pid}.sock`;
  await execFileP('mkdir', ['-p', '/run/podman']);
  rmSync(socket, { force: true });
  const child: ChildProcess = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const dockerHost = `unix://${socket}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(t);
    }
    rmSync(socket, { force: true });
  };
  try {
    await waitFor('the podman API socket', async () => {
      if (child.exitCode !== null) throw new Error(`podman system service exited with ${child.exitCode}`);
      if (!existsSync(socket)) return false;
      await execFileP('docker', ['version'], { env: { ...process.env, DOCKER_HOST: dockerHost }, timeout: 10_000 });
      return true;
    }, { timeoutMs: 30_000, intervalMs: 250 });
  } catch (err) {
    await stop();
    throw err;
  }
  return { dockerHost, stop };
}

export interface ComposeRunner {
  project: string;
  env: NodeJS.ProcessEnv;
  /** docker-compose with this project and environment; rejects with its output on failure. */
  run(args: string[], timeoutMs?: number): Promise<string>;
  /** Runs podman's healthchecks every couple of seconds (nothing schedules them without systemd). */
  startHealthPump(): () => Promise<void>;
}

export function composeRunner(project: string, dockerHost: string, extraEnv: Record<string, string>, log: (line: string) => void = () => {}): ComposeRunner {
  const env: NodeJS.ProcessEnv = { ...process.env, DOCKER_HOST: dockerHost, COMPOSE_PROJECT_NAME: project, ...extraEnv };
  const run = (args: string[], timeoutMs = 600_000): Promise<string> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const child = spawn('docker-compose', ['-p', project, ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        log(`docker-compose ${args.join(' ')}: ${code ?? signal} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
        if (code === 0) resolve(out);
        else reject(new Error(`docker-compose ${args.join(' ')} failed (${code ?? signal}):\n${out.slice(-6000)}`));
      });
    });
  const startHealthPump = (): (() => Promise<void>) => {
    let stopped = false;
    let current: Promise<void> = Promise.resolve();
    const tick = async (): Promise<void> => {
      try {
        const { stdout } = await execFileP('podman', ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}} {{.Status}}'], { timeout: 10_000 });
        const ids = stdout.split('\n').filter((l) => /\((unhealthy|starting)\)/.test(l)).map((l) => l.split(' ')[0]!);
        await Promise.all(ids.map((id) => execFileP('podman', ['healthcheck', 'run', id], { timeout: 10_000 }).catch(() => undefined)));
      } catch {
        // podman busy or the project is going away: try again next tick
      }
    };
    const loop = async (): Promise<void> => {
      while (!stopped) {
        current = tick();
        await current;
        await new Promise((r) => setTimeout(r, 2000));
      }
    };
    void loop();
    return async () => {
      stopped = true;
      await current;
    };
  };
  return { project, env, run, startHealthPump };
}
